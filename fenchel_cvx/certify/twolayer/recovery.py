r"""Networks recovered from solutions of the convex program (upper bounds, judged by the network).

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p. See :mod:`fenchel_cvx.certify.twolayer`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from .program import (
    TwoLayerProblem,
)
from .restricted import (
    RestrictedSolution,
)


# ---------------------------------------------------------------------------------------------
# recovering a network
# ---------------------------------------------------------------------------------------------
def sparsify_units(units, c, A, d, bias, seed=0, tries=8):
    r"""A solution with the same predictions and the same Σ‖v[:d]‖ (hence the same objective) and few units.

    ``units`` is a list of (sign, v) with v ∈ ℝ^p in a closed chamber (output s·(Av)₊, cost ‖v[:d]‖).
    Interior-point solutions spread one neuron over several blocks (adjacent closed chambers share
    their boundary). First parallel units of the same sign are merged ((A(v+v'))₊ = (Av)₊ + (Av')₊ for
    v ∥ v'); then, with directions ν_i = v_i/‖v_i[:d]‖ fixed and q_i = s_i(Aν_i)₊, any vertex of
    {t ≥ 0, c : Σ_i t_i q_i + c1 = current predictions, Σ_i t_i = current Σ t_i} is optimal too and has at
    most m + 1 nonzero t_i (Carathéodory); a few LP vertices (random costs) are tried, the sparsest kept.
    """
    if not units:
        return units, c
    merged = []
    for s, v in units:
        u = v / np.linalg.norm(v)
        for k, (s2, v2) in enumerate(merged):
            if s2 == s and np.linalg.norm(u - v2 / np.linalg.norm(v2)) < 1e-7:
                merged[k] = (s, v2 + v)
                break
        else:
            merged.append((s, v))
    t0 = np.array([np.linalg.norm(v[:d]) for _, v in merged])
    nu = [v / t for (_, v), t in zip(merged, t0, strict=True)]
    Q = np.column_stack([s * np.maximum(A @ v, 0.0) for (s, _), v in zip(merged, nu, strict=True)])  # m x r
    target = Q @ t0 + c
    m, r = Q.shape
    A_eq = np.vstack([np.hstack([Q, np.ones((m, 1))]) if bias else Q,
                      np.hstack([np.ones(r), [0.0]]) if bias else np.ones(r)])
    b_eq = np.append(target, t0.sum())
    bounds = [(0, None)] * r + ([(None, None)] if bias else [])
    rng = np.random.default_rng(seed)
    best = (t0, c)
    for _ in range(tries):
        cost = np.append(rng.uniform(0.5, 1.5, size=r), [0.0] if bias else [])
        res = linprog(cost, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs-ds")
        if res.status != 0:
            continue
        t = np.where(res.x[:r] > 1e-12 * t0.sum(), res.x[:r], 0.0)
        if np.count_nonzero(t) < np.count_nonzero(best[0]):
            best = (t, float(res.x[r]) if bias else 0.0)
    t, c = best
    return [(s, ti * v) for (s, _), v, ti in zip(merged, nu, t, strict=True) if ti > 0], c


def _units_of(problem: TwoLayerProblem, sol: RestrictedSolution, zero_tol: float) -> tuple:
    """(sign, v) units of a restricted solution (blocks with ‖u[:d]‖ > zero_tol·largest, and the linear
    block as a unit active on every sample) and the output bias."""
    d, P = problem.d, sol.U.shape[0] // 2
    norms = np.linalg.norm(sol.U[:, :d], axis=1)
    big = max(float(norms.max(initial=0.0)), float(np.linalg.norm(sol.omega)), 1e-300)
    units = [(1.0 if k < P else -1.0, sol.U[k].copy()) for k in np.flatnonzero(norms > zero_tol * big)]
    c = sol.c
    if problem.bias and np.linalg.norm(sol.omega) > zero_tol * big:
        shift = float(np.min(problem.X0.T @ sol.omega))
        units.append((1.0, np.concatenate([sol.omega, [-shift]])))
        c += shift
    return units, c


def units_to_weights(units, d: int, rho0: float, rho1: float, bias: bool, width: int | None = None) -> tuple:
    r"""The hidden layer and output weights of units (s, v) of the convex program (s = ±1, v ∈ ℝ^p with
    v[:d] ≠ 0): unit i is (w, b) = t·v, a = s/t with t⁴ = ρ_1/(ρ_0‖v[:d]‖²), so that
    ρ_0/2 t²‖v[:d]‖² + ρ_1/(2t²) = β‖v[:d]‖ (AM–GM with equality) and its output is s·(A v)₊.
    Returns ``(W0 (width x d), b0 (width,), a (width,))``, zero units after the r given ones
    (``width`` default max(r, 1))."""
    r = len(units)
    width = max(r, 1) if width is None else width
    W0, b0, a = np.zeros((width, d)), np.zeros(width), np.zeros(width)
    for i, (s, v) in enumerate(units):
        nw = float(np.linalg.norm(v[:d]))
        t = (rho1 / (rho0 * nw * nw)) ** 0.25
        W0[i], a[i] = t * v[:d], s / t
        b0[i] = t * v[d] if bias else 0.0
    return W0, b0, a


def _network_of_units(problem: TwoLayerProblem, units, c):
    W0, b0, a = units_to_weights(units, problem.d, problem.rho0, problem.rho1, problem.bias)
    return W0, b0, a, float(c), problem.judge(W0, b0, a, float(c)), len(units)


#: relative thresholds below which a block counts as zero (barrier solutions keep every block ≠ 0)
ZERO_TOLS = (1e-11, 1e-9, 1e-7, 1e-5, 1e-3)


def recovery_candidates(problem: TwoLayerProblem, sol: RestrictedSolution, sparsify: bool = True,
                        seed: int = 0) -> list:
    r"""Networks of a restricted solution: unit (w, b) = t·v, a = s/t with t⁴ = ρ_1/(ρ_0‖v[:d]‖²)
    (so that ρ_0/2 t²‖v[:d]‖² + ρ_1/(2t²) = β‖v[:d]‖).

    A barrier solution keeps every block ≠ 0, so blocks with ‖u[:d]‖ ≤ τ·(largest) are dropped, for
    each τ in :data:`ZERO_TOLS`; with ``sparsify`` each of these is also passed through
    :func:`sparsify_units` (same predictions and cost, at most m + 1 units). Returns a list of
    (W0 (r x d), b0 (r,), a (r,), c, J, r), J judged by ``FenchelNetwork.objective``.
    """
    out, seen = [], set()
    for tau in ZERO_TOLS:
        units, c = _units_of(problem, sol, tau)
        key = len(units)
        if key in seen:
            continue
        seen.add(key)
        out.append(_network_of_units(problem, units, c))
        if sparsify and len(units) > 1:
            out.append(_network_of_units(problem, *sparsify_units(units, c, problem.A, problem.d, problem.bias,
                                                                   seed=seed)))
    return out


def recover_network(problem: TwoLayerProblem, sol: RestrictedSolution, sparsify: bool = True, seed: int = 0,
                    width: int | None = None):
    """The best network of :func:`recovery_candidates`: least J among those with r ≤ ``width`` units
    (default: the problem's width n) when there are any — those are upper bounds on min J of width n —
    else least J overall. Returns (W0, b0, a, c, J, r)."""
    width = problem.width if width is None else width
    cands = recovery_candidates(problem, sol, sparsify=sparsify, seed=seed)
    fit = [x for x in cands if x[5] <= width]
    return min(fit or cands, key=lambda x: (x[4], x[5]))

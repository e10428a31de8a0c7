r"""A certified lower bound on min J for one-hidden-layer ReLU networks with two outputs (squared loss):
the dual of the convex reformulation with a vector multiplier, checked by the scalar exact oracle.

Problem: network ``[d, n, 2]``, ReLU, squared loss, z_j = Σ_i a_i (w_iᵀx_j + b_i)₊ + c (a_i ∈ ℝ² the i-th
column of W_1), data X0 (d x m, one column per sample), targets Y (2 x m),

    J = (1/m) Σ_j ½‖z_j − y_j‖² + ρ_0/2 ‖W_0‖²_F + ρ_1/2 ‖W_1‖²_F,    β = √(ρ_0ρ_1).

**The bound.** For every Λ = [λ_1 … λ_m] ∈ ℝ^{2×m} whose two rows sum to 0 (the free output bias) and

    S(Λ) = sup_{‖w‖≤1, b} ‖Σ_j λ_j (x_jᵀw + b)₊‖ ≤ mβ,

every network of every width has

    J ≥ (1/m) Σ_j ½‖z_j − y_j‖² + β Σ_i ‖w_i‖‖a_i‖                               (AM–GM on each unit)
      ≥ (1/m) Σ_j [λ_jᵀz_j − ½‖λ_j‖² − λ_jᵀy_j] + β Σ_i ‖w_i‖‖a_i‖               (Fenchel–Young)
      ≥ −(1/m) Σ_j (½‖λ_j‖² + λ_jᵀy_j) =: D(Λ),

since Σ_j λ_jᵀz_j = Σ_i a_iᵀ Σ_j λ_j (x_jᵀw_i + b_i)₊ + cᵀΣ_jλ_j ≥ −Σ_i ‖a_i‖‖w_i‖ S(Λ) (positive
homogeneity; a unit with w_i = 0 gives (b_i)₊ a_iᵀΣ_jλ_j = 0). At a global minimiser of the convex
reformulation Λ is the residual (z_j − y_j), where D equals the optimum.

**Checking S(Λ) ≤ mβ with the scalar oracle.** ‖v‖ = max_{‖u‖=1} uᵀv, so S(Λ) = max_u g(u) with
g(u) = S₁(uᵀΛ), S₁(λ) = sup_{‖w‖≤1,b} |Σ_j λ_j (x_jᵀw + b)₊| the scalar supremum that
:func:`~fenchel_cvx.certify.twolayer.arrangement.dual_oracle` bounds rigorously. g is sublinear (convex and
positively homogeneous) and even. For integer directions g_0, …, g_N around the half circle, any unit u
between g_k and g_{k+1} is u = αg_k + α'g_{k+1} with α, α' ≥ 0, so g(u) ≤ (α + α')·max(g(g_k), g(g_{k+1}))
and α + α' = c_kᵀu ≤ ‖c_k‖, c_k = G_k⁻ᵀ1 (G_k = [g_k g_{k+1}]). Hence

    S(Λ) ≤ max_k ‖c_k‖ · max(ḡ_k, ḡ_{k+1}),     ḡ_k = the oracle's rigorous bound on S₁(g_kᵀΛ).

To make every g_kᵀΛ exactly zero-sum in float64 (the oracle needs it), Λ is first rounded to integers
times a power of two, N·2^e with |N| < 2^40 and integer row sums fixed to 0; with |g_k| ≤ 2^10 each entry of
g_kᵀN is an integer below 2^52, exact. The candidate is the residual of the best network known (the
incumbent); the bound uses Λ = tΛ' with t = argmax_{0 ≤ t ≤ t̄} D(tΛ') (closed form) and
t̄ = mβ(1 − 1e-12)/S̄, and D(tΛ') is evaluated from the exact Λ' with a rounding allowance
4(2m + 10)·u·Σ_j(½t²‖λ'_j‖² + t|λ'_j|ᵀ|y_j|)/m (u = 2⁻⁵³), subtracted. Nothing rests on a solver tolerance.
The bound holds for every width n: it can close a bracket only where the width-n optimum is the
infinite-width one. Shapes: X0 is d x m, Y is 2 x m.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .problem import check_problem

__all__ = ["VectorDualBound", "vector_dual_bound", "vector_dual_applies", "VECTOR_DUAL_RESTS_ON", "MAX_SAMPLES_3D"]

#: what the vector dual bound rests on
VECTOR_DUAL_RESTS_ON = ("a dual-feasible point of the convex reformulation with a vector multiplier: exact zero-sum "
                        "integer rounding, S(Λ) ≤ mβ checked by the exact scalar oracle on integer directions around "
                        "the circle (sublinearity covers the arcs) with its rounding allowance, and the allowance of "
                        "the final float64 evaluation; no solver tolerance")

_INT_BITS = 40     # |N| < 2^40 after rounding Λ to N·2^e
_RADIUS = 1000.0   # integer directions of norm about 1000 (< 2^10)
U_ROUND = 2.0 ** -53


@dataclass
class VectorDualBound:
    """Result of :func:`vector_dual_bound`.

    lower : the certified lower bound on min J (every width);  value, allowance : D(tΛ') in float64 and its
    rounding allowance (lower = value − allowance);  sup_bound : the certified bound S̄ on S(Λ');  scale : t;
    level : mβ(1 − 1e-12);  directions : number of integer directions checked;  time : CPU seconds;
    rests_on : what the bound rests on.
    """

    lower: float
    value: float
    allowance: float
    sup_bound: float
    scale: float
    level: float
    directions: int
    time: float
    rests_on: str = VECTOR_DUAL_RESTS_ON


#: the exact oracle costs O(m⁴) per direction for d = 3: beyond this many samples, ``allow_large`` is needed
MAX_SAMPLES_3D = 60


def vector_dual_applies(net, m: int | None = None, allow_large: bool = False) -> str:
    """"" when :func:`vector_dual_bound` applies to ``net`` (one hidden ReLU layer, squared loss, two outputs,
    ρ_0, ρ_1 > 0, d within the exact oracle's dimensions; for d = 3 at most :data:`MAX_SAMPLES_3D` samples ``m``
    unless ``allow_large``), else the reason it does not."""
    from .twolayer.arrangement import ORACLE_DIMS

    sizes, acts = list(net.sizes), sorted({a.name for a in net.activations})
    if len(sizes) != 3 or acts != ["relu"] or net.loss.name != "squared" or sizes[2] != 2:
        return (f"net: the vector dual bound needs one hidden relu layer, the squared loss and 2 outputs, got sizes "
                f"{sizes}, activations {acts}, loss {net.loss.name!r}")
    if np.any(np.asarray(net.rho, dtype=float) <= 0):
        return f"net.rho: expected rho_0, rho_1 > 0, got {np.asarray(net.rho, dtype=float).tolist()}"
    if sizes[0] not in ORACLE_DIMS:
        return f"net: d = {sizes[0]} features; the exact oracle is implemented for d in {ORACLE_DIMS}"
    if sizes[0] == 3 and m is not None and m > MAX_SAMPLES_3D and not allow_large:
        return (f"X0: {m} samples with d = 3 (the exact oracle costs O(m^4) per direction); at most "
                f"{MAX_SAMPLES_3D} unless allow_large")
    return ""


def _integer_rows(L: np.ndarray, bias: bool):
    """(N, e): integers N (k x m float64 array, |N| < 2^40) with N·2^e ≈ L and, with a bias, every row sum 0."""
    big = float(np.max(np.abs(L)))
    if big == 0.0:
        return np.zeros_like(L), 0
    e = math.frexp(big)[1] - _INT_BITS
    N = np.trunc(np.ldexp(L, -e))
    if bias:
        for r in range(N.shape[0]):
            s = int(np.sum(N[r].astype(np.int64)))
            order = np.argsort(-np.abs(N[r]))
            k = 0
            while s != 0:  # unit moves toward 0 on the largest entries keep |N| < 2^40
                j = order[k % N.shape[1]]
                step = 1 if s < 0 else -1
                N[r, j] += step
                s += step
                k += 1
    return N, e


def _directions(count: int) -> np.ndarray:
    """Integer vectors g_0..g_count around the half circle (angles kπ/count, norm ≈ 1000; g_count = −g_0)."""
    ang = np.arange(count + 1) * (math.pi / count)
    G = np.round(_RADIUS * np.stack([np.cos(ang), np.sin(ang)], axis=1))
    G[-1] = -G[0]
    return G


def vector_dual_bound(net, X0, y, W, b, *, directions: int = 64, allow_large: bool = False) -> VectorDualBound:
    """The certified lower bound of the module docstring for ``net`` ``[d, n, 2]`` (ReLU, squared loss) on data
    ``X0`` (d x m) and targets ``y`` (2 x m), with the candidate multiplier taken from the network (W, b)
    (its residual Z − Y; the closer (W, b) is to a global minimiser, the tighter the bound). ``directions``:
    integer directions around the half circle (≥ 4; more: a smaller arc factor max_k ‖c_k‖); ``allow_large``:
    lift the sample limit for d = 3 (:data:`MAX_SAMPLES_3D`)."""
    from .twolayer.arrangement import dual_oracle

    why = vector_dual_applies(net, np.shape(X0)[-1] if np.ndim(X0) == 2 else None, allow_large)
    if why:
        raise ValueError(f"vector_dual_bound: {why}")
    if isinstance(directions, bool) or not isinstance(directions, int) or directions < 4:
        raise ValueError(f"directions: expected an integer >= 4, got {directions!r}")
    t0 = time.process_time()
    problem = check_problem(net, X0, y, need_lam=False, allow_large=True)
    X0, Y, m = problem.X0, problem.Y, problem.m
    net = problem.net
    Z = net.forward(X0, [np.asarray(w, dtype=float) for w in W], [np.asarray(v, dtype=float) for v in b])[1]
    R = Z - Y
    if net.bias:
        R = R - R.mean(axis=1, keepdims=True)
    N, e = _integer_rows(R, net.bias)
    G = _directions(directions)
    gbar = np.empty(len(G))
    for k, g in enumerate(G):
        lam = g[0] * N[0] + g[1] * N[1]  # integers below 2^51: exact, and exactly zero-sum with a bias
        gbar[k] = dual_oracle(X0, np.ldexp(lam, e), net.bias, top=1).bound
    arc = 0.0
    for k in range(len(G) - 1):
        c = np.linalg.solve(np.stack([G[k], G[k + 1]], axis=1).T, np.ones(2))  # G_k^T c = 1
        arc = max(arc, float(np.linalg.norm(c)) * (1.0 + 1e-12) * max(gbar[k], gbar[k + 1]))
    beta = math.sqrt(float(net.rho[0]) * float(net.rho[1]))
    level = m * beta * (1.0 - 1e-12)
    Lp = np.ldexp(N, e)  # Λ' exactly (powers of two)
    nn = float(np.sum(Lp * Lp))
    ly = float(np.sum(Lp * Y))
    t_max = level / arc if arc > 0 else math.inf
    t = float(np.clip(-ly / nn, 0.0, t_max)) if nn > 0 else 0.0
    if not math.isfinite(t):
        t = 0.0
    value = -(0.5 * t * t * nn + t * ly) / m
    mass = float(np.sum(0.5 * t * t * Lp * Lp + t * np.abs(Lp) * np.abs(Y)))
    allowance = 4.0 * (2 * m + 10) * U_ROUND * mass / m * (1.0 + 1e-12)
    return VectorDualBound(lower=value - allowance, value=value, allowance=allowance, sup_bound=arc, scale=t,
                           level=level, directions=len(G), time=time.process_time() - t0)

r"""Exact convex reference for two-layer ReLU networks (Pilanci & Ergen, ICML 2020).

Network ``[d, n, 1]``: f(x) = Σ_i a_i (w_i·x + b_i)₊ + c, squared loss and weight decay on
the weights only (biases b_i, c unpenalised), i.e. the project's

    J = (1/m)·½ Σ_j (f(x_j) − y_j)² + ρ_0/2 ‖W_0‖²_F + ρ_1/2 ‖W_1‖²_F.

With x̃_j = (x_j, 1), A = [x̃_1 .. x̃_m]ᵀ (m x (d+1); A = X0ᵀ without biases), β = √(ρ_0ρ_1), and the
activation patterns D = diag(1[A u ≥ 0]) of the chambers of the hyperplane arrangement {u : x̃_j·u = 0}
(enumerated exactly, :func:`enumerate_patterns`), the convex program is

    min_{v_D, w_D, c}  (1/(2m)) ‖Σ_D D A (v_D − w_D) + c1 − y‖² + β Σ_D (‖v_D[:d]‖ + ‖w_D[:d]‖)
    s.t.  (2D − I) A v_D ≥ 0,  (2D − I) A w_D ≥ 0          (only the weight part [:d] is penalised).

Why it is exactly J's problem (positive homogeneity, AM–GM):

* **convex ≤ J, for every width.** Rescaling unit i by t > 0 (w, b)·t, a/t keeps f, and
  min_t ρ_0t²‖w‖²/2 + ρ_1a²/(2t²) = β|a|‖w‖ ≤ ρ_0‖w‖²/2 + ρ_1a²/2. Put v = |a|(w, b) into the pattern
  of (w, b) (into v_D if a > 0, w_D if a < 0): D A v = |a|(A(w, b))₊, cost β‖v[:d]‖ = β|a|‖w‖; units with
  w = 0 are constants, absorbed into c at no cost; several units in one pattern add up (the cone is
  convex, the norm subadditive). Every (w, b) lies in some closed chamber, so no pattern is missing.
* **J ≤ convex when the width suffices.** A block v ≠ 0 with v[:d] ≠ 0 becomes the unit
  (w, b) = t v, a = ±1/t, t⁴ = ρ_1/(ρ_0‖v[:d]‖²): its output is (A v)₊ = D A v (v is in the cone) and its
  cost is exactly β‖v[:d]‖. Blocks with v[:d] = 0 output a constant (absorbed into c).

So with r = the number of nonzero blocks (with nonzero weight part) of a solution,
**min J over width n = the convex optimum whenever n ≥ r** (and the recovered network attains it);
for n < r the convex optimum is only a **lower bound** on min J of width n (it is min J over
widths ≥ r). Pilanci & Ergen show some optimal solution has r ≤ m + 1. Shapes: X0 is d x m.

**Certified lower bound.** The solver's primal value is *not* a bound (it can sit above the optimum
by the solver's tolerance, issue 13). :func:`convex_reference` therefore also returns ``lower``: the
dual bound of :func:`fenchel_cvx.certify.twolayer.certified_dual_bound` at the solution's
residual — feasibility checked over *all* activation patterns by the exact oracle, evaluated in
float64 minus a stated rounding allowance (d ≤ 3; for d ≥ 4 ``lower`` is None with the reason in
``lower_provenance``). For larger m use :func:`fenchel_cvx.certify.twolayer.convex_certificate`
(column generation, no full enumeration).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
from scipy.optimize import linprog

from ..problem import check_problem, copy_network
from .arrangement import ORACLE_DIMS, SWEEP_DIMS, data_matrix, enumerate_patterns_sweep
from .dual import certified_dual_bound
from .program import TwoLayerProblem
from .recovery import sparsify_units, units_to_weights

__all__ = ["ConvexResult", "enumerate_patterns", "max_chambers", "convex_reference", "SUPPORTED_CONVEX"]

SUPPORTED_CONVEX = ("two-layer ReLU networks [d, n, 1] with the squared loss and weight decay rho_0, rho_1 > 0, "
                    "with few enough activation patterns to enumerate (tiny d)")


def max_chambers(m: int, p: int) -> int:
    """Upper bound on the number of chambers of m central hyperplanes in ℝ^p: 2 Σ_{i<p} C(m−1, i)
    (attained in general position)."""
    return 2 * sum(math.comb(m - 1, i) for i in range(min(p, m)))


def enumerate_patterns(X0, bias: bool = True, max_patterns: int = 5000) -> np.ndarray:
    """All activation patterns 1[A u > 0] of the open chambers of the arrangement {u : x̃_j·u = 0}.

    ``X0`` is d x m; A = [X0ᵀ 1] (``bias``) or X0ᵀ. Exact incremental enumeration: the hyperplanes are
    added one at a time and each chamber keeps an interior point; a chamber is split by the next
    hyperplane iff the LP {σ_k x̃_k·u ≥ 1 (k < j), ±x̃_j·u ≥ 1} is feasible for both signs. Returns a
    P x m 0/1 array. Raises ValueError when the bound :func:`max_chambers` exceeds ``max_patterns``.
    For d ≤ 2 the sort-based sweep :func:`~fenchel_cvx.certify.twolayer.arrangement.enumerate_patterns_sweep`
    is much faster and gives the same set.
    """
    X0 = np.asarray(X0, dtype=float)
    if X0.ndim != 2:
        raise ValueError(f"X0: expected a d x m array, got shape {X0.shape}")
    A = data_matrix(X0, bias)
    m, p = A.shape
    bound = max_chambers(m, p)
    if bound > max_patterns:
        raise ValueError(f"problem too large for exact pattern enumeration: up to {bound} activation patterns "
                         f"for m={m} samples in dimension {p} (d+1 with the bias), more than max_patterns="
                         f"{max_patterns}; supported: {SUPPORTED_CONVEX}")
    norms = np.linalg.norm(A, axis=1)
    if np.any(norms == 0):
        raise ValueError("X0: a zero sample without bias column gives a degenerate arrangement")
    A = A / norms[:, None]

    def interior(rows, signs):
        res = linprog(np.zeros(p), A_ub=-(signs[:, None] * rows), b_ub=-np.ones(len(signs)),
                      bounds=[(None, None)] * p, method="highs")
        return res.x if res.status == 0 else None

    chambers = [(np.zeros(0), None)]
    for j in range(m):
        new = []
        for sig, u in chambers:
            for s in (1.0, -1.0):
                if u is not None and s * (A[j] @ u) > 1e-9 * np.linalg.norm(u):
                    new.append((np.append(sig, s), u))
                    continue
                x = interior(A[:j + 1], np.append(sig, s))
                if x is not None:
                    new.append((np.append(sig, s), x))
        chambers = new
    return (np.array([sig for sig, _ in chambers]) > 0).astype(float)


@dataclass
class ConvexResult:
    """The convex reference.

    value       : the solver's primal value of the convex program (≈ the optimum, NOT a bound: it may
                  exceed the optimum by the solver's tolerance)
    lower       : certified lower bound on the convex optimum, hence on min J for every width (dual
                  point checked over all patterns, float64 with rounding allowance); None for d ≥ 4
    lower_provenance : how ``lower`` was obtained (or why it is None)
    J_recovered : J of the recovered network (judged by ``FenchelNetwork.objective``)
    n_active    : r, the number of units the recovered network needs
    width       : the network's width n;  exact : r ≤ n (then min J of width n = value)
    W, b        : recovered network of width max(n, r) (zero-padded units)
    """

    value: float
    J_recovered: float
    n_active: int
    width: int
    n_patterns: int
    status: str
    time: float
    W: list = field(repr=False, default_factory=list)
    b: list = field(repr=False, default_factory=list)
    lower: float | None = None
    lower_provenance: str = ""

    @property
    def exact(self) -> bool:
        return self.n_active <= self.width


def _check_scope(problem):
    net = problem.net
    if net.L != 1 or net.sizes[-1] != 1 or problem.loss != "squared":
        raise ValueError(f"the convex reference supports {SUPPORTED_CONVEX}; got sizes {net.sizes}, "
                         f"loss {problem.loss!r}")


def _solve_blocks(A, yv, D, S, d, beta, bias, solver):
    """The convex program over the blocks (pattern D[k], sign S[k]); returns (value, V (B x p), c)."""
    m, p = A.shape
    B = D.shape[0]
    V = cp.Variable((B, p))
    AV = A @ V.T  # m x B
    pred = cp.sum(cp.multiply(D.T * S[None, :], AV), axis=1)
    c = cp.Variable() if bias else 0.0
    obj = (0.5 / m) * cp.sum_squares(pred + c - yv) + beta * cp.sum(cp.norm(V[:, :d], 2, axis=1))
    prob = cp.Problem(cp.Minimize(obj), [cp.multiply(2.0 * D.T - 1.0, AV) >= 0])
    prob.solve(solver=solver)
    if prob.status != cp.OPTIMAL:
        raise ValueError(f"convex reference: solver {solver} returned status {prob.status!r}")
    return float(prob.value), np.asarray(V.value), (float(c.value) if bias else 0.0)


def _units(A, V, S, c, d, bias, zero_tol):
    """Blocks with a nonzero weight part as (sign, v, index); constant blocks folded into c."""
    scale = max(1.0, float(np.max(np.linalg.norm(V, axis=1))))
    units = []
    for k, (s, v) in enumerate(zip(S, V, strict=True)):
        if np.linalg.norm(v[:d]) > zero_tol * scale:
            units.append((float(s), v, k))
        elif bias and np.linalg.norm(v) > 0:
            c += float(s) * float(np.mean(np.maximum(A @ v, 0.0)))
    return units, c


def convex_reference(net, X0, y, solver: str = "CLARABEL", max_patterns: int = 5000, zero_tol: float = 1e-7,
                     seed: int = 0, max_subsets: int = 60, allow_large: bool = False) -> ConvexResult:
    """Solve the convex program of the module docstring in CVXPY and recover a ReLU network from it.

    Blocks whose weight part has norm ≤ ``zero_tol``·max(1, largest block norm) count as zero (their constant output
    goes into c); the rest is made sparse by :func:`~fenchel_cvx.certify.twolayer.sparsify_units` (same objective). If
    that still needs more units than the network's width n, the program is re-solved on subsets of n of the active
    blocks (the first ``max_subsets`` of them, largest blocks first) and a subset that attains the optimum (to 1e-7
    relative) gives a width-n network. ``n_active`` is the width of the sparsest solution found (an upper bound on the
    least width); ``value`` is the full program's optimum as the solver reports it (not a bound), ``lower`` the
    certified dual bound (d ≤ 3). Raises ValueError outside :data:`SUPPORTED_CONVEX` and when the solver does not
    reach optimality.
    """
    problem = check_problem(net, X0, y, need_lam=False, allow_large=allow_large)
    _check_scope(problem)
    t0 = time.perf_counter()
    net, X0, yv = problem.net, problem.X0, problem.Y[0]
    d, m, n = net.sizes[0], problem.m, net.sizes[1]
    bias = net.bias
    if d in SWEEP_DIMS:
        bound = max_chambers(m, d + 1 if bias else d)
        if bound > max_patterns:
            raise ValueError(f"problem too large for exact pattern enumeration: up to {bound} activation patterns "
                             f"for m={m} samples, more than max_patterns={max_patterns}; supported: {SUPPORTED_CONVEX} "
                             "(for more samples use convex_certificate)")
        Dp = enumerate_patterns_sweep(X0, bias=bias)
    else:
        Dp = enumerate_patterns(X0, bias=bias, max_patterns=max_patterns)
    A = data_matrix(X0, bias)
    P = Dp.shape[0]
    beta = math.sqrt(net.rho[0] * net.rho[1])
    D, S = np.vstack([Dp, Dp]), np.concatenate([np.ones(P), -np.ones(P)])
    value, V, cval = _solve_blocks(A, yv, D, S, d, beta, bias, solver)
    if d in ORACLE_DIMS:  # the certified bound from the residual of the solver's point
        yhat = np.sum((D.T * S[None, :]) * (A @ V.T), axis=1) + cval
        cert = certified_dual_bound(TwoLayerProblem.from_network(net, X0, problem.y, allow_large=True), yhat - yv)
        lower, lower_prov = cert.lower, cert.provenance
    else:
        lower, lower_prov = None, (f"no certified bound: the exact dual oracle covers d in {ORACLE_DIMS} features, "
                                   f"got d = {d} (the solver's value {value:.10g} is not a bound)")
    units, cval = _units(A, V, S, cval, d, bias, zero_tol)
    active = [k for _, v, k in sorted(units, key=lambda u: -np.linalg.norm(u[1][:d]))]  # largest first
    units, cval = sparsify_units([(s_, v) for s_, v, _ in units], cval, A, d, bias, seed)
    if len(units) > n:
        for sub in itertools.islice(itertools.combinations(active, n), max_subsets):
            sub = list(sub)
            val_s, V_s, c_s = _solve_blocks(A, yv, D[sub], S[sub], d, beta, bias, solver)
            if val_s <= value + 1e-7 * (1.0 + abs(value)):
                u_s, c_s = _units(A, V_s, S[sub], c_s, d, bias, zero_tol)
                units, cval = sparsify_units([(s_, v) for s_, v, _ in u_s], c_s, A, d, bias, seed)
                break
    r = len(units)
    width = max(n, r)
    W0, b0, a = units_to_weights(units, d, net.rho[0], net.rho[1], bias, width=width)
    W, b = [W0, a[None, :]], [b0, np.array([cval])]
    rec = copy_network(net, sizes=[d, width, 1], W=W, b=b)
    J_rec = rec.objective(X0, problem.y)
    return ConvexResult(value=value, J_recovered=float(J_rec), n_active=r, width=n, n_patterns=P,
                        status="optimal", time=time.perf_counter() - t0, W=W, b=b, lower=lower,
                        lower_provenance=lower_prov)

r"""A rigorous upper bound on the dual oracle S(λ) for any input dimension d, from a semidefinite relaxation.

Shapes: X0 is d x m (features x samples); λ has m entries; a unit is u = (w, b), a_jᵀu = x_jᵀw + b.

**The set.** With a bias and 1ᵀλ = 0 the supremum S(λ) = sup_{‖w‖≤1, b} |Σ_j λ_j (x_jᵀw + b)₊| is attained on
R = {(w, b) : ‖w‖ ≤ 1, b = −x_kᵀw for some k} (:mod:`~fenchel_cvx.certify.twolayer.mipbound`), where |b| ≤ B =
max_k ‖x_k‖ and 0 ≤ z_j := (a_jᵀu)₊ ≤ M_j (:func:`~fenchel_cvx.certify.twolayer.mipbound.big_m`). Without a bias
R = {‖w‖ ≤ 1}, b = 0 and M_j = ‖x_j‖. In scaled coordinates b̂ = b/B, ẑ_j = z_j/M_j, â_j = (x_j, B) (resp. x_j),
every point of R gives the vector v = (1, w, b̂, ẑ) ∈ ℝ^n, n = 1 + p + m (p = d + 1 with a bias, d without), and the
moment matrix P = vvᵀ = [1 uᵀ ẑᵀ; u U Yᵀ; ẑ Y Z] (u = (w, b̂)). For one sign s = ±1 and c = sλ,

    sup_R Σ_j c_j z_j = sup_R ⟨C, P⟩,   C_{0,ẑj} = C_{ẑj,0} = c_j M_j / 2,

and P satisfies, at every point of R (multiplier in brackets):

    P_00 = 1                                    [y₀ free]
    M_j Z_jj − â_jᵀY_j = 0                      [η_j free]   z_j² = z_j·a_jᵀu (z_j = (a_jᵀu)₊)
    tr U_ww ≤ 1,  U_b̂b̂ ≤ 1                     [μ_w, μ_b ≥ 0]
    −ẑ_j ≤ 0                                    [α_j ≥ 0]
    â_jᵀu − M_j ẑ_j ≤ 0                         [β_j ≥ 0]    z_j ≥ a_jᵀu
    Z_jj − ẑ_j ≤ 0                              [γ_j ≥ 0]    z_j ≤ M_j times z_j ≥ 0
    â_jᵀY_i − M_j Z_ij ≤ 0   (all i, j)         [Γ_ij ≥ 0]   z_i (z_j − a_jᵀu) ≥ 0 (RLT)
    P ⪰ 0.

**The bound** (weak duality, valid for *any* multipliers of the right signs — none of it rests on a solver). Let

    S = y₀E₀₀ + Σ_j η_j F_j + μ_w I_w + μ_b E_b̂b̂ + Σ_k (multiplier_k)·G_k − C,

with the constraint matrices F_j, G_k of the list above (``= 0`` resp. ``≤ h_k`` forms). In blocks (0, u, ẑ):

    S_00 = y₀,   S_0u = ½ Âᵀβ,   S_0ẑ = −½ (α + M∘β + γ + c∘M),   S_uu = diag(μ_w 1_d, μ_b),
    S_ẑu = ½ (Γ − diag η) Â,   S_ẑẑ = diag(M∘η + γ) − ½ (Γ diag M + diag M Γᵀ),

Â = (â_1, …, â_m)ᵀ (m x p). For every point of R, ⟨C, P⟩ = y₀ + μ_w·tr U_ww + μ_b U_b̂b̂ + Σ mult·(⟨G_k, P⟩) − ⟨S, P⟩
≤ y₀ + μ_w + μ_b − vᵀSv, and vᵀSv ≥ λ_min(S)·‖v‖² ≥ −max(0, −λ_min(S))·T with T = 3 + m ≥ ‖v‖² = 1 + ‖w‖² + b̂²
+ Σ ẑ_j² (2 + m without a bias). Hence

    sup_R Σ_j c_j z_j  ≤  y₀ + μ_w + μ_b + T · max(0, −λ_min(S)),

and S(λ) is at most the larger of the two signs' bounds. The solver (SCS through CVXPY, on the relaxation
max ⟨C, P⟩ over the constraints above; the multipliers are the constraints' dual values) only proposes the
multipliers; they are clipped to their signs, S is formed in float64 and its smallest eigenvalue bounded from
below (Jansson-style a-posteriori bound): the accuracy of the solve only decides how tight the bound is
(measured at d = 10, m = 120: SCS at eps 1e-4 / 1e-5 / 1e-6 took 16 / 38 / 75 s and the correction was
2.0 / 0.086 / 0.0014 on a value of 30.1).

**Which RLT pairs.** Among the products of the linear constraints, z_i (z_j − a_jᵀu) ≥ 0 does the work: on random
d = 6, m = 40 instances the relaxation without it was 1.7–3.7x above the search's value, with it 1.00–1.04x; the
pairs with λ_iλ_j < 0 alone gave 1.00–1.05x, z_i z_j ≥ 0 alone 1.8–3.7x (``experiments/sdp_oracle_bound.py``
and experiments/FINDINGS.md §6).

**Box correction** (used when smaller). With the computed eigendecomposition Ŝ ≈ Q̂Λ̂Q̂ᵀ,
vᵀSv = Σ_k λ̂_k (q̂_kᵀv)² + vᵀ(S − Q̂Λ̂Q̂ᵀ)v ≥ −Σ_{λ̂_k<0} |λ̂_k| h_k² − T·‖S − Q̂Λ̂Q̂ᵀ‖₂, where h_k ≥ max |q̂_kᵀv| over the
box v₀ = 1, ‖w‖ ≤ 1, |b̂| ≤ 1, ẑ ∈ [0, 1]^m: h_k = max(|q₀ + ‖q_w‖ + |q_b̂| + Σ(q_ẑ)₊|, |q₀ − ‖q_w‖ − |q_b̂| − Σ(q_ẑ)₋|).
Because ẑ ≥ 0, an eigenvector with mixed signs pays about (½‖q_ẑ‖₁)² ≈ m/(2π) instead of T = m + 3; the residual
‖S − Q̂Λ̂Q̂ᵀ‖₂ ≤ (forming error) + ‖fl(Ŝ − Q̂Λ̂Q̂ᵀ)‖_F + (n + 4)u(‖Ŝ‖_F + ‖|Q̂||Λ̂|‖_F‖Q̂‖_F) needs no assumption on the
eigensolver. The smaller of the two corrections is used.

**Rounding.** (i) Forming S: every entry is a sum of at most m + 4 products of floats, so |S − Ŝ| ≤ (m + 8)·u·|S|_abs
entrywise, |S|_abs the same formulas on absolute values, and ‖S − Ŝ‖₂ ≤ ‖·‖_F of that (Weyl). (ii) The eigenvalue:
LAPACK's symmetric eigensolver is backward stable — the computed eigenvalues are exact for Ŝ + E with
‖E‖₂ ≤ p(n)·u·‖Ŝ‖₂ and p(n) a modest function of n; the bound takes 4n·u·‖Ŝ‖_F (≥ 4n·u·‖Ŝ‖₂) for it — the one
assumption the trace correction rests on besides IEEE arithmetic (the box correction needs none). (iii) The sum
y₀ + μ_w + μ_b + correction is rounded upward by a relative 8u. (iv) B and M_j are rounded upward
(B ≥ max_k ‖x_k‖, M_j from :func:`big_m`), so R's bounds hold.
Samples with c_j = 0 are left out (dropping constraints of a relaxation keeps it a relaxation).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .arrangement import U_ROUND
from .mipbound import big_m

__all__ = ["sdp_oracle_bound", "sdp_sign_bound", "relaxation_problem", "SdpBoundResult", "SdpMultipliers",
           "SDP_EPS", "SDP_MAX_SAMPLES", "SDP_MAX_ENTRIES"]

#: SCS's relative and absolute tolerance for the dual SDP (only the bound's tightness depends on it)
SDP_EPS = 1e-6
#: the certificate (``dual._scip_certificate``) tries this bound up to this many samples (its dual has
#: m² multipliers and an (m + d + 2)-square matrix: at m = 442 one sign took ~370 CPU-s and 1.4 GB with SCS)
SDP_MAX_SAMPLES = 600
#: ... and while its RLT rows hold at most this many nonzeros, m²(d + 2): SCS's set-up (outside its time limit) grows
#: with them (breast cancer, m = 569, d = 30, 10.4e6: set-up 113 CPU-s per sign, 0.58 s per iteration, CVXPY 16 s —
#: the two signs took 384 s against a 112 s budget and the bound was useless; diabetes, 2.3e6: set-up 7.5 s, 0.11 s
#: per iteration; experiments/FINDINGS.md §6a)
SDP_MAX_ENTRIES = 4_000_000


@dataclass
class SdpMultipliers:
    """Multipliers of the relaxation (module docstring) for one sign: y0, mu_w, mu_b scalars; eta, alpha, beta,
    gamma (m,); Gamma (m x m). Any values give a valid bound (the sign-constrained ones are clipped at 0)."""

    y0: float
    mu_w: float
    mu_b: float
    eta: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    Gamma: np.ndarray


@dataclass
class SdpBoundResult:
    """What :func:`sdp_oracle_bound` returns.

    bound   : a rigorous upper bound on S(λ) (the larger of the two signs' bounds)
    signs   : per sign "+"/"-": dict(bound, dual_objective, lam_min (the certified lower bound on λ_min(S)),
              correction (T·max(0, −lam_min)), solver_value, status, time)
    time    : seconds (wall);  status : the solver's status per sign
    """

    bound: float
    signs: dict = field(default_factory=dict)
    time: float = 0.0
    status: dict = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True when SCS reached its tolerance for both signs (else more time may tighten the bound)."""
        return all(s in ("optimal", "no sample", "trivial") for s in self.status.values())


def _scaled_data(X0: np.ndarray, c: np.ndarray, bias: bool):
    """(Â (m' x p), M (m',), c (m',), T, dropped) on the samples with c_j ≠ 0 and M_j > 0 (module docstring);
    ``dropped`` = Σ|c_j|M_j of the samples left out for M_j ≤ 1e-150 (an upper bound on their contribution)."""
    norms = np.linalg.norm(X0, axis=0)
    M = big_m(X0, bias)
    keep = (c != 0.0) & (M > 1e-150)
    dropped = float(np.abs(c[~keep]) @ M[~keep]) * (1.0 + 1e-12) if (~keep).any() else 0.0
    if bias:
        B = float(norms.max(initial=0.0)) * (1.0 + 1e-12)
        Ahat = np.hstack([X0.T[keep], np.full((int(keep.sum()), 1), B)])
    else:
        Ahat = X0.T[keep].copy()
    mk = int(keep.sum())
    T = float((3 if bias else 2) + mk)
    return Ahat, M[keep], c[keep], T, dropped


def _slack(Ahat, M, c, mult: SdpMultipliers, bias: bool, absolute: bool = False) -> np.ndarray:
    """S (n x n) of the module docstring in float64 from the multipliers (clipped to their signs); with
    ``absolute`` the same formulas on absolute values (|S|_abs, for the rounding bound)."""
    f = np.abs if absolute else (lambda v: v)
    m, p = Ahat.shape
    d = p - 1 if bias else p
    al, be, ga = (np.maximum(np.asarray(v, dtype=np.float64), 0.0) for v in (mult.alpha, mult.beta, mult.gamma))
    G = np.maximum(np.asarray(mult.Gamma, dtype=np.float64), 0.0)
    eta = np.asarray(mult.eta, dtype=np.float64)
    A = f(Ahat)
    n = 1 + p + m
    S = np.zeros((n, n))
    S[0, 0] = f(mult.y0)
    s0u = 0.5 * (A.T @ be)
    if absolute:
        s0z = 0.5 * (al + M * be + ga + np.abs(c) * M)
    else:
        s0z = -0.5 * (al + M * be + ga + c * M)
    S[0, 1:1 + p], S[1:1 + p, 0] = s0u, s0u
    S[0, 1 + p:], S[1 + p:, 0] = s0z, s0z
    S[1:1 + d, 1:1 + d] = np.eye(d) * max(float(mult.mu_w), 0.0)
    if bias:
        S[p, p] = max(float(mult.mu_b), 0.0)
    if absolute:
        szu = 0.5 * ((G + np.diag(np.abs(eta))) @ A)
        GM = G * M[None, :]
        szz = np.diag(M * np.abs(eta) + ga) + 0.5 * (GM + GM.T)
    else:
        szu = 0.5 * ((G - np.diag(eta)) @ A)
        GM = G * M[None, :]
        szz = np.diag(M * eta + ga) - 0.5 * (GM + GM.T)
    S[1 + p:, 1:1 + p], S[1:1 + p, 1 + p:] = szu, szu.T
    S[1 + p:, 1 + p:] = szz
    return S


def _box_correction(S: np.ndarray, e_form: float, T: float, p: int, d: int, bias: bool) -> float:
    r"""A bound C ≥ −vᵀS_exact v for every v = (1, w, b̂, ẑ) with ‖w‖ ≤ 1, |b̂| ≤ 1, ẑ ∈ [0, 1]^m (module
    docstring, "box correction"), from the computed eigendecomposition Ŝ ≈ Q̂Λ̂Q̂ᵀ of the float64 slack ``S``:
    C = Σ_{λ̂_k<0} |λ̂_k| h_k² + T·(e_form + ‖Ŝ − Q̂Λ̂Q̂ᵀ‖), h_k ≥ max_v |q̂_kᵀv| over that box."""
    n = S.shape[0]
    lam, Q = np.linalg.eigh(S)
    QL = Q * lam
    R = S - QL @ Q.T
    e_res = float(np.linalg.norm(R)) + (n + 4) * U_ROUND * (float(np.linalg.norm(S)) + float(
        np.linalg.norm(np.abs(Q) * np.abs(lam)) * np.linalg.norm(Q)))
    neg = lam < 0
    Qn, ln = Q[:, neg], -lam[neg]
    qw = np.linalg.norm(Qn[1:1 + d], axis=0)
    qb = np.abs(Qn[p]) if bias else 0.0
    qz = Qn[1 + p:]
    top = Qn[0] + qw + qb + np.maximum(qz, 0.0).sum(axis=0)
    bot = Qn[0] - qw - qb - np.maximum(-qz, 0.0).sum(axis=0)
    h = np.maximum(np.abs(top), np.abs(bot)) * (1.0 + (n + 4) * U_ROUND)
    return (float(ln @ (h * h)) * (1.0 + (n + 4) * U_ROUND) + T * (e_form + e_res)) * 1.01


def sdp_sign_bound(Ahat, M, c, mult: SdpMultipliers, T: float, bias: bool = True) -> dict:
    r"""The rigorous bound y₀ + μ_w + μ_b + min(T·max(0, −λ_min(S)), box correction) on sup_R Σ_j c_j z_j (module
    docstring) for any multipliers. ``Ahat`` m x p (scaled rows â_j), ``M`` (m,), ``c`` (m,), ``T`` ≥ ‖v‖² on R.
    Returns dict(bound, dual_objective, lam_min (certified lower bound on λ_min(S)), lam_min_computed, correction,
    correction_trace, correction_box)."""
    S = _slack(Ahat, M, c, mult, bias)
    Sabs = _slack(Ahat, M, c, mult, bias, absolute=True)
    if not (np.all(np.isfinite(S)) and np.all(np.isfinite(Sabs))):
        return dict(bound=math.inf, dual_objective=math.inf, lam_min=-math.inf, lam_min_computed=-math.inf,
                    correction=math.inf, correction_trace=math.inf, correction_box=math.inf)
    (n, m), p = (S.shape[0], Ahat.shape[0]), Ahat.shape[1]
    lam = float(np.linalg.eigvalsh(S)[0])
    e_form = (m + 8) * U_ROUND * float(np.linalg.norm(Sabs)) * 1.01
    e_eig = 4 * n * U_ROUND * float(np.linalg.norm(S)) * 1.01
    lam_lo = lam - e_form - e_eig
    corr_trace = T * max(0.0, -lam_lo)
    corr_box = _box_correction(S, e_form, T, p, p - 1 if bias else p, bias) if lam_lo < 0 else math.inf
    corr = min(corr_trace, corr_box)
    obj = float(mult.y0) + max(float(mult.mu_w), 0.0) + (max(float(mult.mu_b), 0.0) if bias else 0.0)
    total = obj + corr
    bound = total + 8 * U_ROUND * (abs(obj) + corr) + 1e-300
    return dict(bound=bound, dual_objective=obj, lam_min=lam_lo, lam_min_computed=lam, correction=corr,
                correction_trace=corr_trace, correction_box=corr_box)


def _pair_mask(c: np.ndarray, pairs: str) -> np.ndarray | None:
    """The (i, j) of the RLT multipliers Γ_ij the solver may use: all (None) or those with c_i c_j < 0."""
    if pairs == "all":
        return None
    return np.outer(c > 0, c < 0) | np.outer(c < 0, c > 0)


def relaxation_problem(Ahat, M, c, bias: bool, pairs: str = "all"):
    """The Shor + RLT relaxation of one sign (module docstring) as a CVXPY problem, max ⟨C, P⟩ over the moment
    matrix P (n x n, n = 1 + p + m) subject to the listed constraints (Γ_ij only on the pairs of
    :func:`_pair_mask`); returns (problem, {multiplier name: constraint}, (ii, jj) of the RLT pairs or None for
    all). ``Ahat`` m x p, ``M`` (m,), ``c`` (m,) as :func:`_scaled_data` returns them."""
    import cvxpy as cp

    m, p = Ahat.shape
    d = p - 1 if bias else p
    n = 1 + p + m
    P = cp.Variable((n, n), symmetric=True)
    u, z = P[0, 1:1 + p], P[0, 1 + p:]
    U, Y, Z = P[1:1 + p, 1:1 + p], P[1 + p:, 1:1 + p], P[1 + p:, 1 + p:]
    cons = {
        "y0": P[0, 0] == 1,
        "eta": cp.multiply(M, cp.diag(Z)) - cp.sum(cp.multiply(Y, Ahat), axis=1) == 0,
        "mu_w": cp.trace(U[:d, :d]) <= 1,
        "alpha": -z <= 0,
        "beta": Ahat @ u - cp.multiply(M, z) <= 0,
        "gamma": cp.diag(Z) - z <= 0,
    }
    if bias:
        cons["mu_b"] = U[d, d] <= 1
    mask = _pair_mask(c, pairs)
    R = Y @ Ahat.T - cp.multiply(Z, np.broadcast_to(M[None, :], (m, m)))  # (i, j): â_jᵀY_i − M_j Z_ij
    if mask is None:
        cons["Gamma"], ij = R <= 0, None
    else:
        ij = np.nonzero(mask)
        cons["Gamma"] = R[ij[0], ij[1]] <= 0
    return cp.Problem(cp.Maximize((c * M) @ z), list(cons.values()) + [P >> 0]), cons, ij


def _solve_dual(Ahat, M, c, bias: bool, eps: float, time_limit: float, max_iters: int, pairs: str = "all"):
    """Solve the relaxation (module docstring; Γ_ij only on the pairs of :func:`_pair_mask`) in its primal form by
    SCS through CVXPY and read the multipliers off the constraints' dual values (measured 4x faster than handing
    SCS the dual SDP: at d = 10, m = 120, 23 s against 89 s); returns (SdpMultipliers or None, solver value,
    status). CVXPY's sign conventions are those of the module docstring (tests/certify/test_sdpbound.py checks
    that the bound from these multipliers meets the solver's value)."""
    import cvxpy as cp

    m = Ahat.shape[0]
    prob, cons, pairs_ij = relaxation_problem(Ahat, M, c, bias, pairs)
    try:
        with warnings.catch_warnings():  # "solution may be inaccurate": the status is kept, the bound is valid anyway
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver="SCS", eps_abs=eps, eps_rel=eps, time_limit_secs=max(1.0, time_limit),
                       max_iters=max_iters)
    except cp.error.SolverError as e:
        return None, math.inf, f"solver error: {e}"
    if cons["y0"].dual_value is None:
        return None, math.inf, str(prob.status)

    def dv(key, shape=None):
        v = cons[key].dual_value if key in cons else 0.0
        return np.asarray(v, dtype=np.float64).reshape(shape) if shape else float(np.asarray(v).reshape(-1)[0])

    G = np.zeros((m, m))
    if pairs_ij is None:
        G[:] = dv("Gamma", (m, m))
    else:
        G[pairs_ij] = dv("Gamma", (pairs_ij[0].size,))
    mult = SdpMultipliers(y0=dv("y0"), mu_w=dv("mu_w"), mu_b=dv("mu_b") if bias else 0.0, eta=dv("eta", (m,)),
                          alpha=dv("alpha", (m,)), beta=dv("beta", (m,)), gamma=dv("gamma", (m,)), Gamma=G)
    return mult, float(prob.value), str(prob.status)


def sdp_oracle_bound(X0, lam, bias: bool = True, time_limit: float = 600.0, eps: float = SDP_EPS,
                     max_iters: int = 100000, pairs: str = "all") -> SdpBoundResult:
    r"""A rigorous upper bound on S(λ) = sup_{‖w‖≤1, b} |Σ_j λ_j (x_jᵀw + b)₊| from the Shor + RLT relaxation
    (module docstring), any d.

    ``X0`` d x m, ``lam`` (m,) (with ``bias``: 1ᵀλ = 0, checked to rounding — the caller makes it exact, e.g.
    :func:`~fenchel_cvx.certify.twolayer.dual.exact_zero_sum`); ``time_limit`` wall seconds for both signs (SCS
    stops there; the multipliers it has still give a valid, weaker bound); ``eps`` SCS's tolerances. The bound holds
    whatever the solver returns (a failed solve gives inf). ``pairs``: "all" RLT products z_i(z_j − a_jᵀu) ≥ 0, or
    "opposite" only those with λ_iλ_j < 0 (half the multipliers; on random d = 6, m = 40 instances the bound moved
    by ≤ 1 %: the pairs of equal sign add little). Memory and time: an n x n matrix (n = m + d + 2) and m² RLT rows of
    d + 2 nonzeros each; at m = 442, d = 10 one sign took ~370 s and 1.4 GB to eps 1e-4 (SCS ≈ 0.11 s per iteration).
    """
    t0 = time.perf_counter()
    X0 = np.asarray(X0, dtype=np.float64)
    if X0.ndim != 2 or not np.all(np.isfinite(X0)):
        raise ValueError(f"X0: expected a finite d x m array, got shape {X0.shape}")
    lam = np.asarray(lam, dtype=np.float64).reshape(-1)
    d, m = X0.shape
    if lam.shape != (m,) or not np.all(np.isfinite(lam)):
        raise ValueError(f"lam: expected {m} finite entries (one per sample), got shape {lam.shape}")
    if bias and abs(math.fsum(lam.tolist())) > 1e-12 * (1.0 + float(np.abs(lam).sum())):
        raise ValueError("lam: with a bias the oracle bound needs 1ᵀλ = 0 (use exact_zero_sum)")
    if not (time_limit > 0):
        raise ValueError(f"time_limit: expected a positive number of seconds, got {time_limit!r}")
    if pairs not in ("all", "opposite"):
        raise ValueError(f"pairs: expected 'all' or 'opposite', got {pairs!r}")
    if not (0 < eps < 1):
        raise ValueError(f"eps: expected a tolerance in (0, 1), got {eps!r}")
    res = SdpBoundResult(bound=0.0)
    if bias and float(np.linalg.norm(X0, axis=0).max(initial=0.0)) == 0.0:
        res.signs = {k: dict(bound=0.0, status="X0 = 0: S = 0") for k in "+-"}
        res.status = {k: "trivial" for k in "+-"}
        return res
    bounds = []
    for k, sgn in enumerate((1.0, -1.0)):
        ts = time.perf_counter()
        Ahat, M, c, T, dropped = _scaled_data(X0, sgn * lam, bias)
        if Ahat.shape[0] == 0:
            info = dict(bound=dropped, dual_objective=0.0, lam_min=0.0, lam_min_computed=0.0, correction=0.0,
                        solver_value=0.0, status="no sample")
        else:
            left = time_limit - (time.perf_counter() - t0)
            mult, val, status = _solve_dual(Ahat, M, c, bias, eps, max(left / (2 - k), 1.0), max_iters, pairs)
            if mult is None:
                info = dict(bound=math.inf, dual_objective=math.inf, lam_min=-math.inf, lam_min_computed=-math.inf,
                            correction=math.inf)
            else:
                info = sdp_sign_bound(Ahat, M, c, mult, T, bias)
                info["bound"] = (info["bound"] + dropped) * (1.0 + 2 * U_ROUND)
            info.update(solver_value=val, status=status)
        info["time"] = time.perf_counter() - ts
        res.signs["+" if sgn > 0 else "-"] = info
        res.status["+" if sgn > 0 else "-"] = info["status"]
        bounds.append(info["bound"])
    res.bound = max(bounds)
    res.time = time.perf_counter() - t0
    return res

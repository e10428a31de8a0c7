r"""The dual of the two-layer convex program and its certified lower bound (package docstring).

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p. See :mod:`fenchel_cvx.certify.twolayer`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .arrangement import (
    U_ROUND,
    OracleResult,
    dual_oracle,
)
from .mipbound import scip_oracle_bound
from .program import (
    ProgramLoss,
    SquaredTerms,
    TwoLayerProblem,
)
from .sdpbound import SDP_MAX_ENTRIES, SDP_MAX_SAMPLES, sdp_oracle_bound
from .search import search_oracle


# ---------------------------------------------------------------------------------------------
# the certified dual bound
# ---------------------------------------------------------------------------------------------
def exact_zero_sum(lam, lo=None, hi=None) -> np.ndarray:
    r"""A float64 vector close to ``lam`` (m,) with Σ_j λ_j = 0 **exactly** and lo ≤ λ ≤ hi.

    First an approximate projection: λ ← clip(λ − τ, lo, hi) with τ found by bisection so that the
    sum is ≈ 0. Then every entry is written as N_j·2^e with integers N_j, |N_j| < 2^52/(m+1)
    (truncation toward 0, which keeps the box since lo ≤ 0 ≤ hi), and the integer sum ΣN_j is
    brought to 0 by unit moves on entries with room in the box. The result is exactly representable
    and its sum — also every partial sum — is exact in float64. Raises ValueError if the box does
    not contain a zero-sum point.
    """
    lam = np.asarray(lam, dtype=np.float64).reshape(-1).copy()
    m = lam.size
    lo = np.full(m, -np.inf) if lo is None else np.asarray(lo, dtype=np.float64)
    hi = np.full(m, np.inf) if hi is None else np.asarray(hi, dtype=np.float64)
    if np.any(lo > 0) or np.any(hi < 0):
        raise ValueError("lo, hi: the box must contain 0")
    lam = np.clip(lam, lo, hi)
    if np.all(np.isinf(lo)) and np.all(np.isinf(hi)):
        lam = lam - np.mean(lam)
    else:
        span = 1.0 + float(np.max(np.abs(np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)], [0.0]]))))
        a, b = float(np.min(lam)) - span, float(np.max(lam)) + span  # sum(clip(λ−τ)) is ≥ 0 at a, ≤ 0 at b
        for _ in range(200):
            tau = 0.5 * (a + b)
            s = float(np.sum(np.clip(lam - tau, lo, hi)))
            if s > 0:
                a = tau
            else:
                b = tau
            if b - a <= 1e-17 * max(1.0, abs(tau)):
                break
        lam = np.clip(lam - 0.5 * (a + b), lo, hi)
    M = float(np.max(np.abs(lam)))
    if M == 0.0:
        return np.zeros(m)
    e = math.frexp(M)[1] - 52 + math.ceil(math.log2(m + 1)) + 1  # |N_j| < 2^(52 - log2(m+1) - 1)
    N = np.trunc(np.ldexp(lam, -e)).astype(np.int64)
    big = float(2 ** 52)
    cap_dn = (N - np.clip(np.ceil(np.ldexp(lo, -e)), -big, big).astype(np.int64)).clip(0)  # units it may go down
    cap_up = (np.clip(np.floor(np.ldexp(hi, -e)), -big, big).astype(np.int64) - N).clip(0)
    S = int(N.sum())
    for _ in range(64):  # spread the integer correction −S evenly over the entries with room
        if S == 0:
            break
        cap = cap_dn if S > 0 else cap_up
        idx = np.flatnonzero(cap > 0)
        if idx.size == 0:
            raise ValueError("lam: the box [lo, hi] contains no zero-sum point near lam")
        per = -(-abs(S) // idx.size)
        take = np.minimum(cap[idx], per)
        take = np.minimum(take, np.maximum(abs(S) - (np.cumsum(take) - take), 0))  # total ≤ |S|
        step = -1 if S > 0 else 1
        N[idx] += step * take
        cap_dn[idx] += step * take
        cap_up[idx] -= step * take
        S += step * int(take.sum())
    if S != 0:  # pragma: no cover - each pass moves min(|S|, the room left) units
        raise ValueError("lam: could not reach an exact zero sum")
    out = np.ldexp(N.astype(np.float64), e)
    if math.fsum(out.tolist()) != 0.0 or np.any(out < lo) or np.any(out > hi):  # pragma: no cover - a bug if hit
        raise AssertionError("exact_zero_sum: construction failed")
    return out


def dual_value(loss: ProgramLoss, lam) -> tuple:
    r"""D(λ) = −(1/m) Σ_j ℓ_j*(λ_j) in float64, and its rounding allowance (stated here, once).

    Each conjugate term is a few float64 operations on parts t_j = (a_j, b_j) (squared: ½λ², λy;
    logistic: p log p, (1−p) log(1−p)), relative error ≤ 8u per part, plus for the logistic an absolute
    81u per term (input rounding of p = λ + q, see :class:`LogisticTerms`); summing m terms adds
    ≤ (m−1)u·Σ|t_j|. So |computed − exact| ≤ [(m+8)·u·Σ_j(|a_j| + |b_j|) + extra·u·m]/m, returned
    (times 1 + 1e-12) as the allowance; ``value − allowance`` ≤ D(λ) exactly. Returns
    (value, allowance); value = −inf outside the domain.
    """
    lam = np.asarray(lam, dtype=np.float64)
    m = lam.size
    lo, hi = loss.box()
    if np.any(lam < lo) or np.any(lam > hi):
        return -math.inf, 0.0
    terms, absparts = loss.conj(lam)
    value = -float(np.sum(terms)) / m
    allowance = ((m + 8) * U_ROUND * float(np.sum(absparts)) + loss.conj_extra_ulps * U_ROUND * m) / m
    return value, allowance * (1.0 + 1e-12)


def _best_scale(loss: ProgramLoss, lam: np.ndarray, s: float) -> float:
    """argmax_{t ∈ [0, s]} D(tλ) (concave in t): closed form (squared) or bisection on the derivative."""
    if s <= 0:
        return 0.0
    if isinstance(loss, SquaredTerms):
        nn = float(lam @ lam)
        if nn == 0:
            return s
        return float(np.clip(-(lam @ loss.y) / nn, 0.0, s))

    def deriv(t):  # d/dt D(tλ) = −(1/m) Σ λ_j ℓ*'(tλ_j)
        return -float(lam @ loss.conj_deriv(t * lam))

    if deriv(s) >= 0:
        return s
    a, b = 0.0, s
    for _ in range(80):
        mid = 0.5 * (a + b)
        if deriv(mid) > 0:
            a = mid
        else:
            b = mid
    return a


@dataclass
class DualCertificate:
    """What :func:`certified_dual_bound` returns.

    lower      : value − allowance, a certified lower bound on the convex optimum P* and on min J (any width)
    value      : D(λ) evaluated in float64;  allowance : its rounding allowance (:func:`dual_value`)
    lam        : the dual-feasible float64 point λ (exactly zero-sum with a bias, inside dom ℓ*)
    sup_bound  : certified upper bound on S(λ) (oracle value + allowance), ≤ level
    level      : the float ≤ mβ used as the constraint level
    scale      : t, λ = t·(projected candidate) up to the exact zero-sum rounding
    oracle     : the oracle at the projected candidate before scaling (its violators drive column generation)
    provenance : text naming the construction
    certified  : True when ``sup_bound`` is an upper bound on S(λ) (exact oracle, the SDP bound, or SCIP's dual bound);
                 False for an *estimate* from the heuristic search alone (:func:`estimated_dual_bound`)
    oracle_kind: "exact", "sdp" (rigorous SDP bound), "scip" (SCIP's bound) or "search" (what ``sup_bound`` rests on)
    proven     : False when the bound used stopped at a time limit (SCIP, or SCS short of its tolerance): valid, weaker
    """

    lower: float
    value: float
    allowance: float
    lam: np.ndarray = field(repr=False)
    sup_bound: float
    level: float
    scale: float
    oracle: OracleResult = field(repr=False)
    provenance: str = ""
    time: float = 0.0
    certified: bool = True
    oracle_kind: str = "exact"
    proven: bool = True


def certified_dual_bound(problem: TwoLayerProblem, lam0, top: int = 64, time_limit: float = 60.0,
                         starts=None) -> DualCertificate:
    r"""A certified lower bound on P* (and min J for every width) from any candidate λ (module docstring).

    ``lam0`` (m,) e.g. ℓ'(ŷ) at a primal point. Steps: clip to dom ℓ*; (bias) :func:`exact_zero_sum`; oracle → S̄
    (rigorous bound on S); t* = argmax_{t ≤ min(1, level/S̄)} D(tλ); λ* = t*·λ, re-made exactly zero-sum, re-checked
    (S̄(λ*) ≤ t*·S̄(λ) + :func:`_perturbation`, or by a second oracle call when that is not below the level; else t*
    shrinks and again); value D(λ*) − rounding allowance. The constraint level is a float ≤ mβ.

    With ``problem.oracle == "scip"`` (any d) the exact oracle is replaced by :func:`_scip_certificate`:
    the heuristic search (``starts``: extra start directions) scales λ so that no unit it finds exceeds
    the level, then the semidefinite relaxation (m ≤ :data:`SDP_MAX_SAMPLES`; rigorous) and SCIP bound S(λ)
    within ``time_limit`` seconds, and λ is scaled down by the smaller bound if it exceeds the level
    (``oracle_kind`` "sdp", or "scip" when SCIP's bound is used: the lower bound then rests on SCIP's tolerances).
    """
    t0 = time.perf_counter()
    X0, loss, bias = problem.X0, problem.loss, problem.bias
    lam, lo, hi = _project(problem, lam0)
    level = problem.beta_m_safe
    if problem.oracle == "scip":
        return _scip_certificate(problem, lam, lo, hi, top, time_limit, starts, t0)
    orc = dual_oracle(X0, lam, bias, top=top)
    s = 1.0 if orc.bound <= level else level / orc.bound
    t = _best_scale(loss, lam, s)
    for _ in range(8):
        lam_t = t * lam
        if bias:
            lam_t = exact_zero_sum(lam_t, lo, hi)
        else:
            lam_t = np.clip(lam_t, lo, hi)
        # S is positively homogeneous: S(tλ) = t·S(λ) ≤ t·bound; the zero-sum rounding moves it by at most
        # the perturbation bound — no second oracle call needed unless that is not enough
        scaled = t * orc.bound * (1.0 + 4 * U_ROUND) + _perturbation(problem, lam_t, t * lam)
        if scaled <= level:
            chk = OracleResult(value=min(t * orc.value, scaled), allowance=scaled - min(t * orc.value, scaled),
                               bound=scaled, F=orc.F[:1] * t, W=orc.W[:1], b=orc.b[:1], n_evals=0)
            break
        chk = dual_oracle(X0, lam_t, bias, top=1)
        if chk.bound <= level:
            break
        t *= (level / chk.bound) * (1.0 - 1e-12)
    else:  # pragma: no cover - shrinking by the measured ratio succeeds at once in practice
        lam_t, chk, t = np.zeros(problem.m), dual_oracle(X0, np.zeros(problem.m), bias, top=1), 0.0
    value, allowance = dual_value(loss, lam_t)
    return DualCertificate(lower=value - allowance, value=value, allowance=allowance, lam=lam_t, sup_bound=chk.bound,
                           level=level, scale=t, oracle=orc, time=time.perf_counter() - t0, oracle_kind="exact",
                           provenance=f"dual of the convex program at a scaled residual (t = {t:.12g}), feasibility "
                                      f"checked over all activation patterns by the exact oracle (d = {problem.d}), "
                                      f"evaluated in float64 minus a rounding allowance of {allowance:.1e}")


def _project(problem: TwoLayerProblem, lam0):
    """λ clipped to the conjugate's domain box and (bias) made exactly zero-sum; returns (λ, lo, hi)."""
    lo, hi = problem.loss.box()
    lam = np.clip(np.asarray(lam0, dtype=np.float64).reshape(-1), lo, hi)
    if lam.shape != (problem.m,) or not np.all(np.isfinite(lam)):
        raise ValueError(f"lam0: expected {problem.m} finite entries")
    if problem.bias:
        lam = exact_zero_sum(lam, lo, hi)
    return lam, lo, hi


#: the heuristic scaling aims this far (relative) below the level, so that SCIP's objective limit prunes
SEARCH_MARGIN = 1e-7


def _search_scaled(problem: TwoLayerProblem, lam, lo, hi, top, starts):
    """The search oracle at λ, and λ_t = t·λ (re-made zero-sum) with t = argmax D(tλ) over
    t ≤ min(1, level·(1 − margin)/S_search): feasible for every unit the search found."""
    level = problem.beta_m_safe
    orc = search_oracle(problem.X0, lam, problem.bias, starts=starts, top=top)
    s = 1.0 if orc.value <= level * (1 - SEARCH_MARGIN) else level * (1 - SEARCH_MARGIN) / orc.value
    t = _best_scale(problem.loss, lam, s)
    lam_t = exact_zero_sum(t * lam, lo, hi) if problem.bias else np.clip(t * lam, lo, hi)
    return orc, t, lam_t


def estimated_dual_bound(problem: TwoLayerProblem, lam0, top: int = 64, starts=None) -> DualCertificate:
    r"""An *estimate* of the certified bound (not a bound): λ scaled so that the units the heuristic search
    (:func:`~fenchel_cvx.certify.twolayer.search.search_oracle`) finds stay below the level, D(λ_t) minus its
    rounding allowance. ``certified`` is False: a pattern the search missed may violate the constraint.
    Column generation uses it between certifications (any d). ``lam0`` (m,) as in :func:`certified_dual_bound`."""
    t0 = time.perf_counter()
    lam, lo, hi = _project(problem, lam0)
    orc, t, lam_t = _search_scaled(problem, lam, lo, hi, top, starts)
    value, allowance = dual_value(problem.loss, lam_t)
    return DualCertificate(lower=value - allowance, value=value, allowance=allowance, lam=lam_t,
                           sup_bound=orc.value * t, level=problem.beta_m_safe, scale=t, oracle=orc,
                           time=time.perf_counter() - t0, certified=False, oracle_kind="search",
                           provenance="estimate (not certified): dual point scaled by the heuristic search only")


def _perturbation(problem: TwoLayerProblem, lam_a, lam_b) -> float:
    r"""An upper bound on |S(λ_a) − S(λ_b)|: |F_λa − F_λb| ≤ Σ_j |λ_a,j − λ_b,j| (‖x_j‖ + B) on ‖w‖ ≤ 1,
    |b| ≤ B = max_k ‖x_k‖ (B = 0 without a bias), plus 4u of each term for the rounding of the sum."""
    norms = np.linalg.norm(problem.X0, axis=0)
    M = norms + (float(norms.max(initial=0.0)) if problem.bias else 0.0)
    dl = np.abs(np.asarray(lam_a) - np.asarray(lam_b))
    return float(dl @ M) * (1.0 + 1e-12) + 4 * U_ROUND * float((np.abs(lam_a) + np.abs(lam_b)) @ M)


def scale_to_level(problem: TwoLayerProblem, lam_t, sbar: float, lo, hi) -> tuple:
    r"""λ* = c·λ_t re-made exactly zero-sum (bias) with S(λ*) ≤ level, given an upper bound ``sbar`` ≥ S(λ_t).

    c = 1 when ``sbar`` ≤ level; else c = argmax_{c' ≤ level/S̄} D(c'λ_t) and S(λ*) ≤ c·S̄(1 + 4u) +
    :func:`_perturbation` (λ*, c·λ_t) ≤ level is checked (c shrinks until it holds); S̄ = inf gives λ* = 0.
    Returns (λ*, its bound on S(λ*), c)."""
    level = problem.beta_m_safe
    lam_t = np.asarray(lam_t, dtype=np.float64)
    if not math.isfinite(sbar):
        return np.zeros(problem.m), 0.0, 0.0
    if sbar <= level:
        return lam_t, sbar, 1.0
    c = _best_scale(problem.loss, lam_t, level / sbar)
    for _ in range(60):
        lam_s = exact_zero_sum(c * lam_t, lo, hi) if problem.bias else np.clip(c * lam_t, lo, hi)
        bound = c * sbar * (1.0 + 4 * U_ROUND) + _perturbation(problem, lam_s, c * lam_t)
        if bound <= level:
            return lam_s, bound, c
        c *= (level / bound) * (1.0 - 1e-9)
    return np.zeros(problem.m), 0.0, 0.0  # pragma: no cover - the perturbation is ~1e-16 relative


#: SCIP runs first, for this share of the certification's time limit (at most SCIP_FIRST_MAX seconds) when the SDP
#: may follow, and for all of it when the SDP is skipped: at small d it proves S ≤ level in about a second (iris,
#: d = 4: 4.3 CPU-s for the whole certificate; with the SDP first 26.8 s for the same bracket)
SCIP_FIRST = 0.15
SCIP_FIRST_MAX = 15.0
#: share of the time left after SCIP given to the SDP bound (CVXPY's set-up overruns SCS's limit); SCS's tolerance
SDP_SHARE = 0.75
SDP_CERT_EPS = 1e-4


def _scip_certificate(problem: TwoLayerProblem, lam, lo, hi, top, time_limit, starts, t0) -> DualCertificate:
    r"""The certified dual bound with the SDP- and SCIP-bounded oracle (any d; :func:`certified_dual_bound`).

    λ_t from :func:`_search_scaled`; an upper bound on S(λ_t) from :func:`scip_oracle_bound` (objective limit =
    level; valid up to SCIP's tolerances) within :data:`SCIP_FIRST` of ``time_limit`` (at most
    :data:`SCIP_FIRST_MAX` s; all of it when the SDP does not fit) and, unless SCIP proved S ≤ level or closed its
    search, from the semidefinite relaxation (:func:`~fenchel_cvx.certify.twolayer.sdpbound.sdp_oracle_bound`,
    m ≤ :data:`SDP_MAX_SAMPLES` and m²(d + 2) ≤ :data:`SDP_MAX_ENTRIES`, within :data:`SDP_SHARE` of the time
    left: rigorous — weak duality with the solver's multipliers, an eigenvalue correction and rounding
    allowances); S̄ = the smaller; then :func:`scale_to_level`. ``oracle_kind`` is "sdp" when S̄ is the SDP's
    bound, "scip" when SCIP's.
    """
    loss, level = problem.loss, problem.beta_m_safe
    c0 = time.process_time()
    orc, t_h, lam_t = _search_scaled(problem, lam, lo, hi, top, starts)
    sdp_fits = problem.m <= SDP_MAX_SAMPLES and problem.m ** 2 * (problem.d + 2) <= SDP_MAX_ENTRIES
    first = min(SCIP_FIRST_MAX, SCIP_FIRST * time_limit) if sdp_fits else time_limit
    mip = scip_oracle_bound(problem.X0, lam_t, problem.bias, level=level, time_limit=max(1.0, first))
    sdp = None
    # SCIP proved S ≤ level, or closed its search (its bound is S up to its tolerances: the SDP's is ≥ S): no SDP
    if sdp_fits and mip.bound > level and not mip.proven:
        left = max(1.0, time_limit - (time.process_time() - c0))
        sdp = sdp_oracle_bound(problem.X0, lam_t, problem.bias, time_limit=max(1.0, SDP_SHARE * left),
                               eps=SDP_CERT_EPS)
    use_sdp = sdp is not None and sdp.bound <= mip.bound
    s_raw = sdp.bound if use_sdp else mip.bound
    lam_s, sbar, c = scale_to_level(problem, lam_t, s_raw, lo, hi)
    # the units SCIP found first (violators of λ_t), then the search's (both evaluated at their own λ)
    if mip.oracle.W.size:
        W, b = np.vstack([mip.oracle.W, orc.W]), np.concatenate([mip.oracle.b, orc.b])
        F = np.concatenate([mip.oracle.F / max(t_h, 1e-300), orc.F])
    else:
        W, b, F = orc.W, orc.b, orc.F
    found = max(orc.value, mip.value / max(t_h, 1e-300))
    cand = OracleResult(value=found, allowance=s_raw / max(t_h, 1e-300) - found, bound=s_raw / max(t_h, 1e-300),
                        F=F, W=W, b=b, n_evals=orc.n_evals + mip.nodes,
                        kind="sdp" if use_sdp else "scip")
    value, allowance = dual_value(loss, lam_s)
    parts = []
    st = ", ".join(f"{k}: {v}" for k, v in mip.status.items())
    parts.append(f"SCIP bound {mip.bound:.12g} ({st}, {mip.nodes} nodes, {mip.time:.1f}s; valid up to SCIP's LP "
                 "and feasibility tolerances)")
    if sdp is not None:
        parts.append(f"SDP (Shor + RLT) bound {sdp.bound:.12g} in {sdp.time:.1f}s: rigorous (weak duality with the "
                     "solver's multipliers, eigenvalue correction, float64 rounding allowances)")
    elif not sdp_fits:
        parts.append(f"no SDP bound (m = {problem.m}, d = {problem.d}: beyond SDP_MAX_SAMPLES = {SDP_MAX_SAMPLES} "
                     f"or m^2 (d + 2) > SDP_MAX_ENTRIES = {SDP_MAX_ENTRIES:.0e})")
    else:
        parts.append("SDP not run (SCIP's search closed)")
    used = "the SDP's (rigorous)" if use_sdp else "SCIP's (valid up to SCIP's tolerances)"
    return DualCertificate(lower=value - allowance, value=value, allowance=allowance, lam=lam_s, sup_bound=sbar,
                           level=level, scale=t_h * c, oracle=cand, time=time.perf_counter() - t0,
                           certified=True, oracle_kind="sdp" if use_sdp else "scip",
                           proven=sdp.finished if use_sdp else mip.proven,
                           provenance=(f"dual of the convex program at a scaled residual (t = {t_h * c:.12g}), "
                                       f"feasibility from S <= {sbar:.12g} <= m*beta over all activation patterns "
                                       f"(d = {problem.d}; the bound used: {used}; {'; '.join(parts)}), evaluated "
                                       f"in float64 minus a rounding allowance of {allowance:.1e}"))

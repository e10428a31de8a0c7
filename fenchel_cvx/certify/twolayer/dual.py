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
from .program import (
    ProgramLoss,
    SquaredTerms,
    TwoLayerProblem,
)


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


def certified_dual_bound(problem: TwoLayerProblem, lam0, top: int = 64) -> DualCertificate:
    r"""A certified lower bound on P* (and min J for every width) from any candidate λ (module docstring).

    ``lam0`` (m,) e.g. ℓ'(ŷ) at a primal point. Steps: clip to dom ℓ*; (bias) :func:`exact_zero_sum`;
    oracle → S̄ (rigorous bound on S); t* = argmax_{t ≤ min(1, level/S̄)} D(tλ); λ* = t*·λ, re-made
    exactly zero-sum, re-checked by the oracle (S̄(λ*) ≤ level, else t* shrinks and again); value
    D(λ*) − rounding allowance. The constraint level is a float ≤ mβ.
    """
    t0 = time.perf_counter()
    X0, loss, bias = problem.X0, problem.loss, problem.bias
    lo, hi = loss.box()
    lam = np.clip(np.asarray(lam0, dtype=np.float64).reshape(-1), lo, hi)
    if lam.shape != (problem.m,) or not np.all(np.isfinite(lam)):
        raise ValueError(f"lam0: expected {problem.m} finite entries")
    if bias:
        lam = exact_zero_sum(lam, lo, hi)
    level = problem.beta_m_safe
    orc = dual_oracle(X0, lam, bias, top=top)
    s = 1.0 if orc.bound <= level else level / orc.bound
    t = _best_scale(loss, lam, s)
    for _ in range(8):
        lam_t = t * lam
        if bias:
            lam_t = exact_zero_sum(lam_t, lo, hi)
        else:
            lam_t = np.clip(lam_t, lo, hi)
        chk = dual_oracle(X0, lam_t, bias, top=1)
        if chk.bound <= level:
            break
        t *= (level / chk.bound) * (1.0 - 1e-12)
    else:  # pragma: no cover - shrinking by the measured ratio succeeds at once in practice
        lam_t, chk, t = np.zeros(problem.m), dual_oracle(X0, np.zeros(problem.m), bias, top=1), 0.0
    value, allowance = dual_value(loss, lam_t)
    return DualCertificate(lower=value - allowance, value=value, allowance=allowance, lam=lam_t, sup_bound=chk.bound,
                           level=level, scale=t, oracle=orc, time=time.perf_counter() - t0,
                           provenance=f"dual of the convex program at a scaled residual (t = {t:.12g}), feasibility "
                                      f"checked over all activation patterns by the exact oracle (d = {problem.d}), "
                                      f"evaluated in float64 minus a rounding allowance of {allowance:.1e}")

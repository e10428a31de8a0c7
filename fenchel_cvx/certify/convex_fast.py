r"""Certified brackets for two-layer ReLU networks at scale: the convex program, its dual, column generation.

Problem. Network ``[d, n, 1]``, f(x) = Σ_i a_i (w_iᵀx + b_i)₊ + c, data X0 (d x m, one column per
sample), a per-sample convex loss ℓ_j, weight decay on the weights only:

    J = (1/m) Σ_j ℓ_j(f(x_j)) + ρ_0/2 ‖W_0‖²_F + ρ_1/2 ‖a‖².

Losses: ``squared`` ℓ_j(z) = ½(z − y_j)²; ``logistic`` ℓ_j(z) = log(1 + e^z) − q_j z with q_j ∈ [0, 1]
(q_j = 1 for the positive class: ℓ = log(1 + e^{−z}); labels y ∈ {0, 1} give q = y, y ∈ {−1, +1} give
q = (1 + y)/2). A ``[d, n, 2]`` cross-entropy network is the same problem exactly: its loss depends on
z = z_0 − z_1 only (ℓ = log(1 + e^z) − q z with q = Y[0] the target probability of class 0), and for
a fixed difference δ = a_0i − a_1i the output decay ρ_1/2 (a_0i² + a_1i²) is minimised by
a_0i = −a_1i = δ/2, giving ρ_1/4 δ², i.e. the one-output problem with **ρ_1' = ρ_1/2** (and the
optimal two-output network is the one-output one with rows (a/2, −a/2), bias (c/2, −c/2)).

Convex program (Pilanci & Ergen 2020; any convex loss). With A = [X0ᵀ 1] (m x p, p = d+1; X0ᵀ
without a bias), β = √(ρ_0ρ_1), patterns D of the chambers of {u : a_jᵀu = 0} and cones
K_D = {u : (2D − 1)∘(A u) ≥ 0}:

    P* = min (1/m) Σ_j ℓ_j(ŷ_j) + β Σ_blocks ‖u[:d]‖,   ŷ = Σ_blocks s·D∘(A u) + c1,   u ∈ K_D,

one block per pattern and sign s = ±1 (only the weight part u[:d] is penalised). The all-ones
pattern is replaced by one free *linear block* ω ∈ ℝ^d (output X0ᵀω, cost β‖ω‖) — exact, because
with the free c its bias part is redundant — and the all-zero pattern is dropped. P* ≤ J for every
width; P* = min J when the width n ≥ r, the number of units of a solution (module
:mod:`fenchel_cvx.certify.convex`).

**Dual and the certified lower bound.** For every λ ∈ ℝ^m with (bias) 1ᵀλ = 0 and
S(λ) = sup_{‖w‖≤1, b} |Σ_j λ_j (x_jᵀw + b)₊| ≤ mβ, and every network:

    J ≥ (1/m) Σ_j ℓ_j(ŷ_j) + β Σ_i |a_i| ‖w_i‖                      (AM–GM on each unit)
      ≥ (1/m) [λᵀŷ − Σ_j ℓ_j*(λ_j)] + β Σ_i |a_i| ‖w_i‖               (Fenchel–Young)
      ≥ −(1/m) Σ_j ℓ_j*(λ_j) =: D(λ),

since λᵀŷ = Σ_i a_i Σ_j λ_j (x_jᵀw_i + b_i)₊ + c·1ᵀλ ≥ −Σ_i |a_i| ‖w_i‖ mβ (positive homogeneity;
units with w_i = 0 give a_i (b_i)₊ 1ᵀλ = 0). The same chain bounds P*. Conjugates:
squared ℓ_j*(λ) = ½λ² + λ y_j; logistic ℓ_j*(λ) = p log p + (1−p) log(1−p) with p = λ + q_j ∈ [0, 1]
(+∞ outside). At the optimum λ_j = ℓ_j'(ŷ_j) (the residual ŷ − y, resp. σ(ŷ) − q).
:func:`certified_dual_bound` turns any candidate λ (a primal solution's residual, a solver's duals)
into a feasible point *provably*: clip to the conjugate's domain box, make 1ᵀλ = 0 hold exactly
(:func:`exact_zero_sum`: dyadic rounding with integer bookkeeping), compute S(λ) exactly with a
rigorous rounding allowance (:func:`fenchel_cvx.certify.arrangement.dual_oracle`, d ≤ 3), scale by
t ≤ min(1, mβ/S) — both domains are intervals containing 0, so scaling keeps ℓ* finite; t maximises
D(tλ) on that range — re-check the scaled float64 point with the oracle, and evaluate D in float64
minus the rounding allowance of :func:`dual_value` (the one place where the evaluation's rounding is
accounted for). The result is a lower bound on P* and on min J **for every width**.

**Column generation.** :func:`convex_certificate` solves the program restricted to a small pattern
set (fast path :func:`solve_restricted_fast`, a primal log-barrier Newton method in numpy with a
Woodbury solve; its CVXPY twin :func:`solve_restricted_cvxpy` is the same program with all m
constraints per block), takes λ = ℓ'(ŷ), certifies it, adds the chambers of the oracle's most
violated units (its maximisers are units through one or two samples), and stops when the certified
lower bound and the J of the recovered network (judged by ``FenchelNetwork.objective``) agree to the
tolerance. scnn (``pyscnn``, Mishkin et al.) trains these convex programs with *sampled* patterns —
which yields networks (upper bounds) but no certificate that no pattern is missing; here the exact
oracle over all patterns makes the lower bound certified as well.

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import linprog
from scipy.special import expit, xlogy

from ..network import FenchelNetwork
from .arrangement import (
    ORACLE_DIMS,
    U_ROUND,
    OracleResult,
    chambers_at,
    cone_facets,
    data_matrix,
    dual_oracle,
)

__all__ = [
    "SUPPORTED_CONVEX_FAST", "ConvexScopeError", "ProgramLoss", "SquaredTerms", "LogisticTerms",
    "TwoLayerProblem", "exact_zero_sum", "dual_value", "DualCertificate", "certified_dual_bound",
    "PatternSet", "RestrictedSolution", "solve_restricted_fast", "solve_restricted_cvxpy",
    "recover_network", "recovery_candidates", "sparsify_units", "ConvexCertificate", "convex_certificate",
]

SUPPORTED_CONVEX_FAST = (
    "two-layer ReLU networks with d in {1, 2, 3} features, weight decay rho_0, rho_1 > 0 (biases unpenalised), "
    "either [d, n, 1] with the squared loss, [d, n, 1] with the logistic loss (arrays API), or "
    "[d, n, 2] with two-class cross-entropy; m <= 1000 samples for d <= 2 and m <= 60 for d = 3 unless "
    "allow_large=True (the exact dual oracle costs O(m^2 log m), resp. O(m^4), per call)")

#: default sample limits without ``allow_large``: d ≤ 2 (oracle O(m² log m) per call), d = 3 (O(m⁴))
MAX_SAMPLES = 1000
MAX_SAMPLES_3D = 60


class ConvexScopeError(ValueError):
    """An input outside :data:`SUPPORTED_CONVEX_FAST` (a ValueError; to be re-parented under the
    package's error base class)."""


# ---------------------------------------------------------------------------------------------
# per-sample losses of the convex program
# ---------------------------------------------------------------------------------------------
class ProgramLoss:
    """A per-sample convex loss ℓ_j(z) (vectorised over samples, arrays of shape (m,)): value, first and
    second derivative, conjugate ℓ_j*(λ) with the box [lo, hi] of its domain, CVXPY form."""

    name = "loss"
    #: extra absolute rounding allowance per conjugate term, in units of u (see :func:`dual_value`)
    conj_extra_ulps = 0.0

    def value(self, z):
        raise NotImplementedError

    def grad(self, z):
        raise NotImplementedError

    def hess(self, z):
        raise NotImplementedError

    def conj(self, lam):
        """ℓ_j*(λ_j) per sample, and Σ|parts| per sample (for the rounding allowance)."""
        raise NotImplementedError

    def conj_deriv(self, lam):
        raise NotImplementedError

    def box(self):
        """(lo, hi): float arrays with lo ≤ 0 ≤ hi such that every float λ_j ∈ [lo_j, hi_j] is in dom ℓ_j*."""
        raise NotImplementedError

    def cvx(self, z):
        """CVXPY expression of Σ_j ℓ_j(z_j)."""
        raise NotImplementedError

    def best_constant(self) -> float:
        raise NotImplementedError


class SquaredTerms(ProgramLoss):
    r"""ℓ_j(z) = ½(z − y_j)²;  ℓ' = z − y, ℓ'' = 1;  ℓ_j*(λ) = ½λ² + λ y_j on ℝ."""

    name = "squared"

    def __init__(self, y):
        self.y = np.asarray(y, dtype=np.float64).reshape(-1)

    def value(self, z):
        r = z - self.y
        return 0.5 * r * r

    def grad(self, z):
        return z - self.y

    def hess(self, z):
        return np.ones_like(z)

    def conj(self, lam):
        a, b = 0.5 * lam * lam, lam * self.y
        return a + b, np.abs(a) + np.abs(b)

    def conj_deriv(self, lam):
        return lam + self.y

    def box(self):
        m = self.y.size
        return np.full(m, -np.inf), np.full(m, np.inf)

    def cvx(self, z):
        return 0.5 * cp.sum_squares(z - self.y)

    def best_constant(self) -> float:
        return float(np.mean(self.y))


class LogisticTerms(ProgramLoss):
    r"""ℓ_j(z) = log(1 + e^z) − q_j z, q_j ∈ [0, 1];  ℓ' = σ(z) − q, ℓ'' = σ(z)σ(−z);
    ℓ_j*(λ) = p log p + (1 − p) log(1 − p), p = λ + q_j ∈ [0, 1] (0 log 0 = 0)."""

    name = "logistic"
    # evaluating at p̂ = fl(λ + q) instead of p moves (1−p)log(1−p) by ≤ 2u(|log 2u| + 1) < 76u and
    # p log p by ≤ u·p(|log p| + 1); 81u per term covers both
    conj_extra_ulps = 81.0

    def __init__(self, q):
        self.q = np.asarray(q, dtype=np.float64).reshape(-1)

    def value(self, z):
        return np.logaddexp(0.0, z) - self.q * z

    def grad(self, z):
        return expit(z) - self.q

    def hess(self, z):
        return expit(z) * expit(-z)

    def conj(self, lam):
        p = lam + self.q
        a, b = xlogy(p, p), xlogy(1.0 - p, 1.0 - p)
        return a + b, np.abs(a) + np.abs(b)

    def conj_deriv(self, lam):
        p = np.clip(lam + self.q, 1e-300, 1.0)
        return np.log(p) - np.log(np.maximum(1.0 - p, 1e-300))

    def box(self):
        q = self.q
        lo = -q  # exact
        hi = 1.0 - q  # exact for q = 0 and q ≥ 1/2 (Sterbenz); else one ulp down is ≤ the exact 1 − q
        hi = np.where((q >= 0.5) | (q == 0.0), hi, np.nextafter(hi, -np.inf))
        return lo, hi

    def cvx(self, z):
        return cp.sum(cp.logistic(z)) - self.q @ z

    def best_constant(self) -> float:
        qm = float(np.clip(np.mean(self.q), 1e-12, 1 - 1e-12))
        return math.log(qm / (1 - qm))


# ---------------------------------------------------------------------------------------------
# the problem
# ---------------------------------------------------------------------------------------------
@dataclass
class TwoLayerProblem:
    """A validated two-layer problem (module docstring). ``X0`` d x m; ``loss`` the per-sample terms;
    ``rho0``, ``rho1`` the weight decays of the *one-output* form (for a ``[d, n, 2]`` cross-entropy
    network rho1 = ρ_1/2); ``outputs`` 1 or 2 says how networks are judged; ``width`` n;
    ``targets`` the targets to give ``FenchelNetwork.objective``."""

    X0: np.ndarray
    loss: ProgramLoss
    rho0: float
    rho1: float
    bias: bool
    width: int
    outputs: int
    targets: object
    rho_net: tuple

    @property
    def d(self) -> int:
        return self.X0.shape[0]

    @property
    def m(self) -> int:
        return self.X0.shape[1]

    @property
    def beta(self) -> float:
        return math.sqrt(self.rho0 * self.rho1)

    @property
    def beta_m_safe(self) -> float:
        """A float ≤ m·√(ρ_0ρ_1) exactly (the dual constraint level, rounded down: three roundings, 4u)."""
        return self.m * self.beta * (1.0 - 8 * U_ROUND)

    @property
    def A(self) -> np.ndarray:
        return data_matrix(self.X0, self.bias)

    def network(self, W0, b0, a, c) -> FenchelNetwork:
        """The judged network of this problem from one-output units: ``[d, r, 1]`` (squared) or
        ``[d, r, 2]`` cross-entropy with output rows (a/2, −a/2) and bias (c/2, −c/2)."""
        r = W0.shape[0]
        if self.outputs == 1:
            net = FenchelNetwork([self.d, r, 1], "relu", "squared", rho=list(self.rho_net), bias=self.bias, seed=0)
            net.set_params([W0, a[None, :]], [b0, np.array([c])])
        else:
            net = FenchelNetwork([self.d, r, 2], "relu", "cross_entropy", rho=list(self.rho_net), bias=self.bias,
                                 seed=0)
            net.set_params([W0, np.vstack([a / 2, -a / 2])], [b0, np.array([c / 2, -c / 2])])
        return net

    def judge(self, W0, b0, a, c) -> float:
        """J of the network (one-output units) by ``FenchelNetwork.objective`` in float64."""
        return float(self.network(W0, b0, a, c).objective(self.X0, self.targets))

    @classmethod
    def from_network(cls, net, X0, y, allow_large: bool = False) -> TwoLayerProblem:
        """From a ``FenchelNetwork`` ``[d, n, 1]`` (squared loss) or ``[d, n, 2]`` (cross-entropy), ReLU,
        ρ_0, ρ_1 > 0; its weights and λ are ignored. Raises ConvexScopeError outside the scope."""
        if not isinstance(net, FenchelNetwork):
            raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
        sizes = list(net.sizes)
        acts = sorted({a.name for a in net.activations})
        if len(sizes) != 3 or acts != ["relu"]:
            raise ConvexScopeError(f"net: sizes {sizes}, activations {acts}; supported: {SUPPORTED_CONVEX_FAST}")
        loss = net.loss.name
        if not ((loss == "squared" and sizes[2] == 1) or (loss == "cross_entropy" and sizes[2] == 2)):
            raise ConvexScopeError(f"net: loss {loss!r} with {sizes[2]} output(s); supported: {SUPPORTED_CONVEX_FAST}")
        rho = np.asarray(net.rho, dtype=float)
        if np.any(rho <= 0):
            raise ConvexScopeError(f"net.rho: expected rho_0, rho_1 > 0, got {rho.tolist()}")
        X0c = net.check_input(_to_numpy(X0)).astype(np.float64)
        Y = np.asarray(net.check_targets(_to_numpy(y), X0c.shape[1]), dtype=np.float64)
        if loss == "squared":
            terms, rho1 = SquaredTerms(Y[0]), float(rho[1])
        else:
            terms, rho1 = LogisticTerms(Y[0]), float(rho[1]) / 2.0
        return cls._finish(X0c, terms, float(rho[0]), rho1, net.bias, sizes[1], sizes[2], Y, tuple(rho.tolist()),
                           allow_large)

    @classmethod
    def from_arrays(cls, X0, y, rho, loss: str = "squared", width: int = 1, bias: bool = True,
                    allow_large: bool = False) -> TwoLayerProblem:
        """From arrays: X0 (d x m), y (m,) or (1 x m), rho = ρ (both layers) or (ρ_0, ρ_1) of the
        ``[d, width, 1]`` network, ``loss`` "squared" or "logistic" (y ∈ {0,1}, {−1,+1} or q ∈ [0,1])."""
        X0 = np.asarray(_to_numpy(X0), dtype=np.float64)
        if X0.ndim != 2:
            raise ValueError(f"X0: expected a d x m array, got shape {X0.shape}")
        if not np.all(np.isfinite(X0)):
            raise ValueError("X0: contains NaN or inf")
        m = X0.shape[1]
        y = np.asarray(_to_numpy(y), dtype=np.float64).reshape(-1)
        if y.size != m:
            raise ValueError(f"y: expected {m} targets (one per column of X0), got {y.size}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y: contains NaN or inf")
        r = np.broadcast_to(np.asarray(rho, dtype=float).reshape(-1), (2,)).astype(float)
        if not np.all(r > 0):
            raise ConvexScopeError(f"rho: expected rho_0, rho_1 > 0, got {r.tolist()}")
        if not isinstance(width, (int, np.integer)) or width < 1:
            raise ValueError(f"width: expected a positive integer, got {width!r}")
        if loss == "squared":
            terms, targets, outputs, rho_net = SquaredTerms(y), y[None, :], 1, (r[0], r[1])
        elif loss == "logistic":
            if np.any(y < 0):
                if not np.all(np.isin(y, (-1.0, 1.0))):
                    raise ValueError("y: logistic labels must be in {0, 1}, {-1, +1}, or probabilities in [0, 1]")
                q = (1.0 + y) / 2.0
            elif np.all(y <= 1):
                q = y
            else:
                raise ValueError("y: logistic labels must be in {0, 1}, {-1, +1}, or probabilities in [0, 1]")
            terms, outputs, rho_net = LogisticTerms(q), 2, (r[0], 2.0 * r[1])
            targets = np.vstack([q, 1.0 - q])  # class 0 = positive class (z = z_0 − z_1)
        else:
            raise ConvexScopeError(f"loss: {loss!r}; supported: 'squared', 'logistic' ({SUPPORTED_CONVEX_FAST})")
        return cls._finish(X0, terms, float(r[0]), float(r[1]), bool(bias), int(width), outputs, targets,
                           rho_net, allow_large)

    @classmethod
    def _finish(cls, X0, terms, rho0, rho1, bias, width, outputs, targets, rho_net, allow_large):
        d, m = X0.shape
        if d not in ORACLE_DIMS:
            raise ConvexScopeError(f"X0: d = {d} features; the exact dual oracle is implemented for d in "
                                   f"{ORACLE_DIMS}; supported: {SUPPORTED_CONVEX_FAST}")
        limit = MAX_SAMPLES if d <= 2 else MAX_SAMPLES_3D
        if m > limit and not allow_large:
            raise ConvexScopeError(f"X0: m = {m} samples > {limit} for d = {d} (the exact oracle costs "
                                   f"{'O(m^2 log m)' if d <= 2 else 'O(m^4)'} per call); pass allow_large=True to run anyway")
        if isinstance(terms, LogisticTerms):
            q = terms.q
            if np.any(q < 0) or np.any(q > 1):
                raise ValueError("y: logistic targets must lie in [0, 1]")
            if np.all(q == q[0]) and q[0] in (0.0, 1.0):
                raise ValueError("y: all samples have the same class; the logistic infimum 0 is not attained "
                                 "(the output bias runs to infinity)")
        return cls(X0=X0, loss=terms, rho0=rho0, rho1=rho1, bias=bias, width=width, outputs=outputs,
                   targets=targets, rho_net=tuple(float(v) for v in rho_net))


def _to_numpy(a):
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


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


# ---------------------------------------------------------------------------------------------
# pattern sets and restricted programs
# ---------------------------------------------------------------------------------------------
class PatternSet:
    """Patterns of a restricted program: D (P x m bool), interior directions E (P x p, unit), the facet
    rows of each chamber's cone (indices into the samples). The all-zero pattern is refused (its
    blocks output nothing), and with a bias (``bias=True``) the all-one pattern too (the linear block
    stands for it)."""

    def __init__(self, A: np.ndarray, bias: bool = True):
        self.A = np.asarray(A, dtype=np.float64)
        self.bias = bool(bias)
        self.D = np.zeros((0, self.A.shape[0]), dtype=bool)
        self.E = np.zeros((0, self.A.shape[1]))
        self.facets: list = []
        self._keys: dict = {}

    def __len__(self):
        return self.D.shape[0]

    def add(self, D, e) -> bool:
        """Add the chamber with pattern D and interior point e; False if known or trivial."""
        D = np.asarray(D, dtype=bool)
        if not D.any() or (self.bias and D.all()):
            return False
        key = np.packbits(D).tobytes()
        if key in self._keys:
            return False
        G = (2.0 * D - 1.0)[:, None] * self.A
        self._keys[key] = len(self)
        self.D = np.vstack([self.D, D[None, :]])
        self.E = np.vstack([self.E, np.asarray(e, dtype=np.float64)[None, :]])
        self.facets.append(cone_facets(G, e))
        return True

    def add_unit(self, u) -> int:
        """Add the chambers whose closure contains the unit u = (w, b); returns how many were new."""
        return sum(self.add(D, e) for D, e in chambers_at(self.A, np.asarray(u, dtype=np.float64)))

    def keep(self, idx) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        self.D, self.E = self.D[idx], self.E[idx]
        self.facets = [self.facets[i] for i in idx]
        self._keys = {np.packbits(D).tobytes(): i for i, D in enumerate(self.D)}

    def index(self, D) -> int | None:
        return self._keys.get(np.packbits(np.asarray(D, dtype=bool)).tobytes())


@dataclass
class RestrictedSolution:
    """A point of the restricted program: blocks U (2P x p; rows 0..P−1 sign +1, P..2P−1 sign −1, block
    k and k+P belong to pattern k), linear block ``omega`` (d,) (zeros without a bias), output bias
    ``c``, predictions ``yhat`` (m,), ``value`` = (1/m)Σℓ(ŷ) + β(Σ‖u[:d]‖ + ‖ω‖) at this point (the
    restricted objective: not a bound), ``gap`` the solver's own duality-gap estimate."""

    U: np.ndarray
    omega: np.ndarray
    c: float
    yhat: np.ndarray
    value: float
    status: str
    gap: float
    iterations: int
    time: float
    t: float = 0.0
    T: np.ndarray | None = field(default=None, repr=False)


def _predict(problem: TwoLayerProblem, patterns: PatternSet, U, omega, c) -> np.ndarray:
    """ŷ = Σ_k D_k∘(A(u_k⁺ − u_k⁻)) + X0ᵀω + c (m,)."""
    P = len(patterns)
    A = problem.A
    AU = A @ (U[:P] - U[P:]).T  # m x P
    y = np.sum(AU * patterns.D.T, axis=1) + c
    if problem.bias:
        y = y + problem.X0.T @ omega
    return y


def _restricted_value(problem, patterns, U, omega, c) -> tuple:
    d = problem.d
    yhat = _predict(problem, patterns, U, omega, c)
    reg = float(np.sum(np.linalg.norm(U[:, :d], axis=1))) + (float(np.linalg.norm(omega)) if problem.bias else 0.0)
    return float(np.sum(problem.loss.value(yhat))) / problem.m + problem.beta * reg, yhat


def solve_restricted_cvxpy(problem: TwoLayerProblem, patterns: PatternSet, solver: str = "CLARABEL",
                           **solver_opts) -> RestrictedSolution:
    """The restricted program in CVXPY: every block with all m cone constraints (2D−1)∘(A u) ≥ 0 (not
    only the facets), the linear block and c with a bias; the reference twin of
    :func:`solve_restricted_fast`. Raises ValueError if the solver does not reach optimality."""
    t0 = time.perf_counter()
    A, d, m, beta = problem.A, problem.d, problem.m, problem.beta
    P = len(patterns)
    S = (2.0 * patterns.D - 1.0)  # P x m
    Up, Um = cp.Variable((P, A.shape[1])), cp.Variable((P, A.shape[1]))
    AUp, AUm = A @ Up.T, A @ Um.T  # m x P
    yhat = cp.sum(cp.multiply(patterns.D.T.astype(float), AUp - AUm), axis=1)
    reg = cp.sum(cp.norm(Up[:, :d], 2, axis=1)) + cp.sum(cp.norm(Um[:, :d], 2, axis=1))
    cons = [cp.multiply(S.T, AUp) >= 0, cp.multiply(S.T, AUm) >= 0]
    if problem.bias:
        om, c = cp.Variable(d), cp.Variable()
        yhat = yhat + problem.X0.T @ om + c
        reg = reg + cp.norm(om, 2)
    prob = cp.Problem(cp.Minimize(problem.loss.cvx(yhat) / m + beta * reg), cons)
    prob.solve(solver=solver, **solver_opts)
    if prob.status != cp.OPTIMAL:
        raise ValueError(f"solve_restricted_cvxpy: solver {solver} returned status {prob.status!r}")
    U = np.vstack([Up.value, Um.value])
    omega = np.asarray(om.value) if problem.bias else np.zeros(d)
    cval = float(c.value) if problem.bias else 0.0
    value, yh = _restricted_value(problem, patterns, U, omega, cval)
    return RestrictedSolution(U=U, omega=omega, c=cval, yhat=yh, value=value, status="optimal",
                              gap=float("nan"), iterations=int(prob.solver_stats.num_iters or 0),
                              time=time.perf_counter() - t0)


#: total SQS trace of the blocks left out of the Newton system's Woodbury matrix (refinement fixes it)
DROP_WEIGHT = 1e-2


class _Barrier:
    r"""The log-barrier problem of a restricted program at parameter t:

        Φ_t = t·[(1/m)Σ_j ℓ_j(ŷ_j) + β(Σ_b τ_b + τ_ω)] − Σ_b Σ_{facets f} log(r_bfᵀu_b)
              − Σ_b log(τ_b² − ‖u_b[:d]‖²) − log(τ_ω² − ‖ω‖²),

    variables: blocks z_b = (u_b, τ_b) ∈ ℝ^{p+1} (b = 0..2P−1; block b has sign s_b = ±1 and the
    pattern D_b, F_b = s_b diag(D_b) A), and the free part f = (ω, τ_ω, c) with a bias.
    ν = Σ_b(#facets_b + 2) + 2 is the barrier parameter: at the minimiser of Φ_t the duality gap of
    the restricted program is ν/t. Facet rows are stored compactly (all blocks' rows stacked, block
    by block), block QR factorisations are batched in buckets of similar facet counts.
    """

    def __init__(self, problem: TwoLayerProblem, patterns: PatternSet):
        self.pb = problem
        A, D = problem.A, patterns.D
        P = len(patterns)
        self.P, self.B, self.p, self.d, self.m = P, 2 * P, A.shape[1], problem.d, problem.m
        sgn = np.concatenate([np.ones(P), -np.ones(P)])
        Dbl = np.vstack([D, D]).astype(float)  # B x m
        self.A = A
        self.AA = (A[:, :, None] * A[:, None, :]).reshape(A.shape[0], -1)  # rows a_j a_jᵀ
        self.Dabs = Dbl.T  # m x B
        self.DS = Dbl.T * sgn[None, :]  # m x B: F_b = diag(DS[:, b]) A
        facets = list(patterns.facets) * 2
        counts = np.array([len(f) for f in facets], dtype=np.int64)
        if np.any(counts == 0):
            raise ValueError("patterns: a chamber without facet rows")
        rows = [(2.0 * D[k % P, f] - 1.0)[:, None] * A[f] for k, f in enumerate(facets)]
        self.Rr = np.vstack(rows)  # N x p
        self.rb = np.repeat(np.arange(self.B), counts)  # block of each row
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.counts = counts
        self.buckets = []  # (blocks, row-index matrix padded with N (a zero row))
        N = len(self.Rr)
        for lo, hi in ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10 ** 9)):
            bl = np.flatnonzero((counts > lo) & (counts <= hi))
            if bl.size:
                fb = int(counts[bl].max())
                idx = np.full((bl.size, fb), N, dtype=np.int64)
                for i, b in enumerate(bl):
                    idx[i, :counts[b]] = np.arange(self.starts[b], self.starts[b] + counts[b])
                self.buckets.append((bl, idx))
        self.nu = float(N + 2 * self.B + (2 if problem.bias else 0))
        self.free = problem.bias
        if self.free:
            self.Ff = np.hstack([problem.X0.T, np.zeros((self.m, 1)), np.ones((self.m, 1))])  # m x (d+2)

    def fmul(self, U):
        """Σ_b F_b u_b = Σ_b s_b D_b∘(A u_b)  (m,)."""
        return np.sum((self.A @ U.T) * self.DS, axis=1)

    def ftmul(self, v):
        """(F_bᵀ v)_b = s_b Aᵀ(D_b∘v)  (B x p)."""
        return (self.DS * v[:, None]).T @ self.A

    def rows(self, U):
        """Facet values r_bfᵀu_b of every row (N,)."""
        return np.einsum("np,np->n", self.Rr, U[self.rb])

    def segsum(self, V):
        """Per-block sums of row quantities V (N x k) -> (B x k)."""
        return np.add.reduceat(V, self.starts, axis=0)

    # state: U (B x p), T (B,), f = (ω, τ_ω, c) or empty
    def yhat(self, U, f):
        y = self.fmul(U)
        if self.free:
            y = y + self.Ff @ f
        return y

    def feasible(self, U, T, f) -> bool:
        if np.any(self.rows(U) <= 0):
            return False
        w = U[:, :self.d]
        if np.any(T <= 0) or np.any(T * T - np.sum(w * w, axis=1) <= 0):
            return False
        if self.free:
            om, to = f[:self.d], f[self.d]
            if to <= 0 or to * to - om @ om <= 0:
                return False
        return True

    def objective(self, U, T, f):
        y = self.yhat(U, f)
        obj = float(np.sum(self.pb.loss.value(y))) / self.m + self.pb.beta * (float(np.sum(T)) + (f[self.d] if self.free else 0.0))
        return obj, y

    def phi(self, t, U, T, f):
        obj, y = self.objective(U, T, f)
        w = U[:, :self.d]
        s = T * T - np.sum(w * w, axis=1)
        val = t * obj - float(np.sum(np.log(self.rows(U)))) - float(np.sum(np.log(s)))
        if self.free:
            om, to = f[:self.d], f[self.d]
            val -= math.log(to * to - om @ om)
        return val, obj, y

    def max_step(self, U, dU) -> float:
        """Largest a ≤ 1 with 0.99 of the way to the first facet row reaching 0 along U + a dU."""
        g, dg = self.rows(U), self.rows(dU)
        neg = dg < 0
        return min(1.0, 0.99 * float(np.min(-g[neg] / dg[neg]))) if neg.any() else 1.0

    @staticmethod
    def _soc_factor(w, T):
        """Square root of the Hessian of −log(τ² − ‖w‖²) (rows (…, d+1, d+1), in (w, τ) coordinates):
        √(2/s)·Λ with Λ = [[I + w̄w̄ᵀ/(1+τ̄), −w̄], [−w̄ᵀ, τ̄]], (w̄, τ̄) = (w, τ)/√s, s = τ² − ‖w‖²
        (a Lorentz boost; Λ² = 2Jx̄x̄ᵀJ − J, J = diag(−I, 1), which is the Hessian times s/2)."""
        d = w.shape[-1]
        s = T * T - np.sum(w * w, axis=-1)
        rs = np.sqrt(s)
        wb, tb = w / rs[..., None], T / rs
        Lam = np.zeros(w.shape[:-1] + (d + 1, d + 1))
        Lam[..., :d, :d] = np.eye(d) + np.einsum("...i,...j->...ij", wb, wb) / (1.0 + tb)[..., None, None]
        Lam[..., :d, d] = -wb
        Lam[..., d, :d] = -wb
        Lam[..., d, d] = tb
        return Lam * np.sqrt(2.0 / s)[..., None, None]

    def newton(self, t, U, T, f, y):
        r"""Newton direction (ΔU, ΔT, Δf) of Φ_t and the decrement² = −∇Φᵀ Δ.

        Hessian K = blockdiag(H_b, H_ω) ⊕ 0_c + t·F̂ᵀ diag(ℓ''/m) F̂ (F̂: blocks, linear block and c to ŷ).
        Each block Hessian is used in factored form H_b = M_bᵀM_b (facet rows r/g and the SOC square
        root), inverted through the QR factor of M_b, never formed (its condition number reaches 1e20).
        With S = diag(√(tℓ''/m)), Q = F H_rest⁻¹ Fᵀ and C = I + SQS (≥ I, Cholesky), K Δ = r is solved
        in ŷ-space: ζ = S z (z = F̂Δ) solves C ζ = S F H⁻¹ r_rest + S1 Δc, the c-row gives
        (S1)ᵀζ = r_c (no Schur complement that could cancel), Δ_rest = H⁻¹(r_rest − FᵀSζ). Blocks of
        negligible loss coupling (:data:`DROP_WEIGHT`) are left out of C, and three steps of iterative
        refinement with the matrix-free product K·Δ follow.
        """
        pb, m, d, p, B = self.pb, self.m, self.d, self.p, self.B
        gl = pb.loss.grad(y) / m
        h = t * pb.loss.hess(y) / m
        sq = np.sqrt(h)
        g = self.rows(U)
        Rw = self.Rr / g[:, None]  # scaled facet rows r/g (N x p)
        w = U[:, :d]
        s = T * T - np.sum(w * w, axis=1)
        gradU = t * self.ftmul(gl) - self.segsum(Rw)
        gradU[:, :d] += 2 * w / s[:, None]
        gradT = t * pb.beta - 2 * T / s
        gb = np.concatenate([gradU, gradT[:, None]], axis=1)
        soc = self._soc_factor(w, T)  # B x (d+1) x (d+1)
        cols = list(range(d)) + [p]
        Rinv = np.empty((B, p + 1, p + 1))
        Rw_pad = np.vstack([Rw, np.zeros((1, p))])
        for bl, idx in self.buckets:
            Mk = np.zeros((bl.size, idx.shape[1] + d + 1, p + 1))
            Mk[:, :idx.shape[1], :p] = Rw_pad[idx]
            Mk[:, idx.shape[1]:, cols] = soc[bl]
            Rinv[bl] = np.linalg.inv(np.linalg.qr(Mk, mode="r"))  # H_b⁻¹ = Rinv Rinvᵀ
        X = Rinv[:, :p, :]  # (H_b⁻¹)_uu = X_b X_bᵀ
        # share of block b in SQS: trace = ⟨X_bX_bᵀ, Aᵀdiag(h∘D_b)A⟩; the blocks of least trace, up to a
        # total of DROP_WEIGHT (at large t: the blocks at 0), are left out of C, which moves by at most
        # that much in norm: the iterative refinement below (contraction ≤ DROP_WEIGHT) absorbs it
        Gb = ((self.Dabs * h[:, None]).T @ self.AA).reshape(B, p, p)
        weight = np.einsum("bpq,bpq->b", X @ np.swapaxes(X, 1, 2), Gb)
        order = np.argsort(weight)
        small = np.cumsum(weight[order]) <= DROP_WEIGHT
        big = np.sort(order[~small])
        AX = (self.A @ np.transpose(X[big], (1, 0, 2)).reshape(p, -1)).reshape(m, len(big), p + 1)
        FXb = (self.DS[:, big, None] * AX).reshape(m, -1)  # F_b X_b of the kept blocks
        Q = FXb @ FXb.T
        if self.free:
            om, to = f[:d], f[d]
            sf = to * to - om @ om
            g_om = np.concatenate([t * (pb.X0 @ gl) + 2 * om / sf, [t * pb.beta - 2 * to / sf]])
            g_c = t * float(np.sum(gl))
            Mf = self._soc_factor(om, np.asarray(to))
            Rinv_f = np.linalg.inv(np.linalg.qr(Mf, mode="r"))
            FXf = pb.X0.T @ Rinv_f[:d, :]  # m x (d+1)
            Q += FXf @ FXf.T
            grad = (gb, g_om, g_c)
        else:
            grad = (gb, None, 0.0)
        C = np.eye(m) + sq[:, None] * Q * sq[None, :]
        cf = cho_factor(C)
        s1 = cho_solve(cf, sq) if self.free else None  # C⁻¹S1

        def hinv_b(V):
            return np.einsum("bpq,bq->bp", Rinv, np.einsum("bqp,bq->bp", Rinv, V))

        def solve(rb, rf, rc):
            yb = hinv_b(rb)
            z = self.fmul(yb[:, :p])
            if self.free:
                yf = Rinv_f @ (Rinv_f.T @ rf)
                z = z + pb.X0.T @ yf[:d]
            v0 = cho_solve(cf, sq * z)
            if self.free:
                dc = (rc - sq @ v0) / (sq @ s1)
                zeta = v0 + s1 * dc
            else:
                dc, zeta = 0.0, v0
            hz = sq * zeta  # H z
            corr = np.zeros_like(rb)
            corr[:, :p] = self.ftmul(hz)
            Db = yb - hinv_b(corr)
            if not self.free:
                return Db, None, 0.0
            cf_ = np.zeros(d + 1)
            cf_[:d] = pb.X0 @ hz
            return Db, yf - Rinv_f @ (Rinv_f.T @ cf_), dc

        def kmul(Db, Dfo, Dc):  # K·Δ, matrix-free
            out_b = np.zeros_like(Db)
            out_b[:, :p] = self.segsum(Rw * np.einsum("np,np->n", Rw, Db[self.rb, :p])[:, None])
            sw = np.einsum("bij,bj->bi", soc, Db[:, cols])
            out_b[:, cols] += np.einsum("bij,bi->bj", soc, sw)
            z = self.fmul(Db[:, :p])
            if self.free:
                z = z + pb.X0.T @ Dfo[:d] + Dc
            hz = h * z
            out_b[:, :p] += self.ftmul(hz)
            if not self.free:
                return out_b, None, 0.0
            out_f = Mf.T @ (Mf @ Dfo)
            out_f[:d] += pb.X0 @ hz
            return out_b, out_f, float(np.sum(hz))

        rhs = (-grad[0], None if grad[1] is None else -grad[1], -grad[2])
        D = solve(*rhs)
        for _ in range(3):  # iterative refinement
            K = kmul(*D)
            e = solve(rhs[0] - K[0], None if K[1] is None else rhs[1] - K[1], rhs[2] - K[2])
            D = (D[0] + e[0], None if e[1] is None else D[1] + e[1], D[2] + e[2])
        Db, Dfo, Dc = D
        dec = -float(np.sum(gb * Db)) - (float(grad[1] @ Dfo) + grad[2] * Dc if self.free else 0.0)
        df = np.concatenate([Dfo, [Dc]]) if self.free else np.zeros(0)
        return Db[:, :p], Db[:, p], df, dec


#: the barrier path stops before t·objective exceeds this: Φ_t is then evaluated with an absolute
#: rounding error ~1e-4, the limit of a float64 line search
T_OBJ_MAX = 1e12


def solve_restricted_fast(problem: TwoLayerProblem, patterns: PatternSet, tol: float = 1e-11,
                          warm: RestrictedSolution | None = None, warm_map=None, mu: float = 20.0,
                          max_newton: int = 400) -> RestrictedSolution:
    r"""The restricted program by a primal log-barrier method (:class:`_Barrier`), numpy float64.

    Path following: t ← μt after each centring (damped Newton with backtracking, feasibility kept)
    until ν/t ≤ ``tol``·max(1e-12, objective), or until t·objective would exceed :data:`T_OBJ_MAX`
    (status "optimal (precision limit)"; ``gap`` = ν/t says what was reached). Each block's cone is given by its facet rows only
    (:func:`~fenchel_cvx.certify.arrangement.cone_facets`; the same cone). ``warm`` (a previous
    solution) with ``warm_map`` (old pattern index for each current pattern, −1 for new) starts from
    the previous blocks, nudged into the interior. Damped Newton (Armijo) outside the quadratic
    region, pure Newton steps inside it (decrement² < 1/16), where the Armijo test would only see
    the rounding of Φ_t. Status "optimal" when the gap target was met after a converged centring,
    "optimal (precision limit)", "not centred at t = … " (the point is returned; the dual
    certificate built from it is still valid, only weaker), or "max_newton".
    """
    t_start = time.perf_counter()
    bar = _Barrier(problem, patterns)
    P, d = bar.P, bar.d
    scale = 1.0 / max(1.0, float(np.max(np.linalg.norm(problem.A, axis=1))))
    alpha0 = 1e-2 * scale
    E2 = np.vstack([patterns.E, patterns.E])
    c0 = problem.loss.best_constant()
    if warm is not None and warm_map is not None:
        Pold = warm.U.shape[0] // 2
        U = alpha0 * 1e-3 * E2
        for k, ko in enumerate(warm_map):
            if ko >= 0:
                U[k] += warm.U[ko]
                U[k + P] += warm.U[ko + Pold]
        f = np.concatenate([warm.omega, [0.0], [warm.c]]) if bar.free else np.zeros(0)
    else:
        U = alpha0 * E2
        f = np.concatenate([np.zeros(d), [0.0], [c0]]) if bar.free else np.zeros(0)
    T = 1.5 * np.linalg.norm(U[:, :d], axis=1) + alpha0 * 1e-3
    if bar.free:
        f[d] = 1.5 * np.linalg.norm(f[:d]) + alpha0 * 1e-3
    if not bar.feasible(U, T, f):  # warm start off the cones (pattern set changed): cold start
        U = alpha0 * E2
        T = 1.5 * np.linalg.norm(U[:, :d], axis=1) + alpha0 * 1e-3
    obj0, _ = bar.objective(U, T, f)
    t = bar.nu / max(obj0, 1e-12)
    if warm is not None and warm.t > 0:
        t = max(t, warm.t / mu ** 3)
    n_newton, status = 0, "max_newton"
    while True:
        dec, numerical = math.inf, ""
        for _ in range(100):  # centring at t
            val, obj, y = bar.phi(t, U, T, f)
            try:
                dU, dT, df, dec = bar.newton(t, U, T, f, y)
            except np.linalg.LinAlgError:
                numerical = "singular Newton system"
                break
            n_newton += 1
            if not (math.isfinite(dec) and dec >= -1e-9 * (1 + abs(val))):
                numerical = f"Newton decrement {dec:.1e} not positive"
                break
            if dec <= 1e-12:
                break
            # largest step keeping the facet constraints, then feasibility of the cones
            a = bar.max_step(U, dU)
            while a > 1e-14 and not bar.feasible(U + a * dU, T + a * dT, f + a * df):
                a *= 0.5
            if not (a == 1.0 and dec < 0.0625):  # outside the quadratic region (Newton decrement ≥ 1/4): Armijo
                while a > 1e-14:
                    if bar.phi(t, U + a * dU, T + a * dT, f + a * df)[0] <= val - 0.25 * a * dec:
                        break
                    a *= 0.5
            if a <= 1e-14:
                numerical = f"line search failed at Newton decrement² {dec:.1e}, t = {t:.1e}"
                break
            U, T, f = U + a * dU, T + a * dT, f + a * df
            if n_newton >= max_newton:
                break
        centred = dec <= 1e-6
        gap = bar.nu / t
        obj, _ = bar.objective(U, T, f)
        if centred and (gap <= tol * max(obj, 1e-12) or mu * t * max(obj, 1e-12) > T_OBJ_MAX):
            status = "optimal" if gap <= tol * max(obj, 1e-12) else "optimal (precision limit)"
            break
        if not centred:
            status = f"not centred at t = {t:.1e} (Newton decrement² {dec:.1e}{'; ' + numerical if numerical else ''})"
            break
        if n_newton >= max_newton:
            break
        t *= mu
    omega = f[:d].copy() if bar.free else np.zeros(d)
    cval = float(f[d + 1]) if bar.free else 0.0
    value, yhat = _restricted_value(problem, patterns, U, omega, cval)
    return RestrictedSolution(U=U, omega=omega, c=cval, yhat=yhat, value=value, status=status, gap=bar.nu / t,
                              iterations=n_newton, time=time.perf_counter() - t_start, t=t, T=T)


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


def _network_of_units(problem: TwoLayerProblem, units, c):
    d, r = problem.d, len(units)
    W0, b0, a = np.zeros((max(r, 1), d)), np.zeros(max(r, 1)), np.zeros(max(r, 1))
    for i, (s, v) in enumerate(units):
        nw = float(np.linalg.norm(v[:d]))
        t = (problem.rho1 / (problem.rho0 * nw * nw)) ** 0.25
        W0[i], a[i] = t * v[:d], s / t
        b0[i] = t * v[d] if problem.bias else 0.0
    return W0, b0, a, float(c), problem.judge(W0, b0, a, float(c)), r


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


# ---------------------------------------------------------------------------------------------
# column generation
# ---------------------------------------------------------------------------------------------
@dataclass
class ConvexCertificate:
    """What :func:`convex_certificate` returns.

    lower       : certified lower bound on P* — hence on min J for **every** width (dual point,
                  float64 with rounding allowance);  ``lower_provenance`` says how
    upper       : J of the network recovered from the best restricted solution (judged by
                  ``FenchelNetwork.objective``) — an upper bound on P* always, and on min J of
                  width n when ``exact`` (n_active ≤ width);  ``upper_provenance``
    gap         : (upper − lower)/|upper| (never negative; see ``notes`` if rounding made it so)
    n_active    : r, the units of the recovered network;  width : n;  exact : r ≤ n
    n_patterns  : patterns in the final restricted set;  rounds : column-generation rounds
    primal      : the restricted program's value at its solution (not a bound)
    converged   : gap ≤ tol reached;  status : text
    W, b        : the recovered network's parameters ([W0, W1], [b0, b1]) in the judged shape
    network     : the recovered ``FenchelNetwork``
    history     : per round (patterns, primal, lower, upper, seconds)
    timings     : seconds spent in the restricted solver, the oracle/certificate, recovery, total
    """

    lower: float
    upper: float
    lower_provenance: str
    upper_provenance: str
    n_active: int
    width: int
    n_patterns: int
    rounds: int
    primal: float
    converged: bool
    status: str
    time: float
    dual: DualCertificate = field(repr=False, default=None)
    W: list = field(repr=False, default_factory=list)
    b: list = field(repr=False, default_factory=list)
    network: FenchelNetwork | None = field(repr=False, default=None)
    history: list = field(repr=False, default_factory=list)
    timings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.n_active <= self.width

    @property
    def gap(self) -> float:
        return max(0.0, (self.upper - self.lower) / max(abs(self.upper), 1e-300))


def convex_certificate(net=None, X0=None, y=None, *, problem: TwoLayerProblem | None = None, tol: float = 1e-7,
                       solver: str = "fast", max_rounds: int = 60, time_limit: float = 300.0,
                       n_init: int = 30, add_per_round: int = 30, barrier_tol: float = 1e-11,
                       allow_large: bool = False, seed: int = 0, verbose: bool = False) -> ConvexCertificate:
    r"""Certified bracket lower ≤ P* ≤ upper for a two-layer ReLU network by column generation (module docstring).

    Give ``net`` (a ``FenchelNetwork`` ``[d, n, 1]`` squared loss or ``[d, n, 2]`` cross-entropy, ReLU,
    ρ_0, ρ_1 > 0), ``X0`` (d x m) and ``y``; or a ready ``problem`` (:meth:`TwoLayerProblem.from_arrays`
    for the logistic ``[d, n, 1]`` form). ``solver`` "fast" (:func:`solve_restricted_fast`) or
    "cvxpy" (:func:`solve_restricted_cvxpy`, CLARABEL). Stops when (upper − lower)/|upper| ≤ ``tol``,
    after ``max_rounds`` rounds or ``time_limit`` seconds (``converged`` says which). Raises
    ConvexScopeError (a ValueError) outside :data:`SUPPORTED_CONVEX_FAST`.
    """
    t_all = time.perf_counter()
    if problem is None:
        if net is None or X0 is None or y is None:
            raise TypeError("convex_certificate: give net, X0 and y, or problem=")
        problem = TwoLayerProblem.from_network(net, X0, y, allow_large=allow_large)
    elif not isinstance(problem, TwoLayerProblem):
        raise TypeError(f"problem: expected a TwoLayerProblem, got {type(problem).__name__}")
    if solver not in ("fast", "cvxpy"):
        raise ValueError(f"solver: expected 'fast' or 'cvxpy', got {solver!r}")
    if not (tol >= 0):
        raise ValueError(f"tol: expected a value >= 0, got {tol!r}")
    m, loss = problem.m, problem.loss
    A = problem.A
    patterns = PatternSet(A, problem.bias)
    timings = {"restricted": 0.0, "certificate": 0.0, "recovery": 0.0}
    # initial patterns: the most violated units at the best constant model
    y0 = np.full(m, loss.best_constant())
    tc = time.perf_counter()
    cert0 = certified_dual_bound(problem, loss.grad(y0), top=n_init)
    timings["certificate"] += time.perf_counter() - tc
    best_cert = cert0
    for w, b in zip(cert0.oracle.W, cert0.oracle.b, strict=True):
        patterns.add_unit(np.append(w, b) if problem.bias else w)
    if len(patterns) == 0:  # λ = 0 (e.g. constant targets): any chamber
        rng = np.random.default_rng(seed)
        while len(patterns) == 0:
            patterns.add_unit(rng.normal(size=A.shape[1]))
    best_up = None  # (J, W0, b0, a, c, r)
    sol, history, notes, warm_map, gap = None, [], [], None, 1.0
    zero_rounds = np.zeros(len(patterns), dtype=int)
    status, converged, rounds = "max_rounds", False, 0
    for rounds in range(1, max_rounds + 1):
        ts = time.perf_counter()
        if solver == "fast":
            # early rounds need no tight solve: the gap is dominated by missing patterns
            tol_r = max(barrier_tol, min(1e-4, 1e-2 * gap)) if history else 1e-4
            sol = solve_restricted_fast(problem, patterns, tol=tol_r, warm=sol, warm_map=warm_map)
        else:
            sol = solve_restricted_cvxpy(problem, patterns)
        timings["restricted"] += time.perf_counter() - ts
        tc = time.perf_counter()
        cert = certified_dual_bound(problem, loss.grad(sol.yhat), top=max(add_per_round, 8))
        timings["certificate"] += time.perf_counter() - tc
        if cert.lower > best_cert.lower:
            best_cert = cert
        tr = time.perf_counter()
        W0, b0, a, c, J, r = recover_network(problem, sol, sparsify=False)
        timings["recovery"] += time.perf_counter() - tr
        if best_up is None or (r > problem.width, J) < (best_up[5] > problem.width, best_up[0]):
            best_up = (J, W0, b0, a, c, r, sol.value, sol)  # networks of width ≤ n first, then least J
        gap = (best_up[0] - best_cert.lower) / max(abs(best_up[0]), 1e-300)
        history.append(dict(round=rounds, patterns=len(patterns), primal=sol.value, lower=cert.lower, upper=J,
                            gap=gap, sup_ratio=cert.oracle.bound / cert.level, solver_status=sol.status,
                            seconds=time.perf_counter() - t_all))
        if verbose:
            print(f"round {rounds}: {len(patterns)} patterns, primal {sol.value:.12g}, lower {cert.lower:.12g}, "
                  f"upper {J:.12g}, gap {gap:.2e}, S/mβ {cert.oracle.bound / cert.level:.6f}, "
                  f"{sol.status} ({sol.iterations} Newton), {time.perf_counter() - t_all:.1f}s")
        if gap <= tol:
            status, converged = "converged", True
            break
        if time.perf_counter() - t_all > time_limit:
            status = "time_limit"
            break
        # prune patterns that stayed at zero, add the chambers of the most violated units
        P = len(patterns)
        nrm = np.linalg.norm(sol.U[:, :problem.d], axis=1)
        big = max(float(nrm.max(initial=0.0)), 1e-300)
        zero = np.maximum(nrm[:P], nrm[P:]) <= 1e-7 * big
        zero_rounds = np.where(zero, zero_rounds + 1, 0)
        keep = np.flatnonzero(zero_rounds < 3)
        old_index = np.arange(P)[keep]
        patterns.keep(keep)
        zero_rounds = zero_rounds[keep]
        orc = cert.oracle
        viol = np.abs(orc.F) > cert.level
        added = 0
        for w, b in zip(orc.W[viol], orc.b[viol], strict=True):
            added += patterns.add_unit(np.append(w, b) if problem.bias else w)
            if added >= add_per_round:
                break
        zero_rounds = np.concatenate([zero_rounds, np.zeros(len(patterns) - len(zero_rounds), dtype=int)])
        warm_map = np.concatenate([old_index, -np.ones(len(patterns) - len(old_index), dtype=int)])
        if added == 0:
            if not sol.status.startswith("optimal") or sol.status.endswith("(precision limit)") \
                    or barrier_tol <= 1e-14 or solver == "cvxpy":
                status = "stalled"
                notes.append("no new violated pattern but the gap is open: limited by the restricted "
                             f"solver's accuracy (last status {sol.status!r}, gap estimate {sol.gap:.1e})")
                break
            barrier_tol *= 1e-2
    J, W0, b0, a, c, r, primal, best_sol = best_up
    tr = time.perf_counter()
    sp = recover_network(problem, best_sol, sparsify=True, seed=seed)  # sparsified: fewer units, same objective
    if (sp[5] > problem.width, sp[4]) <= (r > problem.width, J):
        W0, b0, a, c, J, r = sp
    timings["recovery"] += time.perf_counter() - tr
    gap = (J - best_cert.lower) / max(abs(J), 1e-300)
    if converged and gap > tol:
        converged, status = False, "converged only with a network wider than n"
    net_rec = problem.network(W0, b0, a, c)
    lower = best_cert.lower
    if r > problem.width:
        notes.append(f"the recovered network needs r = {r} > n = {problem.width} units: `upper` bounds min J only "
                     f"for widths >= {r}; for width n the certified lower bound still holds, min J may lie above upper")
    if lower > J:
        notes.append(f"lower bound {lower!r} above the judged J {J!r}: float64 rounding of the judge; reported as is")
    timings["total"] = time.perf_counter() - t_all
    up_prov = "J of the network recovered from the convex program (FenchelNetwork.objective, float64)"
    return ConvexCertificate(lower=lower, upper=J, lower_provenance=best_cert.provenance, upper_provenance=up_prov,
                             n_active=r, width=problem.width, n_patterns=len(patterns), rounds=rounds, primal=primal,
                             converged=converged, status=status, time=timings["total"], dual=best_cert,
                             W=[w.copy() for w in net_rec.W], b=[v.copy() for v in net_rec.b], network=net_rec,
                             history=history, timings=timings, notes=notes)

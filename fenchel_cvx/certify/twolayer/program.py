r"""The two-layer problem of the convex certificates: data, losses of the convex program, scope.

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p. See :mod:`fenchel_cvx.certify.twolayer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from scipy.special import expit, xlogy

from ...backend import to_numpy
from ...network import FenchelNetwork
from ..problem import ScopeError, check_dense, require_scip
from .arrangement import (
    ORACLE_DIMS,
    U_ROUND,
    data_matrix,
)
from .sdpbound import SDP_MAX_ENTRIES, SDP_MAX_SAMPLES

SUPPORTED_CONVEX_FAST = (
    "two-layer ReLU networks with any number d of features, weight decay rho_0, rho_1 > 0 (biases unpenalised), "
    "either [d, n, 1] with the squared loss, [d, n, 1] with the logistic loss (arrays API), or "
    "[d, n, 2] with two-class cross-entropy. The dual oracle is exact for d <= 2 (m <= 1000 samples unless "
    "allow_large=True) and for d = 3 with m <= 60 (or allow_large=True); otherwise it is bounded by SCIP "
    "(the 'global' extra, PySCIPOpt), valid up to SCIP's tolerances")

#: the dual oracles: "exact" (sweeps, d ≤ 3, rigorous rounding allowance) and "scip" (heuristic search for
#: column generation, SCIP's dual bound of a mixed-integer SOCP for the certificate; any d)
ORACLES = ("auto", "exact", "scip")
#: default sample limits of the exact oracle without ``allow_large``: d ≤ 2 (O(m² log m) per call), d = 3 (O(m⁴))
MAX_SAMPLES = 1000
MAX_SAMPLES_3D = 60


class ConvexScopeError(ScopeError):
    """An input outside :data:`SUPPORTED_CONVEX_FAST` (a :class:`~fenchel_cvx.certify.ScopeError`, hence a
    ValueError)."""


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
def out_of_scope(net: FenchelNetwork) -> str:
    """Why the dense network ``net`` is outside :data:`SUPPORTED_CONVEX_FAST` (architecture, activation, loss,
    weight decay, features; the data's size is checked with the data), or "" when it is inside."""
    sizes, loss = list(net.sizes), net.loss.name
    acts = sorted({a.name for a in net.activations})
    if len(sizes) != 3 or acts != ["relu"]:
        return f"net: sizes {sizes}, activations {acts}"
    if not ((loss == "squared" and sizes[2] == 1) or (loss == "cross_entropy" and sizes[2] == 2)):
        return f"net: loss {loss!r} with {sizes[2]} output(s)"
    if np.any(np.asarray(net.rho, dtype=float) <= 0):
        return f"net.rho: expected rho_0, rho_1 > 0, got {np.asarray(net.rho, dtype=float).tolist()}"
    return ""


@dataclass
class TwoLayerProblem:
    """A validated two-layer problem (module docstring). ``X0`` d x m; ``loss`` the per-sample terms;
    ``rho0``, ``rho1`` the weight decays of the *one-output* form (for a ``[d, n, 2]`` cross-entropy
    network rho1 = ρ_1/2); ``outputs`` 1 or 2 says how networks are judged; ``width`` n;
    ``targets`` the targets to give ``FenchelNetwork.objective``; ``oracle`` "exact" (sweeps, d ≤ 3) or
    "scip" (search + SCIP bound, any d), chosen by :meth:`from_arrays` / :meth:`from_network`."""

    X0: np.ndarray
    loss: ProgramLoss
    rho0: float
    rho1: float
    bias: bool
    width: int
    outputs: int
    targets: object
    rho_net: tuple
    oracle: str = "exact"

    @property
    def oracle_text(self) -> str:
        """What the dual oracle of this problem is and what its bound rests on (for reports)."""
        if self.oracle == "exact":
            return (f"exact dual oracle over all activation patterns (d = {self.d} sweep) with a rigorous "
                    "float64 rounding allowance")
        return ("dual oracle bounded by the smaller of a semidefinite (Shor + RLT) relaxation's bound (rigorous: weak "
                f"duality with float64 allowances; m <= {SDP_MAX_SAMPLES} and m^2 (d + 2) <= {SDP_MAX_ENTRIES:.0e}) "
                f"and SCIP's (mixed-integer SOCP over the sign pattern and the unit ball, d = {self.d}; valid up to "
                "SCIP's LP and feasibility tolerances) — the provenance says which; heuristic search for column "
                "generation")

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
    def from_network(cls, net, X0, y, allow_large: bool = False, oracle: str = "auto") -> TwoLayerProblem:
        """From a ``FenchelNetwork`` ``[d, n, 1]`` (squared loss) or ``[d, n, 2]`` (cross-entropy), ReLU,
        ρ_0, ρ_1 > 0; its weights and λ are ignored; ``oracle`` as in :meth:`from_arrays`. Raises
        ConvexScopeError outside the scope."""
        check_dense(net, "the convex certificates", SUPPORTED_CONVEX_FAST)
        why = out_of_scope(net)
        if why:
            raise ConvexScopeError(f"{why}; supported: {SUPPORTED_CONVEX_FAST}")
        sizes, loss = list(net.sizes), net.loss.name
        rho = np.asarray(net.rho, dtype=float)
        X0c = net.check_input(to_numpy(X0)).astype(np.float64)
        Y = np.asarray(net.check_targets(to_numpy(y), X0c.shape[1]), dtype=np.float64)
        if loss == "squared":
            terms, rho1 = SquaredTerms(Y[0]), float(rho[1])
        else:
            terms, rho1 = LogisticTerms(Y[0]), float(rho[1]) / 2.0
        return cls._finish(X0c, terms, float(rho[0]), rho1, net.bias, sizes[1], sizes[2], Y, tuple(rho.tolist()),
                           allow_large, oracle)

    @classmethod
    def from_arrays(cls, X0, y, rho, loss: str = "squared", width: int = 1, bias: bool = True,
                    allow_large: bool = False, oracle: str = "auto") -> TwoLayerProblem:
        """From arrays: X0 (d x m), y (m,) or (1 x m), rho = ρ (both layers) or (ρ_0, ρ_1) of the
        ``[d, width, 1]`` network, ``loss`` "squared" or "logistic" (y ∈ {0,1}, {−1,+1} or q ∈ [0,1]).
        ``oracle``: "exact" (d ≤ 3; sample limits unless ``allow_large``), "scip" (any d; needs PySCIPOpt)
        or "auto" (exact where it is within its limits: d ≤ 2, or d = 3 with m ≤ 60 or ``allow_large``; else scip)."""
        X0 = np.asarray(to_numpy(X0), dtype=np.float64)
        if X0.ndim != 2:
            raise ValueError(f"X0: expected a d x m array, got shape {X0.shape}")
        if not np.all(np.isfinite(X0)):
            raise ValueError("X0: contains NaN or inf")
        m = X0.shape[1]
        y = np.asarray(to_numpy(y), dtype=np.float64).reshape(-1)
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
                           rho_net, allow_large, oracle)

    @classmethod
    def _finish(cls, X0, terms, rho0, rho1, bias, width, outputs, targets, rho_net, allow_large, oracle):
        d, m = X0.shape
        if oracle not in ORACLES:
            raise ValueError(f"oracle: expected one of {ORACLES}, got {oracle!r}")
        if m < 1:
            raise ValueError("X0: no samples (expected a d x m array with m >= 1)")
        limit = MAX_SAMPLES if d <= 2 else MAX_SAMPLES_3D
        if oracle == "auto":
            oracle = "exact" if d <= 2 or (d in ORACLE_DIMS and (m <= limit or allow_large)) else "scip"
        if oracle == "exact" and d not in ORACLE_DIMS:
            raise ConvexScopeError(f"oracle: the exact dual oracle is implemented for d in {ORACLE_DIMS}, got d = {d} "
                                   "(use oracle='scip')")
        if oracle == "scip":
            try:
                require_scip()
            except ImportError as e:
                raise ConvexScopeError(f"X0: d = {d} features needs the SCIP-bounded dual oracle: {e}") from e
        if oracle == "exact" and m > limit and not allow_large:
            raise ConvexScopeError(f"X0: m = {m} samples > {limit} for d = {d} (the exact oracle costs "
                                   f"{'O(m^2 log m)' if d <= 2 else 'O(m^4)'} per call); pass allow_large=True to run "
                                   "anyway")
        if isinstance(terms, LogisticTerms):
            q = terms.q
            if np.any(q < 0) or np.any(q > 1):
                raise ValueError("y: logistic targets must lie in [0, 1]")
            if np.all(q == q[0]) and q[0] in (0.0, 1.0):
                raise ValueError("y: all samples have the same class; the logistic infimum 0 is not attained "
                                 "(the output bias runs to infinity)")
        return cls(X0=X0, loss=terms, rho0=rho0, rho1=rho1, bias=bias, width=width, outputs=outputs,
                   targets=targets, rho_net=tuple(float(v) for v in rho_net), oracle=oracle)

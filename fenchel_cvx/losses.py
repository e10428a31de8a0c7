r"""Losses ℓ(Y, Z), summed over samples, on numpy, torch and CVXPY: one object per loss with all its facts.

Shapes: outputs ``Z`` are k x m (one column per sample); targets ``Y`` are k x m as well after
:meth:`Loss.targets` (integer class labels of shape (m,) become one-hot columns for cross-entropy).

Each loss is written once (a subclass of :class:`Loss`, in the style of CVXPY's atoms: an object
that answers questions) and carries

* ``value`` ℓ(Y, Z), ``grad`` ∇_Z ℓ, ``conj`` ℓ*(Y, G) = sup_Z ⟨G, Z⟩ − ℓ(Y, Z) (dual certificates),
  ``cvx`` (the CVXPY form), ``hess_bound`` c_ℓ (∇²ℓ ≼ c_ℓ I per sample), ``targets``, ``predict``;
* the facts the W-blocks' Newton-CG solver needs (:mod:`fenchel_cvx.blocks.glm` composes them
  with the affine map once): ``separable`` (rows of Z decouple), ``row_values`` (per-row values and
  magnitudes), ``curvature`` (what the Hessian-vector product needs), ``hvp``, ``row_scale``
  (Σ_j of the Hessian diagonal per row) and ``bias_step`` (the exact minimiser of ℓ(Y, Z + δ1ᵀ)
  over the bias shift δ);
* ``bias_blockers(Y)``: the rows whose bias has no minimiser (unpenalised biases then drift);
* for the certified dual bounds (:mod:`fenchel_cvx.blocks.certificates`): ``mean_point``, ``conj_mean``,
  ``curvature_scale`` and the *anchor* facts that repair the constraint A1 = 0 of an unpenalised bias.

The losses:

* :class:`CrossEntropy`:  ℓ(Y, Z) = −Σ_ij Y_ij log softmax(Z[:, j])_i = Σ_j [s_j lse(Z[:, j]) − ⟨Y[:, j], Z[:, j]⟩]
  with s_j = Σ_i Y_ij (= 1; with s_j a column summing to 1 only up to rounding keeps ℓ bounded below along
  Z + c1ᵀ, so an unpenalised bias has a minimiser); ∇ = s·softmax(Z) − Y;
  Hessian per column s_j(diag p − ppᵀ) ≼ ½ s_j I; ℓ*(Y, G) = Σ_j s_j Σ_i p log p with p = (Y + G)_j / s_j,
  finite iff every such p lies in the simplex.
* :class:`SquaredLoss`:  ℓ(Y, Z) = ½ ‖Z − Y‖²_F;  ∇ = Z − Y;  Hessian I;  ℓ*(Y, G) = ½‖G‖² + ⟨G, Y⟩.
* :class:`FenchelYoungLoss` of an activation φ = f' (the data term of the hidden W-blocks):
  ℓ(Y, Z) = Σ [f(Z) − Z∘Y] = Σ B_φ(Z, Y) − Σ f*(Y) (the Fenchel divergence up to a constant);
  ∇ = φ(Z) − Y; Hessian diag φ'(Z) ≼ Lip(φ) I; ℓ*(Y, G) = Σ f*(Y + G); targets Y ∈ dom f*.

CVXPY is imported only by ``cvx`` (``import fenchel_cvx`` does not load it).
"""

from __future__ import annotations

import abc
import math

import numpy as np

from . import activations as _act
from .backend import is_torch, namespace, to_numpy

__all__ = ["Loss", "CrossEntropy", "SquaredLoss", "FenchelYoungLoss", "get", "names"]


class Loss(abc.ABC):
    """Base class of the losses (module docstring); subclasses define the abstract methods."""

    name = "loss"
    #: c_ℓ: bound on the spectral norm of the per-sample Hessian in Z
    hess_bound = 1.0
    #: True for classification losses (targets may be integer labels)
    classification = False
    #: True when ℓ is a sum of functions of single rows of Z (the W-block's neurons decouple)
    separable = True

    @abc.abstractmethod
    def targets(self, y, k: int):
        """Validate targets and return them as a float k x m array (numpy or torch)."""

    @abc.abstractmethod
    def value(self, Y, Z):
        """ℓ(Y, Z) summed over samples (0-d array / tensor)."""

    @abc.abstractmethod
    def grad(self, Y, Z):
        """∇_Z ℓ(Y, Z), shape k x m."""

    @abc.abstractmethod
    def conj(self, Y, G):
        """ℓ*(Y, G) = sup_Z ⟨G, Z⟩ − ℓ(Y, Z) (+inf outside the domain)."""

    @abc.abstractmethod
    def cvx(self, Y, Z, inner=None):
        """CVXPY expression of ℓ(Y, Z); ``inner`` may give ⟨Y, Z⟩ precomputed (DPP)."""

    def predict(self, Z):
        """Predictions from outputs: class labels (m,) or the outputs themselves."""
        return Z

    @property
    def metric(self) -> str:
        """The name of :meth:`score`'s metric: ``"acc"`` (classification) or ``"mse"``."""
        return "acc" if self.classification else "mse"

    def score(self, Y, Z) -> float:
        """Accuracy (classification: argmax of Z vs argmax of Y) or squared error per sample Σ‖Z − Y‖²/m."""
        m = Z.shape[1]
        if self.classification:
            pred = np.asarray(to_numpy(self.predict(Z)))
            return float(np.mean(pred == np.argmax(np.asarray(to_numpy(Y)), axis=0)))
        R = Z - Y
        return float(namespace(Z).sum(R * R)) / m

    # ---- facts for the Newton-CG W-block solver (blocks/glm.py) -------------------------------
    @abc.abstractmethod
    def row_values(self, Y, Z):
        """(values, magnitudes): per row, k x 1 (separable), or the totals as 1 x 1 (coupled).

        The magnitude Σ|terms| bounds the rounding error of the value (rounding-aware line searches)."""

    @abc.abstractmethod
    def curvature(self, Y, Z):
        """The data :meth:`hvp` needs at Z: the Hessian diagonal (separable), softmax(Z) (cross-entropy)
        or None (constant Hessian)."""

    @abc.abstractmethod
    def hvp(self, D, R):
        """The Hessian of ℓ at Z applied to a direction R (k x m), from D = :meth:`curvature` (Y, Z)."""

    @abc.abstractmethod
    def row_scale(self, D, Y):
        """Σ_j of the Hessian diagonal per row (k x 1), from D = :meth:`curvature` (Y, Z)."""

    @abc.abstractmethod
    def bias_step(self, Y, Z):
        """δ (k x 1) minimising ℓ(Y, Z + δ1ᵀ): the exact bias step with the weights fixed."""

    def bias_blockers(self, Y) -> list:
        """Rows of the targets Y for which ℓ(Y, Z + δ1ᵀ) has no minimiser over δ (empty: always attained)."""
        return []

    # ---- facts of the certified dual bounds (numpy float64 arrays; fenchel_cvx.blocks.certificates) ---------
    def curvature_scale(self, Y) -> float:
        """c with ‖∇²ℓ‖_∞ ≤ c·hess_bound per column (1; cross-entropy: max_j s_j)."""
        return 1.0

    def anchor(self, Y):
        """(σ (m,), mass = Y1): anchors Q = q σᵀ (q (k,) with room, :meth:`dual_room`) are dual points, Q1 = q Σσ."""
        return np.ones(Y.shape[1]), Y.sum(axis=1)

    @abc.abstractmethod
    def mean_point(self, Y, Z):
        """(V, rep): a dual point V (k x m) with ℓ*(Y, V − Y) < ∞ near ∇ℓ(Y, Z) + Y, exactly (rep = 0) or the float
        representation of a real point V̂ with |V − V̂| ≤ γ_rep |V| entrywise."""

    @abc.abstractmethod
    def conj_mean(self, Y, V):
        """(value, magnitude, n): Σ ℓ*(Y, V̂ − Y) at the point of :meth:`mean_point`, Σ|terms| and the rounding depth."""

    @abc.abstractmethod
    def dual_room(self, V):
        """Entrywise distance of V (in the dual domain) to the edges it may not cross (inf: none); cross-entropy: V."""

    @abc.abstractmethod
    def conj_box_upper(self, Y, V_lo, V_hi):
        """(value, magnitude, n): an upper bound of ℓ*(Y, V − Y) over the dual points V with V_lo ≤ V ≤ V_hi."""

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash(type(self))


def _cvxpy():
    import cvxpy

    return cvxpy


def _check_target_matrix(Y, k, what):
    shape = tuple(Y.shape)
    if len(shape) != 2 or shape[0] != k:
        raise ValueError(f"targets Y: expected a {k} x m array (one column per sample) for {what}, got shape {shape}")
    xp = namespace(Y)
    if not xp.all(xp.isfinite(Y)):
        raise ValueError("targets Y: contains NaN or inf")


class CrossEntropy(Loss):
    name = "cross_entropy"
    hess_bound = 0.5
    classification = True
    separable = False

    def targets(self, y, k: int):
        if is_torch(y):
            import torch

            if not torch.is_floating_point(y):
                y = y.reshape(-1)
                if y.numel() and (int(y.min()) < 0 or int(y.max()) >= k):
                    raise ValueError(f"labels y: expected integers in [0, {k}), got range [{int(y.min())}, "
                                     f"{int(y.max())}]")
                return torch.nn.functional.one_hot(y.long(), k).T.to(torch.get_default_dtype())
            Y = y
        else:
            y = np.asarray(y)
            if y.ndim == 1 or not np.issubdtype(y.dtype, np.floating):
                if y.ndim != 1:
                    raise ValueError(f"labels y: integer labels must be 1-D, got shape {y.shape}")
                if not np.issubdtype(y.dtype, np.integer):
                    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                        y = y.astype(np.int64)
                    else:
                        raise ValueError(f"labels y: expected integer class labels, got dtype {y.dtype}")
                if y.size and (y.min() < 0 or y.max() >= k):
                    raise ValueError(f"labels y: expected integers in [0, {k}) for {k} outputs, got range [{y.min()}, "
                                     f"{y.max()}]")
                Y = np.zeros((k, y.size))
                Y[y, np.arange(y.size)] = 1.0
                return Y
            Y = y
        _check_target_matrix(Y, k, "cross-entropy")
        xp = namespace(Y)
        if xp.any(Y < 0) or xp.any(xp.abs(xp.sum(Y, axis=0) - 1.0) > 1e-6):
            raise ValueError("targets Y: cross-entropy targets must be one-hot or probability columns (nonnegative, "
                             "summing to 1)")
        return Y

    @staticmethod
    def _mass(Y):
        """s = Σ_i Y_ij (1 x m): 1 for one-hot columns (then every s-weighted formula is bit-identical to the
        plain one)."""
        return namespace(Y).sum(Y, axis=0, keepdims=True)

    def value(self, Y, Z):
        xp = namespace(Z)
        return xp.sum(self._mass(Y)[0] * xp.logsumexp(Z, axis=0)) - xp.sum(Y * Z)

    def grad(self, Y, Z):
        return namespace(Z).softmax(Z, axis=0) * self._mass(Y) - Y

    def conj(self, Y, G):
        xp = namespace(G)
        P = Y + G
        s = self._mass(Y)
        tol = 1e3 * xp.eps(G)
        if xp.any(P < -tol) or xp.any(xp.abs(xp.sum(P, axis=0, keepdims=True) - s) > tol * P.shape[0]):
            return math.inf
        P = xp.clip(P, 0.0, None) / s
        return xp.sum(s * xp.where(P > 0, P * xp.log(xp.where(P > 0, P, xp.ones_like(P))), xp.zeros_like(P)))

    def cvx(self, Y, Z, inner=None):
        cp = _cvxpy()
        if inner is None:
            inner = cp.sum(cp.multiply(Y, Z))
        s = np.asarray(to_numpy(Y), dtype=np.float64).sum(axis=0)
        lse = cp.log_sum_exp(Z, axis=0)
        return (cp.sum(lse) if np.all(s == 1.0) else s @ lse) - inner

    def predict(self, Z):
        if is_torch(Z):
            return Z.argmax(dim=0)
        return np.argmax(Z, axis=0)

    def row_values(self, Y, Z):
        """Coupled over rows: the totals (1 x 1) of Σ_j [s_j lse(Z_j) − ⟨Y_j, Z_j⟩] and of its magnitudes."""
        xp = namespace(Z)
        lse = self._mass(Y)[0] * xp.logsumexp(Z, axis=0)
        yz = xp.sum(Y * Z, axis=0)
        return xp.sum(lse - yz).reshape(1, 1), xp.sum(xp.abs(lse) + xp.abs(yz)).reshape(1, 1)

    def curvature(self, Y, Z):
        """(P, s) with P = softmax(Z): the Hessian acts per column as s_j(diag p − p pᵀ)."""
        return namespace(Z).softmax(Z, axis=0), self._mass(Y)

    def hvp(self, D, R):
        P, s = D
        PR = P * R
        return (PR - P * namespace(P).sum(PR, axis=0, keepdims=True)) * s

    def row_scale(self, D, Y):
        P, s = D
        return namespace(P).sum(P * (1.0 - P) * s, axis=1, keepdims=True)

    def bias_step(self, Y, Z, max_iter: int = 100):
        r"""δ (k x 1) minimising h(δ) = Σ_j s_j lse(Z_j + δ) − ⟨mass, δ⟩, mass = Y1 (the exact bias step).

        Damped Newton with the k x k Hessian Σ_j s_j(diag p_j − p_j p_jᵀ) (its null direction 1 is removed
        by adding 11ᵀ·tr/k², which leaves the step ⊥ 1 because the gradient is ⊥ 1) and backtracking. Where
        the Newton step is unusable -- the Hessian is singular to working precision (saturated logits: every
        p_j nearly one-hot) or the step gives no decrease -- the *scaling step* δ_i += log mass_i − log S_i
        (S = Σ_j s_j p_j, computed in the log domain) is taken instead: a descent direction
        (⟨S − mass, log mass − log S⟩ ≤ 0) that moves saturated biases by the right order of magnitude.
        Stops at rounding level (|g| ≤ 8 eps Σ_j s_j) or when neither step decreases h.
        """
        xp = namespace(Z)
        k, m = Z.shape
        eps = xp.eps(Z)
        s = self._mass(Y)
        ysum = xp.sum(Y, axis=1, keepdims=True)
        logmass = xp.log(xp.where(ysum > 0, ysum, 1.0))
        total = float(xp.sum(s))
        I, ones, delta = xp.eye(k, like=Z), xp.asarray(np.ones((k, k)), like=Z), xp.zeros((k, 1), like=Z)

        def h(d):
            return float(xp.sum(s[0] * xp.logsumexp(Z + d, axis=0))) - float(xp.sum(ysum * d))

        def search(step, slope, hval):
            t = 1.0
            for _ls in range(40):
                hn = h(delta + t * step)
                if hn <= hval + 1e-4 * t * slope + 16.0 * eps * (abs(hval) + total):
                    return t, hn
                t *= 0.5
            return None, hval

        hval = h(delta)
        for _ in range(max_iter):
            Zd = Z + delta
            P = xp.softmax(Zd, axis=0)
            Ps = P * s
            S = xp.sum(Ps, axis=1, keepdims=True)
            g = S - ysum
            if float(xp.max(xp.abs(g))) <= 8.0 * eps * total:
                break
            t, Hm = None, I * S.reshape(1, k) - Ps @ P.T
            try:
                step = -xp.solve(Hm + ones * (float(xp.sum(S)) / (k * k)), g)
            except (np.linalg.LinAlgError, RuntimeError):  # singular to working precision
                step = None
            if step is not None and xp.all(xp.isfinite(step)):
                slope = float(xp.sum(g * step))
                if slope < 0:
                    t, hn = search(step, slope, hval)
            if t is None:  # the scaling step (docstring)
                logS = xp.logsumexp(Zd - xp.logsumexp(Zd, axis=0, keepdims=True) + xp.log(s), axis=1, keepdims=True)
                step = xp.where(ysum > 0, logmass - logS, 0.0)
                slope = float(xp.sum(g * step))
                if not slope < 0:
                    break
                t, hn = search(step, slope, hval)
                if t is None:
                    break
            delta = delta + t * step
            hval = hn
        return delta

    # ---- certified dual bounds ---------------------------------------------------------------
    def curvature_scale(self, Y) -> float:
        return max(1.0, float(np.max(np.sum(Y, axis=0))))

    def mean_point(self, Y, Z):
        """V = s·softmax(Z) with its columns rescaled to sum to s_j: a representation (rep = k + 6) of the real
        point V̂_j = s_j p_j / Σ_i p_ij whose columns lie in s_j·simplex exactly."""
        P = namespace(Z).softmax(Z, axis=0)
        s = Y.sum(axis=0, keepdims=True)
        return P * (s / P.sum(axis=0, keepdims=True)), Z.shape[0] + 6

    def conj_mean(self, Y, V):
        s = Y.sum(axis=0, keepdims=True)
        p = V / s
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        return (float(np.sum(s * plogp)), float(np.sum(s * (np.abs(plogp) + 2.0 * p))), Y.size + 2 * Y.shape[0] + 16)

    def anchor(self, Y):
        return Y.sum(axis=0), Y.sum(axis=1)

    def dual_room(self, V):
        return np.asarray(V, dtype=np.float64)  # columns stay in s_j·simplex: only V ≥ 0 can be crossed

    def conj_box_upper(self, Y, V_lo, V_hi):
        """Σ_j s_j Σ_i max(p log p) over p ∈ [V_lo, V_hi]_ij / s_j (p log p is convex)."""
        s = Y.sum(axis=0, keepdims=True)
        top = np.maximum(*(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
                           for p in (np.maximum(V_lo, 0.0) / s, V_hi / s)))
        return float(np.sum(s * top)), float(np.sum(s * (np.abs(top) + 2.0 * V_hi / s))), Y.size + 2 * Y.shape[0] + 16

    def bias_blockers(self, Y) -> list:
        """Classes with no target mass: their bias drifts to −inf."""
        xp = namespace(Y)
        mass = xp.max(Y, axis=1)
        return np.flatnonzero(np.asarray(to_numpy(mass <= 0))).tolist()


class SquaredLoss(Loss):
    name = "squared"
    hess_bound = 1.0
    classification = False
    separable = True

    def targets(self, y, k: int):
        if not is_torch(y):
            y = np.asarray(y, dtype=float)
        if y.ndim == 1 and k == 1:
            y = y.reshape(1, -1)
        _check_target_matrix(y, k, "the squared loss")
        return y

    def value(self, Y, Z):
        R = Z - Y
        return 0.5 * namespace(Z).sum(R * R)

    def grad(self, Y, Z):
        return Z - Y

    def conj(self, Y, G):
        xp = namespace(G)
        return 0.5 * xp.sum(G * G) + xp.sum(G * Y)

    def cvx(self, Y, Z, inner=None):
        cp = _cvxpy()
        if inner is None:
            return 0.5 * cp.sum_squares(Z - Y)
        # ½‖Z‖² − ⟨Y, Z⟩ + ½‖Y‖²  with ⟨Y, Z⟩ given
        return 0.5 * cp.sum_squares(Z) - inner + 0.5 * float(np.sum(np.asarray(Y) ** 2))

    def row_values(self, Y, Z):
        R = Z - Y
        val = 0.5 * namespace(Z).sum(R * R, axis=1, keepdims=True)
        return val, val

    def curvature(self, Y, Z):
        return None

    def hvp(self, D, R):
        return R

    def row_scale(self, D, Y):
        xp = namespace(Y)
        return xp.full_like(Y[:, :1], float(Y.shape[1]))

    def bias_step(self, Y, Z, max_iter: int = 1):
        """δ = −mean_j (Z − Y)_ij: the exact bias minimiser with the weights fixed (closed form)."""
        return -namespace(Z).sum(Z - Y, axis=1, keepdims=True) / Z.shape[1]

    def mean_point(self, Y, Z):
        return Z, 0  # dom ℓ* is everything

    def conj_mean(self, Y, V):
        """ℓ*(Y, V − Y) = Σ ½(V² − Y²)."""
        V2, Y2 = V * V, Y * Y
        return 0.5 * float(np.sum(V2 - Y2)), 0.5 * float(np.sum(V2 + Y2)), Y.size + 8

    def dual_room(self, V):
        return np.full(np.shape(V), math.inf)

    def conj_box_upper(self, Y, V_lo, V_hi):
        top, Y2 = np.maximum(V_lo * V_lo, V_hi * V_hi), float(np.sum(Y * Y))
        return 0.5 * (float(np.sum(top)) - Y2), 0.5 * (float(np.sum(top)) + Y2), Y.size + 8


class FenchelYoungLoss(Loss):
    r"""ℓ(Y, Z) = Σ_ij [f(Z_ij) − Z_ij Y_ij] for an activation φ = f' (module docstring); Y ∈ dom f*.

    The data term of the hidden W-blocks, (λ/m)·ℓ(X_{l+1}, U_l). Separable over rows."""

    name = "fenchel_young"
    classification = False
    separable = True

    def __init__(self, activation="relu"):
        self.act = _act.get(activation)
        self.hess_bound = float(self.act.lip)

    def __repr__(self):
        return f"FenchelYoungLoss({self.act!r})"

    def targets(self, y, k: int):
        Y = y if is_torch(y) else np.asarray(y, dtype=float)
        _check_target_matrix(Y, k, f"the Fenchel-Young loss of {self.act.name}")
        if not self.act.in_domain(Y):
            lo, hi = self.act.domain
            raise ValueError(f"targets Y: entries outside the domain [{lo}, {hi}] of f* for activation {self.act.name}")
        return Y

    def value(self, Y, Z):
        xp = namespace(Z)
        return xp.sum(self.act.f(Z) - Z * Y)

    def grad(self, Y, Z):
        return G - Y if (G := self.act.phi(Z)) is Z else G.__isub__(Y)  # a fresh φ(Z): Y subtracted in place

    def conj(self, Y, G):
        """Σ f*(Y + G); an argument outside dom f* by no more than the rounding of its own evaluation
        (64 eps (|Y| + |G|)) is moved onto the domain, beyond that +inf."""
        xp = namespace(G)
        V = Y + G
        P = self.act.project_domain(V)
        if xp.any(xp.abs(P - V) > 64 * xp.eps(V) * (xp.abs(Y) + xp.abs(G))):
            return math.inf
        return xp.sum(self.act.fconj(P))

    def cvx(self, Y, Z, inner=None):
        cp = _cvxpy()
        if inner is None:
            inner = cp.sum(cp.multiply(Y, Z))
        return cp.sum(self.act.f_cvx(Z)) - inner

    def row_values(self, Y, Z):
        xp = namespace(Z)
        fZ = self.act.f(Z)
        ZY = Z * Y
        return xp.sum(fZ - ZY, axis=1, keepdims=True), xp.sum(xp.abs(fZ) + xp.abs(ZY), axis=1, keepdims=True)

    def curvature(self, Y, Z):
        """φ'(Z): the Hessian is diagonal."""
        return self.act.dphi(Z)

    def hvp(self, D, R):
        return D * R

    def row_scale(self, D, Y):
        return namespace(D).sum(D, axis=1, keepdims=True)

    def bias_step(self, Y, Z, max_iter: int = 100):
        r"""δ (k x 1) with Σ_j φ(Z_ij + δ_i) = Σ_j Y_ij for every row: the exact bias minimiser with the
        weights fixed (a monotone scalar equation per row).

        Vectorised safeguarded Newton: a bracket [lo, hi] of the root is kept per row
        (infinite until found; expanded by doubling steps), Newton steps leaving the
        bracket are replaced by bisection. Stops at rounding level of the row sums.
        """
        xp = namespace(Z)
        act = self.act
        eps = xp.eps(Z)
        ysum = xp.sum(Y, axis=1, keepdims=True)
        delta = xp.zeros((Z.shape[0], 1), like=Z)
        lo = xp.full_like(delta, -math.inf)
        hi = xp.full_like(delta, math.inf)
        h = xp.ones_like(delta)
        for _ in range(max_iter):
            V = Z + delta
            ph = act.phi(V)
            g = xp.sum(ph, axis=1, keepdims=True) - ysum
            gp = xp.sum(act.dphi(V), axis=1, keepdims=True)
            scale = xp.sum(xp.abs(ph), axis=1, keepdims=True) + xp.abs(ysum)
            done = xp.abs(g) <= 4.0 * eps * scale
            lo = xp.where(g < 0, delta, lo)
            hi = xp.where(g > 0, delta, hi)
            bracket = xp.isfinite(lo) & xp.isfinite(hi)
            width_ok = bracket & (xp.where(bracket, hi, 0.0) - xp.where(bracket, lo, 0.0)
                                  <= 4.0 * eps * (1.0 + xp.abs(delta)))
            done = done | width_ok
            if xp.all(done):
                break
            newton = delta - g / xp.where(gp > 0, gp, 1.0)
            ok = (gp > 0) & xp.isfinite(newton) & (newton > lo) & (newton < hi)
            mid = 0.5 * (xp.where(bracket, lo, 0.0) + xp.where(bracket, hi, 0.0))
            expand = xp.where(g < 0, delta + h, delta - h)
            step_new = xp.where(ok, newton, xp.where(bracket, mid, expand))
            h = xp.where(ok | bracket, h, 2.0 * h)
            delta = xp.where(done, delta, step_new)
        return delta

    def mean_point(self, Y, Z):
        return self.act.project_domain(self.act.phi(Z)), 0  # exactly in dom f*

    def conj_mean(self, Y, V):
        """Σ f*(V) (each entry accurate to 4u(|f*| + 2): the +2 covers the cancelling logarithms of the
        bounded-domain entropies)."""
        fc = self.act.fconj(V)
        return float(np.sum(fc)), float(np.sum(np.abs(fc) + 2.0)), Y.size + 16

    def dual_room(self, V):
        lo, hi = self.act.domain
        return np.minimum(V - lo, hi - V)

    def conj_box_upper(self, Y, V_lo, V_hi):
        """Σ max(f*(V_lo), f*(V_hi)) (f* is convex: its maximum on an interval is at an end)."""
        top = np.maximum(self.act.fconj(V_lo), self.act.fconj(V_hi))
        return float(np.sum(top)), float(np.sum(np.abs(top) + 2.0)), Y.size + 16

    def bias_blockers(self, Y) -> list:
        r"""Rows lying entirely on an edge of dom f* that φ never attains (∇f* infinite there, e.g. 0 and 1
        for sigmoid): Σ_j φ(c_ij + b) never reaches Σ_j Y_ij, so b_i has no minimiser."""
        xp = namespace(Y)
        lo, hi = self.act.domain
        rows: list = []
        for edge, red in ((lo, xp.max), (hi, xp.min)):
            if not math.isfinite(edge):
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                attained = bool(np.all(np.isfinite(self.act.grad_fconj(np.array([float(edge)])))))
            if attained:
                continue
            bad = red(Y, axis=1) == edge
            if xp.any(bad):
                rows += np.flatnonzero(np.asarray(to_numpy(bad))).tolist()
        return sorted(rows)


_LOSSES = {"cross_entropy": CrossEntropy, "squared": SquaredLoss}
_ALIASES = {"ce": "cross_entropy", "xent": "cross_entropy", "crossentropy": "cross_entropy",
            "mse": "squared", "square": "squared", "squared_loss": "squared"}


def names() -> list[str]:
    """Names of the output losses (``get`` also accepts an ``Loss`` object, e.g. a FenchelYoungLoss)."""
    return list(_LOSSES)


def get(name: str | Loss) -> Loss:
    """Return the loss called ``name`` (``cross_entropy`` or ``squared``; a Loss passes through)."""
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(f"loss: expected a name ({', '.join(names())}) or a Loss, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(names())}")
    return _LOSSES[key]()

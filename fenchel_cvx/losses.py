r"""Output losses ℓ(Y, Z), summed over samples, on numpy, torch and CVXPY.

Shapes: logits/outputs ``Z`` are k x m (one column per sample); targets ``Y`` are
k x m as well after :meth:`Loss.targets` (integer class labels of shape (m,) are
turned into one-hot columns for cross-entropy).

* ``cross_entropy``:  ℓ(Y, Z) = Σ_j [ logsumexp(Z[:, j]) − ⟨Y[:, j], Z[:, j]⟩ ]
  (Y columns one-hot or probability vectors). ∇_Z ℓ = softmax(Z) − Y; the Hessian of
  each column is ≼ ½ I.  Conjugate (used by duality certificates):
  ℓ*(G) = Σ_j Σ_k P_kj log P_kj with P = Y + G, finite iff every column of P lies in the
  probability simplex.
* ``squared``:  ℓ(Y, Z) = ½ ‖Z − Y‖²_F;  ∇_Z ℓ = Z − Y;  Hessian I;
  ℓ*(G) = ½‖G‖² + ⟨G, Y⟩.
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np

from .backend import is_torch, namespace

__all__ = ["Loss", "CrossEntropy", "SquaredLoss", "get", "names"]


class Loss:
    name = "loss"
    #: bound on the spectral norm of the per-sample Hessian in Z
    hess_bound = 1.0
    #: True for classification losses (targets may be integer labels)
    classification = False

    def targets(self, y, k: int):
        """Validate targets and return them as a float k x m array (numpy or torch)."""
        raise NotImplementedError

    def value(self, Y, Z):
        """ℓ(Y, Z) summed over samples (0-d array / tensor)."""
        raise NotImplementedError

    def grad(self, Y, Z):
        """∇_Z ℓ(Y, Z), shape k x m."""
        raise NotImplementedError

    def conj(self, Y, G):
        """ℓ*(G) = sup_Z ⟨G, Z⟩ − ℓ(Y, Z) (+inf outside the domain)."""
        raise NotImplementedError

    def cvx(self, Y, Z, inner=None):
        """CVXPY expression of ℓ(Y, Z); ``inner`` may give ⟨Y, Z⟩ precomputed (DPP)."""
        raise NotImplementedError

    def predict(self, Z):
        """Predictions from outputs: class labels (m,) or the outputs themselves."""
        return Z

    def __repr__(self):
        return f"{type(self).__name__}()"


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

    def targets(self, y, k: int):
        if is_torch(y):
            import torch

            if not torch.is_floating_point(y):
                y = y.reshape(-1)
                if y.numel() and (int(y.min()) < 0 or int(y.max()) >= k):
                    raise ValueError(f"labels y: expected integers in [0, {k}), got range [{int(y.min())}, {int(y.max())}]")
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
                    raise ValueError(f"labels y: expected integers in [0, {k}) for {k} outputs, got range [{y.min()}, {y.max()}]")
                Y = np.zeros((k, y.size))
                Y[y, np.arange(y.size)] = 1.0
                return Y
            Y = y
        _check_target_matrix(Y, k, "cross-entropy")
        xp = namespace(Y)
        if xp.any(Y < 0) or xp.any(xp.abs(xp.sum(Y, axis=0) - 1.0) > 1e-6):
            raise ValueError("targets Y: cross-entropy targets must be one-hot or probability columns (nonnegative, summing to 1)")
        return Y

    def value(self, Y, Z):
        xp = namespace(Z)
        return xp.sum(xp.logsumexp(Z, axis=0)) - xp.sum(Y * Z)

    def grad(self, Y, Z):
        return namespace(Z).softmax(Z, axis=0) - Y

    def conj(self, Y, G):
        xp = namespace(G)
        P = Y + G
        tol = 1e3 * xp.eps(G)
        if xp.any(P < -tol) or xp.any(xp.abs(xp.sum(P, axis=0) - 1.0) > tol * P.shape[0]):
            return math.inf
        P = xp.clip(P, 0.0, None)
        safe = xp.where(P > 0, P, xp.ones_like(P))
        return xp.sum(xp.where(P > 0, P * xp.log(safe), xp.zeros_like(P)))

    def cvx(self, Y, Z, inner=None):
        if inner is None:
            inner = cp.sum(cp.multiply(Y, Z))
        return cp.sum(cp.log_sum_exp(Z, axis=0)) - inner

    def predict(self, Z):
        if is_torch(Z):
            return Z.argmax(dim=0)
        return np.argmax(Z, axis=0)


class SquaredLoss(Loss):
    name = "squared"
    hess_bound = 1.0
    classification = False

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
        if inner is None:
            return 0.5 * cp.sum_squares(Z - Y)
        # ½‖Z‖² − ⟨Y, Z⟩ + ½‖Y‖²  with ⟨Y, Z⟩ given
        return 0.5 * cp.sum_squares(Z) - inner + 0.5 * float(np.sum(np.asarray(Y) ** 2))


_LOSSES = {"cross_entropy": CrossEntropy, "squared": SquaredLoss}
_ALIASES = {"ce": "cross_entropy", "xent": "cross_entropy", "crossentropy": "cross_entropy",
            "mse": "squared", "square": "squared", "squared_loss": "squared"}


def names() -> list[str]:
    return list(_LOSSES)


def get(name: str | Loss) -> Loss:
    """Return the loss called ``name`` (``cross_entropy`` or ``squared``; a Loss passes through)."""
    if isinstance(name, Loss):
        return name
    key = str(name).lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(names())}")
    return _LOSSES[key]()

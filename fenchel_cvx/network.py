r"""The lifted network model: architecture, parameters, forward pass, J and F_λ.

Shapes (features x samples everywhere): data ``X0`` is d x m, one column per sample;
``W[l]`` is n_{l+1} x n_l and ``b[l]`` has shape (n_{l+1},); hidden activations
``X[l]`` are n_l x m. Layers l = 0..L (``sizes`` has L + 2 entries):

    U_l = W_l X_l + b_l 1ᵀ,   X_{l+1} = φ_l(U_l)  (l < L),   Z = W_L X_L + b_L 1ᵀ.

Standard objective (what backprop minimises)::

    J(W) = (1/m) ℓ(Y, Z) + Σ_l (ρ_l/2) ‖W_l‖²_F

Fenchel lifted objective (λ_l ≥ 0, X_{l+1} ∈ dom f*_l)::

    F_λ(W, X) = (1/m) [ ℓ(Y, W_L X_L + b_L 1ᵀ) + Σ_{l<L} λ_l Σ B_φl(U_l, X_{l+1}) ] + Σ_l (ρ_l/2)‖W_l‖²_F

with U_l computed from the lifted X_l (X_0 is the data). F_λ(W, forward(W)) = J(W)
because every divergence vanishes on the activation graph, and for λ ≥ 0 the lifted
problem is a relaxation: min F_λ ≤ min J.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import activations as _act
from . import losses as _loss
from .arrays import Array, ArrayLike, Device, DTypeLike, PathLike
from .backend import is_torch, like, namespace, to_numpy
from .validation import check_array, check_bool, check_seed, per_layer

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

__all__ = ["FenchelNetwork", "LiftedTerms"]


@dataclass
class LiftedTerms:
    """The pieces of F_λ: ``loss`` = ℓ/m, ``divergences[l]`` = λ_l ΣB_l / m, ``reg`` = Σ ρ_l/2‖W_l‖²."""

    loss: float
    divergences: list
    reg: float

    @property
    def total(self) -> float:
        return self.loss + sum(self.divergences) + self.reg


class FenchelNetwork:
    """A feed-forward network and its Fenchel lifted relaxation.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[d, n_1, ..., n_L, k]`` (at least two entries).
    activation : str, Activation, or a sequence of them (one per hidden layer)
        Names from :func:`fenchel_cvx.activations.names`.
    loss : str or Loss
        ``"cross_entropy"`` (default) or ``"squared"``.
    lam : float or sequence of L floats
        Lagrange multipliers λ_l ≥ 0 of the divergence constraints.
    rho : float or sequence of L + 1 floats
        Weight decay ρ_l ≥ 0 of each layer.
    bias : bool
        Whether the layers have biases (if False the b's stay zero).
    seed : int
        Seed of the parameter initialisation (uniform ±1/√n_in, as torch's nn.Linear).
    dtype : numpy dtype of the parameters (float64 by default).
    """

    def __init__(self, sizes: Sequence[int], activation: str | _act.Activation | Sequence = "relu",
                 loss: str | _loss.Loss = "cross_entropy", lam: float | Sequence[float] = 1.0,
                 rho: float | Sequence[float] = 0.0, bias: bool = True, seed: int | None = 0,
                 dtype: DTypeLike = np.float64) -> None:
        self.sizes = _check_sizes(sizes)
        L = len(self.sizes) - 2
        self.activations = [_act.get(a) for a in _act.per_hidden_layer(activation, L)]
        self._init_common(L, loss, lam, rho, bias, dtype, seed)

    def _init_common(self, L: int, loss, lam, rho, bias, dtype, seed) -> None:
        """Loss, λ (L values), ρ (L+1 values), bias, dtype checks and the seeded initialisation (both network kinds)."""
        self.loss = _loss.get(loss)
        self.lam = per_layer(lam, L, "lam")
        self.rho = per_layer(rho, L + 1, "rho")
        self.bias = check_bool(bias, "bias")
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype: expected a float dtype (float64 or float32), got {dtype!r}") from None
        if self.dtype.kind != "f":
            raise TypeError(f"dtype: expected a float dtype, got {self.dtype}")
        self.init_params(seed)

    # ---- structure -------------------------------------------------------------
    @property
    def L(self) -> int:
        """Number of hidden layers (the weight layers are 0..L)."""
        return len(self.sizes) - 2

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    def __repr__(self) -> str:
        acts = ",".join(a.name for a in self.activations)
        return (f"FenchelNetwork(sizes={self.sizes}, activation=[{acts}], loss={self.loss.name}, "
                f"lam={self.lam.tolist()}, rho={self.rho.tolist()}, bias={self.bias})")

    def init_params(self, seed: int | None = 0) -> FenchelNetwork:
        """Initialise W_l, b_l ~ U(−1/√n_l, 1/√n_l) (b = 0 when bias=False) from ``seed``."""
        rng = np.random.default_rng(check_seed(seed))
        self.W, self.b = [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            s = 1.0 / math.sqrt(n_in)
            self.W.append(rng.uniform(-s, s, size=(n_out, n_in)).astype(self.dtype))
            bl = rng.uniform(-s, s, size=n_out) if self.bias else np.zeros(n_out)
            self.b.append(bl.astype(self.dtype))
        return self

    def skeleton(self) -> FenchelNetwork:
        """A shallow copy without the parameters (W = b = None): the architecture, activations, loss, λ and ρ
        (what the Dask workers need for the forward pass and the blocks; light to pickle)."""
        import copy

        sk = copy.copy(self)
        sk.W = sk.b = None
        return sk

    def get_params(self) -> tuple[list, list]:
        """Copies of (W, b) as lists of arrays."""
        return [namespace(w).copy(w) for w in self.W], [namespace(v).copy(v) for v in self.b]

    def set_params(self, W: Sequence[ArrayLike], b: Sequence[ArrayLike]) -> FenchelNetwork:
        """Set (W, b) after checking shapes and finiteness."""
        W = [check_array(w, f"W[{l}]", (o, i)) for l, (w, i, o) in enumerate(zip(W, self.sizes[:-1], self.sizes[1:]))]
        b = [check_array(v, f"b[{l}]", (o,)) for l, (v, o) in enumerate(zip(b, self.sizes[1:]))]
        if len(W) != self.n_layers or len(b) != self.n_layers:
            raise ValueError(f"W, b: expected {self.n_layers} layers")
        self.W, self.b = list(W), list(b)
        return self

    def _params(self, W, b, ref):
        W = self.W if W is None else W
        b = self.b if b is None else b
        if is_torch(ref):
            xp = namespace(ref)
            W = [xp.asarray(w, like=ref) for w in W]
            b = [xp.asarray(v, like=ref) for v in b]
        return W, b

    # ---- export ---------------------------------------------------------------------
    def to_torch(self, device: Device = "cpu", dtype: DTypeLike | None = None,
                 flat_input: bool = False) -> torch.nn.Sequential:
        """The feed-forward network as a ``torch.nn.Sequential`` (a copy of the weights; torch's convention,
        samples x features: rows (m, d) → logits (m, k); conv networks take images (m, C, H, W), or rows with
        ``flat_input=True``). See :mod:`fenchel_cvx.interop`; :func:`fenchel_cvx.from_torch` is the inverse."""
        from .torch_export import to_torch

        return to_torch(self, device=device, dtype=dtype, flat_input=flat_input)

    def save(self, path: PathLike) -> str:
        """Write the network (architecture, activations, loss, λ, ρ, bias, dtype, weights) to ``path`` in the
        model format of :mod:`fenchel_cvx.model_io`; :func:`fenchel_cvx.load` reads it back. Returns the path."""
        from .model_format import write_model

        return write_model(self, path)

    # ---- validation -------------------------------------------------------------
    def check_input(self, X0: ArrayLike, min_samples: int = 0) -> Array:
        """Validate data X0 (d x m, finite, at least ``min_samples`` columns); returns it as a float array."""
        X0 = check_array(X0, "X0", (self.sizes[0], None))
        if X0.shape[1] < min_samples:
            raise ValueError(f"X0: expected at least {min_samples} sample(s) (columns), got {X0.shape[1]}")
        return X0

    def check_targets(self, y: ArrayLike, m: int | None = None) -> Array:
        """Validate targets and return Y as k x m (one-hot for cross-entropy labels)."""
        Y = self.loss.targets(y, self.sizes[-1])
        if m is not None and Y.shape[1] != m:
            raise ValueError(f"targets y: expected {m} samples (one per column of X0), got {Y.shape[1]}")
        return Y

    def check_hidden(self, Xs: Sequence[ArrayLike], m: int) -> list:
        """Validate hidden activations [X_1..X_L]: shapes n_l x m, finite, in dom f*_{l-1}."""
        if not isinstance(Xs, (list, tuple)):
            raise TypeError(f"X: expected a list of {self.L} hidden activation arrays [X_1..X_L], got "
                            f"{type(Xs).__name__}")
        if len(Xs) != self.L:
            raise ValueError(f"X: expected {self.L} hidden activation arrays [X_1..X_L], got {len(Xs)}")
        out = []
        for l, (X, act) in enumerate(zip(Xs, self.activations), start=1):
            X = check_array(X, f"X[{l}]", (self.sizes[l], m))
            if not act.in_domain(X):
                lo, hi = act.domain
                raise ValueError(f"X[{l}]: entries outside the domain [{lo}, {hi}] of f* for activation {act.name}")
            out.append(X)
        return out

    # ---- evaluation ---------------------------------------------------------------
    def affine(self, l: int, W_l: Array, b_l: Array, X: Array, workspace: dict | None = None) -> Array:
        """U_l = W_l X + b_l 1ᵀ: the linear map of layer l, unvalidated (X is n_l x m; the one place it is
        written; conv networks override it with their LinearMap). ``workspace``: the caller's dict of layer l
        (:meth:`fenchel_cvx.layers.LinearMap.affine`; unused here)."""
        return W_l @ X + b_l[:, None]

    def affine_any_order(self, l: int, W_l: Array, b_l: Array, X: Array, workspace: dict) -> Array:
        """U_l of :meth:`affine` for a caller that only passes φ_l(U_l) on to layer l + 1 (the trainers' re-forward
        after a W-step), in whichever storage order is cheaper; ``workspace``: the caller's dict of layer l (its
        W-block's). Dense networks: :meth:`affine` (a dense map's products read their operands' order)."""
        return self.affine(l, W_l, b_l, X)

    def pre_activation(self, l: int, X: Array, W: Sequence[ArrayLike] | None = None,
                       b: Sequence[ArrayLike] | None = None) -> Array:
        """U_l = W_l X + b_l 1ᵀ for layer l (X is n_l x m)."""
        W, b = self._params(W, b, X)
        return self.affine(l, W[l], b[l], X)

    def forward_pass(self, W: Sequence[Array], b: Sequence[Array], X0: Array,
                     workspaces: dict | None = None) -> tuple[list, list, Array]:
        """The feed-forward pass with explicit parameters, unvalidated (the trainers' hot path).

        Returns ``(Us, Xs, Z)``: pre-activations [U_0..U_{L−1}], activations [X_1..X_L] = φ_l(U_l) and the
        outputs Z = U_L (k x m). The one forward pass of the package (``forward``, the trainers, the Dask
        shard tasks and the evaluators all call it). ``workspaces``: {layer: dict} of the caller (the local
        trainer's W-step workspaces), handed to :meth:`affine` (a dict is added for a layer without one).
        """
        Us, Xs, X = [], [], X0
        for l in range(self.L):
            U = self.affine(l, W[l], b[l], X, None if workspaces is None else workspaces.setdefault(l, {}))
            X = self.activations[l].phi(U)
            Us.append(U)
            Xs.append(X)
        return Us, Xs, self.affine(self.L, W[self.L], b[self.L], X)

    def lifted_sums(self, W: Sequence[Array], b: Sequence[Array], X0: Array, Y: Array,
                    Xs: Sequence[Array]) -> tuple[float, list]:
        """The unnormalised pieces of F_λ at (W, b, X), unvalidated: ``(ℓ(Y, Z), [Σ B_φl(U_l, X_{l+1})]_l)``
        with U_l computed from the lifted X_l and Z from X_L (sums over the columns of X0).

        The one evaluator of the lifted objective: :meth:`lifted_terms` and the trainers combine these
        sums as F_λ = (ℓ + Σ_l λ_l Σ B_l)/m + Σ ρ_l/2 ‖W_l‖² (:meth:`lifted_from_sums`); the Dask runner adds
        them over shards first.
        """
        prev = [X0] + list(Xs)
        divs = []
        for l in range(self.L):
            U = self.affine(l, W[l], b[l], prev[l])
            divs.append(float(namespace(U).sum(self.activations[l].divergence(U, Xs[l]))))
        Z = self.affine(self.L, W[self.L], b[self.L], prev[self.L])
        return float(self.loss.value(Y, Z)), divs

    def lifted_from_sums(self, loss_sum: float, div_sums: Sequence[float], m: int, lam: ArrayLike,
                     W: Sequence[Array]) -> float:
        """F_λ = (ℓ + Σ_l λ_l Σ B_l)/m + Σ_l ρ_l/2 ‖W_l‖² from the sums of :meth:`lifted_sums` over m samples."""
        total = 0.0
        for l in range(self.L):
            total += float(lam[l]) * float(div_sums[l]) / m
        total += float(loss_sum) / m
        return total + self.regulariser(W)

    def forward(self, X0: ArrayLike, W: Sequence[ArrayLike] | None = None,
                b: Sequence[ArrayLike] | None = None) -> tuple[list, Array]:
        """Feed-forward pass. Returns ``(Xs, Z)`` with ``Xs = [X_1, ..., X_L]`` and logits Z (k x m)."""
        X0 = self.check_input(X0)
        W, b = self._params(W, b, X0)
        _, Xs, Z = self.forward_pass(W, b, X0)
        return Xs, Z

    def predict(self, X0: ArrayLike, W: Sequence[ArrayLike] | None = None,
                b: Sequence[ArrayLike] | None = None) -> Array:
        """Predicted labels (classification) or outputs (regression) of the feed-forward network."""
        return self.loss.predict(self.forward(X0, W, b)[1])

    def regulariser(self, W: Sequence[ArrayLike] | None = None) -> float:
        W = self.W if W is None else W
        return float(sum(0.5 * r * float(namespace(w).sum(w * w)) for r, w in zip(self.rho, W)))

    def objective(self, X0: ArrayLike, y: ArrayLike, W: Sequence[ArrayLike] | None = None,
                  b: Sequence[ArrayLike] | None = None) -> float:
        """Standard objective J(W) = ℓ(Y, Z)/m + Σ ρ_l/2 ‖W_l‖²."""
        X0 = self.check_input(X0, min_samples=1)
        m = X0.shape[1]
        Y = self.check_targets(y, m)
        _, Z = self.forward(X0, W, b)
        Y = namespace(Z).asarray(Y, like=Z)
        return float(self.loss.value(Y, Z)) / m + self.regulariser(W)

    def lifted_terms(self, X0: ArrayLike, y: ArrayLike, Xs: Sequence[ArrayLike], W: Sequence[ArrayLike] | None = None,
                     b: Sequence[ArrayLike] | None = None,
                     lam: float | Sequence[float] | None = None) -> LiftedTerms:
        """The terms of F_λ(W, X) (see :class:`LiftedTerms`); ``lam`` overrides the network's λ."""
        X0 = self.check_input(X0, min_samples=1)
        m = X0.shape[1]
        Y = self.check_targets(y, m)
        if isinstance(Xs, (list, tuple)):  # hidden arrays on another backend than X0 are converted to X0's
            Xs = [like(check_array(X, f"X[{l}]", (None, None)), X0) for l, X in enumerate(Xs, start=1)]
        Xs = self.check_hidden(Xs, m)
        lam = self.lam if lam is None else per_layer(lam, self.L, "lam")
        W, b = self._params(W, b, X0)
        Y = namespace(X0).asarray(Y, like=X0)
        loss_sum, div_sums = self.lifted_sums(W, b, X0, Y, Xs)
        divs = [lam[l] * div_sums[l] / m for l in range(self.L)]
        return LiftedTerms(loss=loss_sum / m, divergences=divs, reg=self.regulariser(W))

    def lifted_objective(self, X0: ArrayLike, y: ArrayLike, Xs: Sequence[ArrayLike],
                         W: Sequence[ArrayLike] | None = None, b: Sequence[ArrayLike] | None = None,
                         lam: float | Sequence[float] | None = None) -> float:
        """F_λ(W, X) with X = [X_1..X_L] (data terms carry 1/m)."""
        return self.lifted_terms(X0, y, Xs, W, b, lam).total

    def accuracy(self, X0: ArrayLike, y: ArrayLike, W: Sequence[ArrayLike] | None = None,
                 b: Sequence[ArrayLike] | None = None) -> float:
        """Fraction of correctly classified samples (classification losses only)."""
        if not self.loss.classification:
            raise ValueError("accuracy: defined for classification losses only")
        X0 = self.check_input(X0, min_samples=1)
        Y = self.check_targets(y, X0.shape[1])
        pred = to_numpy(self.predict(X0, W, b))
        labels = np.argmax(to_numpy(Y), axis=0)
        return float(np.mean(pred == labels))


def _check_sizes(sizes) -> list[int]:
    """``sizes``: at least two positive integers (Python or numpy ints)."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) and not hasattr(sizes, "__iter__"):
        raise TypeError(f"sizes: expected a sequence of layer widths, e.g. [64, 100, 10], got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"sizes: expected at least two positive integers (e.g. [64, 100, 10]), got {sizes}")
    return [int(s) for s in sizes]


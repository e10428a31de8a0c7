r"""The affine map out of an X-block's variable: V ↦ A(V) + B, passed to the X-blocks (composition, not hooks).

An X-block of X_l (:mod:`fenchel_cvx.blocks.x_blocks`) sees the next layer only through the map
A(V) + B that sends its variable V = X_l (n x m, features x samples) to the next pre-activation (k x m):

* :class:`DenseOut` -- a dense layer: A(V) = W V with W (k x n), B = b 1ᵀ;
* :class:`LayerOut` -- a layer of a convolutional network (:class:`fenchel_cvx.layers.LinearMap`: average
  poolings folded in, then a convolution or a dense map): A(V) = ``lmap.apply(W, V)``, Aᵀ = ``lmap.adjoint``,
  B = (b ⊗ 1_P) 1ᵀ, ‖A‖₂ ≤ ``lmap.norm_bound(W)`` (certified FFT bound), and in the CVXPY reference A as an
  explicit scipy sparse matrix (a constant).

Both offer the same small interface: ``k``, ``n_in`` (the rows V must have; None: any), ``W``, ``b``, ``bcol`` (B's
column, k x 1), ``apply(V)``, ``adjoint(R)``, ``norm_bound()``, ``adjoint64(R)`` (Aᵀ R in numpy float64: the
reference's data products), ``n_params(m)`` (entries of its DPP Parameters besides C), ``known_image(V)`` (A V + B
when the map kept it, else None), ``plus_b(Z)`` (Z + B, kept for the same Z), ``cvx_apply(V, data)`` (A V in CVXPY)
and ``float64(absolute)`` (the same map on numpy float64 data, with |W|, |b| when ``absolute``: the certificates'
magnitudes). Constructors trust their arguments; :func:`checked_out_map` validates, :func:`layer_out_map` reads
layer l of a network; :func:`checked_point` and :func:`no_prox_term` are the X-blocks' argument checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import like, namespace, to_numpy64
from ..layers import LinearMap
from ..memo import keep, kept
from ..validation import check_array

__all__ = ["DenseOut", "LayerOut", "checked_out_map", "layer_out_map", "checked_point", "no_prox_term"]


def no_prox_term(gamma: float, W_prev: Any, b_prev: Any) -> None:
    """Raise ValueError unless γ = 0 and no proximal centre is given (the X-blocks have no proximal term)."""
    if gamma != 0:
        raise ValueError(f"gamma: X-blocks have no proximal term, expected 0, got {gamma}")
    if W_prev is not None or b_prev is not None:
        raise ValueError("W_prev, b_prev: X-blocks have no proximal term; pass None")


def checked_point(V: Any, name: str, act: Any, shape: tuple, ref: Any) -> Any:
    """V checked as an array of ``shape`` (n x m), on the backend and dtype of ``ref``, in dom f* of ``act``
    (None: any)."""
    V = like(check_array(V, name, shape), ref)
    if act is not None and not act.in_domain(V):
        lo, hi = act.domain
        raise ValueError(f"{name}: entries outside the domain [{lo}, {hi}] of f* for activation {act.name}")
    return V


class _Biased:
    """``plus_b(Z)`` = Z + B of the maps below, kept for the next call: s(Z) and ∇s(Z) at one point (FISTA's checks)
    form the same sum once. The kept Z + B (torch) is returned only for the same Z, with Z and the kept array both
    unmodified (:mod:`fenchel_cvx.memo`): a caller may write into it, and it is formed again."""

    _zb = None

    def plus_b(self, Z: Any) -> Any:
        """Z + B (k x m): Z + ``bcol``, a fresh array or the one kept for this unmodified Z."""
        if (Zb := kept(self._zb, Z)) is not None:
            return Zb
        Zb = Z + self.bcol
        if (memo := keep(Z, Zb)) is not None:
            self._zb = memo
        return Zb


class DenseOut(_Biased):
    """A(V) = W V, B = b 1ᵀ (W: k x n, b: (k,)); trusted arguments on the block's backend."""

    label = ""
    n_in = None

    def __init__(self, W: Any, b: Any) -> None:
        self.W, self.b = W, b
        self.k = int(W.shape[0])
        self.bcol = b[:, None]

    def apply(self, V: Any) -> Any:
        """W V: n x m → k x m."""
        return self.W @ V

    def adjoint(self, R: Any) -> Any:
        """Wᵀ R: k x m → n x m."""
        return self.W.T @ R

    def known_image(self, V: Any) -> None:
        """A V + B when known without the product (never, for a plain W)."""
        return None

    def norm_bound(self) -> float:
        """An upper bound on ‖A‖₂: the spectral norm ‖W‖₂."""
        return namespace(self.W).spectral_norm(self.W)

    def adjoint64(self, R: np.ndarray) -> np.ndarray:
        """Wᵀ R in numpy float64."""
        return to_numpy64(self.W).T @ R

    def n_params(self, m: int) -> int:
        """Entries of the DPP Parameters W, B and c0."""
        return self.k * int(self.W.shape[1]) + self.k * m + 1

    def cvx_apply(self, V: Any, data: Any) -> Any:
        """W V in CVXPY, W through ``data`` (a Parameter or a constant)."""
        return data("W", to_numpy64(self.W)) @ V

    def float64(self, absolute: bool = False) -> DenseOut:
        """The map on numpy float64 data (|W|, |b| when ``absolute``)."""
        W, b = to_numpy64(self.W), to_numpy64(self.b)
        return DenseOut(np.abs(W), np.abs(b)) if absolute else DenseOut(W, b)


class LayerOut(_Biased):
    """A(V) = ``lmap.apply(W, V)``, B = (b ⊗ 1_P) 1ᵀ for a :class:`~fenchel_cvx.layers.LinearMap` ``lmap`` with
    W of ``lmap.weight_shape`` and b of ``lmap.bias_shape``; trusted arguments on the block's backend."""

    label = "conv "

    def __init__(self, lmap: LinearMap, W: Any, b: Any) -> None:
        self.lmap, self.W, self.b = lmap, W, b
        self.k, self.n_in = lmap.n_out, lmap.n_in
        self.bcol = lmap.bias_full(b)[:, None]
        self._sparse = None

    def apply(self, V: Any) -> Any:
        """A(W, V): n x m → k x m (convolution after pooling, or dense)."""
        return self.lmap.apply(self.W, V)

    def adjoint(self, R: Any) -> Any:
        """Aᵀ(W, R): k x m → n x m."""
        return self.lmap.adjoint(self.W, R)

    def known_image(self, V: Any) -> Any:
        """A(W, V) + B as the map's last ``affine`` at these W, b and V left it, while all four are unmodified
        (:meth:`~fenchel_cvx.layers.LinearMap.known_affine`), else None."""
        return self.lmap.known_affine(self.W, self.b, V)

    def norm_bound(self) -> float:
        """``lmap.norm_bound(W)`` ≥ ‖A‖₂ (certified FFT bound)."""
        return self.lmap.norm_bound(self.W)

    def sparse(self) -> Any:
        """A(W, ·) as a scipy sparse matrix acting on the columns of V (cached)."""
        if self._sparse is None:
            self._sparse = self.lmap.sparse(self.W)
        return self._sparse

    def adjoint64(self, R: np.ndarray) -> np.ndarray:
        """Aᵀ R in numpy float64 (the sparse matrix)."""
        return self.sparse().T @ R

    def n_params(self, m: int) -> int:
        """Entries of the DPP Parameters B and c0 (A is a constant)."""
        return self.k * m + 1

    def cvx_apply(self, V: Any, data: Any) -> Any:
        """A V in CVXPY with A the constant sparse matrix (``data`` unused: A is never a Parameter)."""
        import cvxpy as cp

        return cp.Constant(self.sparse()) @ V

    def float64(self, absolute: bool = False) -> LayerOut:
        """The map on numpy float64 data (|W|, |b| when ``absolute``): the numpy im2col products."""
        W, b = to_numpy64(self.W), to_numpy64(self.b)
        return LayerOut(self.lmap, np.abs(W), np.abs(b)) if absolute else LayerOut(self.lmap, W, b)


def checked_out_map(W: Any, b: Any, U: Any, lmap: LinearMap | None = None) -> DenseOut | LayerOut:
    """The validated map out of a block whose U (n x m) fixes backend and dtype: dense (``lmap`` None: W is
    k x n, b (k,)) or a layer's LinearMap (W, b of its shapes); errors name ``W``, ``b`` or ``lmap``."""
    n = int(U.shape[0])
    if lmap is None:
        W = like(check_array(W, "W", (None, n)), U)
        return DenseOut(W, like(check_array(b, "b", (int(W.shape[0]),)), U))
    if not isinstance(lmap, LinearMap):
        raise TypeError(f"lmap: expected a fenchel_cvx.layers.LinearMap, got {type(lmap).__name__}")
    return LayerOut(lmap, like(check_array(W, "W", lmap.weight_shape), U),
                    like(check_array(b, "b", lmap.bias_shape), U))


def layer_out_map(net: Any, l: int, W: Any, b: Any) -> DenseOut | LayerOut:
    """The map of weight layer l of ``net`` at weights (W, b) (trusted): its LinearMap for a conv network."""
    maps = getattr(net, "maps", None)
    return DenseOut(W, b) if maps is None else LayerOut(maps[l], W, b)

r"""Linear maps of the lifted model: dense, 2-D convolution, average pooling, flatten.

Shapes follow the project convention, **features x samples**: a batch of m feature maps of
shape C x H x W is stored as a (C·H·W) x m array, one column per sample, each column the
C-order flattening of the sample's map (index c·H·W + h·W + w). Vectors are the special case of shape (n,).

In the lifted model (docs/design.md §1) every layer l is an affine map of the lifted variable,

    U_l = A_l(W_l, X_l) + b_l ⊗ 1_P 1ᵀ,      A_l = op_l ∘ pool_l,

where ``pool_l`` is a (possibly empty) chain of average poolings and flattens applied to
the **pre-pooling** activation map X_l (the lifted variable keeps full resolution; pooling is
folded into the next layer's linear map), and ``op_l`` is a :class:`Dense` or :class:`Conv2d`
map with weights W_l; the bias b_l has one entry per output channel (P output positions).

Specs (unbound, hashable descriptions given by the user):

* :class:`Dense` ``(features)``: u = W x, W is n_out x n_in; a C x H x W input is flattened.
* :class:`Conv2d` ``(out_channels, kernel, stride=1, padding=0)``: cross-correlation (torch's
  ``conv2d``) with zero padding,
  ``U[o, h, w] = Σ_{c,i,j} K[o, c, i, j] · X̄[c, s_h h + i, s_w w + j]`` with X̄ the input padded
  by p zeros on each side; K is C_out x C_in x k_h x k_w, the output is
  C_out x H_out x W_out with H_out = ⌊(H + 2p_h − k_h)/s_h⌋ + 1 (likewise W_out).
* :class:`AvgPool2d` ``(size)``: non-overlapping p x p means, C x H x W → C x H/p x W/p
  (p must divide H and W: the windows tile the map).
* :class:`Flatten`: C x H x W → (C·H·W,); the identity on the column representation.
* :class:`MaxPool2d`: **not an affine map** (max over a window is piecewise linear, not
  linear), so it cannot sit inside the Fenchel divergence B(A X + b, X_next) as a linear map of
  the lifted variable; the lifted model refuses it with a clear error (:class:`LiftedModeError`).

A bound map :class:`LinearMap` (specs + input shape, validated at construction) provides, on
numpy and torch alike (features x samples, any float dtype, any device):

* ``apply(W, X)`` = A(W, X) (n_out x m), ``adjoint(W, R)`` = Aᵀ R (n_in x m) with
  ⟨A(W, X), R⟩ = ⟨X, Aᵀ(W, R)⟩;
* ``weight_grad(R, X)`` = (∂/∂W ⟨R, A(W, X)⟩, ∂/∂b ⟨R, b ⊗ 1_P 1ᵀ⟩): the weight-gradient;
* ``design(X)`` = the matrix D (fan_in x P·m, im2col) with U = reshape(W_mat D) (W-blocks);
* ``sparse(W)``: A(W, ·) as an explicit scipy sparse n_out x n_in matrix (CVXPY references);
* ``norm_bound(W)``: a certified upper bound on the operator norm ‖A(W, ·)‖₂.

Backends: the numpy path computes convolutions through an im2col formulation (the design matrix D from
``sliding_window_view``; conv = W_mat D, weight gradient = R_d Dᵀ, adjoint = a scatter-add of W_matᵀ R_d over the
k_h·k_w kernel offsets); the torch path calls ``torch.nn.functional.conv2d`` / ``conv_transpose2d`` and
``torch.nn.grad.conv2d_weight`` (CPU and CUDA alike), with the im2col matrix and the one-input-channel products of the
trainer's hot path as W_mat D (:meth:`LinearMap.affine`); the primitives live in :mod:`fenchel_cvx.conv_ops`. Pooling,
dense maps, biases and reshapes are written once against :func:`fenchel_cvx.backend.namespace`.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .arrays import Array
from .backend import is_torch, namespace, to_numpy
from .conv_ops import (
    conv_adjoint,
    conv_forward,
    conv_output_size,
    conv_unfold,
    conv_weight_grad,
    rows_contiguous,
    same_bits,
    samples_first,
)
from .errors import LiftedModeError
from .memo import keep, kept
from .validation import check_int

__all__ = ["Dense", "Conv2d", "AvgPool2d", "MaxPool2d", "Flatten", "LinearMap", "LiftedModeError",
           "LAYER_TYPES", "conv_output_size"]


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}") from None
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            raise ValueError(f"{name}: expected integers >= {minimum}, got {value!r}")
    return int(a), int(b)


def _shape_str(shape) -> str:
    return "x".join(str(s) for s in shape)


# ======================================================================================
# specs
# ======================================================================================
@dataclass(frozen=True)
class Dense:
    """Fully connected map u = W x (+ b): W is ``features`` x n_in. ``in_features`` (optional) is checked.

    ``activation``: the activation after this layer (None: the network's default for hidden
    layers; must be None for the output layer).
    """

    features: int
    activation: str | None = None
    in_features: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "features", check_int(self.features, "Dense.features", 1))
        if self.in_features is not None:
            object.__setattr__(self, "in_features", check_int(self.in_features, "Dense.in_features", 1))

    def token(self) -> str:
        return f"dense{self.features}" + (f":{self.activation}" if self.activation else "")


@dataclass(frozen=True)
class Conv2d:
    """2-D convolution (cross-correlation as torch's conv2d) with zero padding (module docstring).

    ``kernel``, ``stride``, ``padding``: an int or a pair (height, width). ``in_channels``
    (optional) is checked against the incoming map. ``activation``: as for :class:`Dense`.
    """

    out_channels: int
    kernel: object
    stride: object = 1
    padding: object = 0
    activation: str | None = None
    in_channels: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "out_channels", check_int(self.out_channels, "Conv2d.out_channels", 1))
        object.__setattr__(self, "kernel", _pair(self.kernel, "Conv2d.kernel", 1))
        object.__setattr__(self, "stride", _pair(self.stride, "Conv2d.stride", 1))
        object.__setattr__(self, "padding", _pair(self.padding, "Conv2d.padding", 0))
        if self.in_channels is not None:
            object.__setattr__(self, "in_channels", check_int(self.in_channels, "Conv2d.in_channels", 1))

    def token(self) -> str:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        t = f"conv{self.out_channels}k{kh}" + (f"x{kw}" if kw != kh else "")
        if (sh, sw) != (1, 1):
            t += f"s{sh}" if sh == sw else f"s{sh}x{sw}"
        if (ph, pw) != (0, 0):
            t += f"p{ph}" if ph == pw else f"p{ph}x{pw}"
        return t + (f":{self.activation}" if self.activation else "")


@dataclass(frozen=True)
class AvgPool2d:
    """Non-overlapping average pooling with p x p windows (p must divide the map): a linear map, ‖·‖₂ = 1/p."""

    size: int

    def __post_init__(self):
        object.__setattr__(self, "size", check_int(self.size, "AvgPool2d.size", 1))

    def token(self) -> str:
        return f"avgpool{self.size}"


@dataclass(frozen=True)
class MaxPool2d:
    """Max pooling. **Not affine**: refused in lifted mode (see :class:`LiftedModeError`)."""

    size: int

    def token(self) -> str:
        return f"maxpool{self.size}"


@dataclass(frozen=True)
class Flatten:
    """C x H x W → (C·H·W,): the identity on the features-x-samples columns (a shape change only)."""

    def token(self) -> str:
        return "flatten"


LAYER_TYPES = (Dense, Conv2d, AvgPool2d, MaxPool2d, Flatten)

MAXPOOL_MESSAGE = ("max pooling is not an affine map (the max over a window is only piecewise linear), so it "
                   "cannot be the linear map inside the Fenchel divergence B(A X + b, X_next) of the lifted model; "
                   "use AvgPool2d (average pooling is linear and is folded into the next layer's map)")


# ======================================================================================
# the bound map A = op ∘ pools
# ======================================================================================
class LinearMap:
    r"""The linear part A(W, ·) of one lifted layer: ``op ∘ pools`` on a given input shape.

    Parameters
    ----------
    op : :class:`Dense` or :class:`Conv2d`
    pre : sequence of :class:`AvgPool2d` / :class:`Flatten` applied first (in order)
    in_shape : (C, H, W) or (n,): the shape of one sample of the lifted input X

    Attributes: ``in_shape``, ``mid_shape`` (after ``pre``), ``out_shape``; ``n_in``, ``n_out``
    (flattened sizes: X is n_in x m, U is n_out x m); ``weight_shape`` (C_out x C_in x k_h x k_w or
    n_out x n_in), ``bias_shape`` (C_out,) or (n_out,); ``positions`` P (output positions per
    channel; 1 for dense); ``fan_in`` (C_in·k_h·k_w or n_in). Invalid combinations (kernel larger
    than the padded map, channel mismatch, a pooling size that does not divide the map, max
    pooling, convolution of a flat vector) raise ``ValueError`` here, at construction.
    """

    def __init__(self, op: Dense | Conv2d, pre: Sequence = (), in_shape: Sequence[int] | None = None) -> None:
        if isinstance(op, MaxPool2d) or any(isinstance(p, MaxPool2d) for p in pre):
            raise LiftedModeError(MAXPOOL_MESSAGE)
        if not isinstance(op, (Dense, Conv2d)):
            raise TypeError(f"op: expected Dense or Conv2d, got {type(op).__name__}")
        shape = tuple(int(s) for s in in_shape)
        if len(shape) not in (1, 3) or any(s < 1 for s in shape):
            raise ValueError(f"in_shape: expected (C, H, W) or (n,) with positive entries, got {in_shape!r}")
        self.in_shape = shape
        self.pre = tuple(pre)
        self.pools = []  # pooling sizes in order
        for p in self.pre:
            if isinstance(p, AvgPool2d):
                if len(shape) != 3:
                    raise ValueError(f"{p.token()}: pooling needs a C x H x W map, got a flat vector of {shape[0]} "
                                     "features")
                C, H, W = shape
                if H % p.size or W % p.size:
                    raise ValueError(f"{p.token()}: pooling size {p.size} does not divide the {H}x{W} map (the lifted "
                                     f"model needs non-overlapping windows that tile the map)")
                shape = (C, H // p.size, W // p.size)
                self.pools.append(p.size)
            elif isinstance(p, Flatten):
                shape = (int(np.prod(shape)),)
            else:
                raise TypeError(f"pre: expected AvgPool2d or Flatten entries, got {type(p).__name__}")
        self.mid_shape = shape
        self.op = op
        if isinstance(op, Dense):
            n_in = int(np.prod(shape))
            if op.in_features is not None and op.in_features != n_in:
                raise ValueError(f"{op.token()}: in_features={op.in_features} does not match the incoming "
                                 f"{_shape_str(shape)} map ({n_in} features)")
            self.out_shape = (op.features,)
            self.weight_shape = (op.features, n_in)
            self.bias_shape = (op.features,)
            self.positions = 1
            self.fan_in = n_in
        else:
            if len(shape) != 3:
                raise ValueError(f"{op.token()}: convolution needs a C x H x W map, got a flat vector of {shape[0]} "
                                 f"features (a Conv2d cannot follow Flatten or Dense)")
            C, H, W = shape
            if op.in_channels is not None and op.in_channels != C:
                raise ValueError(f"{op.token()}: channel mismatch: in_channels={op.in_channels} but the incoming map "
                                 f"has {C} channels ({_shape_str(shape)})")
            (kh, kw), (sh, sw), (ph, pw) = op.kernel, op.stride, op.padding
            if kh > H + 2 * ph or kw > W + 2 * pw:
                raise ValueError(f"{op.token()}: kernel {kh}x{kw} is larger than the (padded) input map "
                                 f"{H + 2 * ph}x{W + 2 * pw}")
            Ho, Wo = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
            self.out_shape = (op.out_channels, Ho, Wo)
            self.weight_shape = (op.out_channels, C, kh, kw)
            self.bias_shape = (op.out_channels,)
            self.positions = Ho * Wo
            self.fan_in = C * kh * kw
        self._pool_memo = None  # pools(X) kept for the last X (:func:`~fenchel_cvx.memo.keep`): :meth:`_pool`
        self._spread = {}  # (p, Ho, Wo, device) -> index: :meth:`_spread_index`
        self._im2col_exact = {}  # (m, dtype) -> whether W_mat D reproduces the convolution: :meth:`affine_any_order`
        self._affine_memo = None  # weak references to W, b, X, U of the last affine and their versions: known_affine
        self.n_in = int(np.prod(self.in_shape))
        self.n_mid = int(np.prod(self.mid_shape))
        self.n_out = int(np.prod(self.out_shape))
        self.is_conv = isinstance(op, Conv2d)

    def __repr__(self):
        chain = " -> ".join([p.token() for p in self.pre] + [self.op.token()])
        return f"LinearMap({_shape_str(self.in_shape)} -> {chain} -> {_shape_str(self.out_shape)})"

    # ---- pooling (written once: reshape + sum) ----------------------------------------
    def _pool(self, X):
        """pools(X): n_in x m → n_mid x m (average over non-overlapping p x p windows).

        A sum of the p² strided window slices, not a reduction over axes (2, 4) of the 6-d view: torch's
        reduction over two non-adjacent axes is ~20x slower on one CPU thread (106 vs 5.5 ms for 6x28x28x500).
        torch: the map remembers its last result while that input lives unmodified (same object and version
        counter): a mini-batch step pools each X_l up to 4 times. The result is shared (and dropped if modified)."""
        if not self.pools:
            return X
        if (Z := kept(self._pool_memo, X)) is not None:
            return Z  # X and the kept result both unmodified
        Z = self._pool_compute(X)
        if (memo := keep(X, Z, self._forget_pool)) is not None:
            self._pool_memo = memo
        return Z

    def __getstate__(self):  # pickles (Dask workers, copies) leave the remembered pooling behind
        return {**self.__dict__, "_pool_memo": None, "_spread": {}, "_im2col_exact": {}, "_affine_memo": None}

    def _forget_pool(self, ref):  # weakref callback: the remembered input was freed
        if self._pool_memo is not None and self._pool_memo[0] is ref:
            self._pool_memo = None

    def _pool_compute(self, X):
        m = X.shape[1]
        C, H, W = self.in_shape
        for p in self.pools:
            X6 = X.reshape(C, H // p, p, W // p, p, m)
            out = X6[:, :, 0, :, 0, :] + X6[:, :, 0, :, 1, :] if p > 1 else X6[:, :, 0, :, 0, :] * 1.0
            for i in range(p):
                for j in range(p):
                    if i == 0 and j < 2:
                        continue
                    out += X6[:, :, i, :, j, :]
            out *= 1.0 / float(p * p)
            H, W = H // p, W // p
            X = out.reshape(C * H * W, m)
        return X

    def _pool_adjoint(self, R):
        """poolsᵀ(R): n_mid x m → n_in x m (each value spread as value/p² over its window).

        Per pooling: S = R·(1/p²) (n_mid x m), then each entry of S copied to the p² positions of its window: torch
        gathers the columns (samples-first R: each sample's map) or rows (else) of S with :meth:`_spread_index`
        (``index_select``, 2.0 vs 4.5 ms for LeNet-5's 6x14x14 → 6x28x28 on 500 samples, measured, against the
        broadcast copy), numpy copies a broadcast view. The result keeps R's storage order (samples-first R gives a
        samples-first result, so that the elementwise steps on it and on the iterates do not mix memory orders)."""
        if not self.pools:
            return R
        m = R.shape[1]
        C, H, W = self.in_shape
        sizes = [(H, W)]
        for p in self.pools:
            H, W = H // p, W // p
            sizes.append((H, W))
        for p, (Hi, Wi) in zip(reversed(self.pools), reversed(sizes[:-1])):
            Ho, Wo = Hi // p, Wi // p
            if is_torch(R):
                idx = self._spread_index(p, Ho, Wo, R.device)
                S = R * (1.0 / float(p * p))
                if R.stride(0) == 1:  # samples-first storage (a conv map's)
                    R = S.T.reshape(m * C, Ho * Wo).index_select(1, idx).reshape(m, C * Hi * Wi).T
                else:
                    R = S.reshape(C, Ho * Wo, m).index_select(1, idx).reshape(C * Hi * Wi, m)
                continue
            R6 = np.broadcast_to(R.reshape(C, Ho, 1, Wo, 1, m) * (1.0 / float(p * p)), (C, Ho, p, Wo, p, m))
            if R.strides[0] == R.itemsize:  # samples-first storage: the copy keeps it
                R = R6.transpose(5, 0, 1, 2, 3, 4).reshape(m, C * Hi * Wi).T
            else:
                R = R6.reshape(C * Hi * Wi, m)  # a copy (the broadcast view is not contiguous)
        return R

    def _spread_index(self, p: int, Ho: int, Wo: int, device):
        """The (Ho·p·Wo·p,) torch int64 index (on ``device``) of the source position, in an Ho x Wo map, of each
        position of the p-times larger map: (r, q) → (r // p)·Wo + q // p. Kept per (p, Ho, Wo, device): it
        depends on nothing else."""
        key, kept = (p, Ho, Wo, str(device)), self.__dict__.setdefault("_spread", {})  # (maps pickled before it)
        idx = kept.get(key)
        if idx is None:
            import torch

            r = torch.arange(Ho * p, device=device) // p
            q = torch.arange(Wo * p, device=device) // p
            idx = kept[key] = (r[:, None] * Wo + q[None, :]).reshape(-1)
        return idx

    # ---- shapes of one sample <-> columns ------------------------------------------------
    @staticmethod
    def _to4(X, shape):
        """n x m columns → (C, H, W, m) (a reshape of the features-x-samples array)."""
        return X.reshape(*shape, X.shape[1])

    @staticmethod
    def _from4(X4):
        """(C, H, W, m) → (C·H·W) x m columns."""
        return X4.reshape(-1, X4.shape[-1])

    def check_weights(self, W: Array, b: Array | None = None) -> None:
        """Shapes of W (``weight_shape``) and b (``bias_shape``); raises ValueError naming them."""
        if tuple(W.shape) != self.weight_shape:
            raise ValueError(f"W: expected shape {_shape_str(self.weight_shape)} for {self!r}, got "
                             f"{_shape_str(W.shape)}")
        if b is not None and tuple(b.shape) != self.bias_shape:
            raise ValueError(f"b: expected shape {_shape_str(self.bias_shape)} for {self!r}, got {_shape_str(b.shape)}")

    # ---- the map, its adjoint, the weight gradient ------------------------------------------
    def apply(self, W: Array, X: Array) -> Array:
        """A(W, X) = op(W, pools(X)): X n_in x m → n_out x m (no bias)."""
        Z = self._pool(X)
        if not self.is_conv:
            return W @ Z
        op = self.op
        return self._from4(conv_forward(self._to4(Z, self.mid_shape), W, op.stride, op.padding))

    def adjoint(self, W: Array, R: Array) -> Array:
        """Aᵀ(W, R) = poolsᵀ(opᵀ(W, R)): R n_out x m → n_in x m, with ⟨A(W, X), R⟩ = ⟨X, Aᵀ(W, R)⟩."""
        if not self.is_conv:
            Z = W.T @ R
        else:
            op = self.op
            Z4 = conv_adjoint(self._to4(R, self.out_shape), W, op.stride, op.padding, self.mid_shape[1:])
            Z = self._from4(Z4)
        return self._pool_adjoint(Z)

    def bias_full(self, b: Array) -> Array:
        """b ⊗ 1_P: the per-channel bias expanded to one entry per output feature, shape (n_out,)."""
        if not self.is_conv:
            return b
        xp = namespace(b)
        return (b[:, None] + xp.zeros((self.out_shape[0], self.positions), like=b)).reshape(-1)

    def bias_adjoint(self, R: Array) -> Array:
        """Adjoint of b ↦ (b ⊗ 1_P) 1ᵀ: R n_out x m → (C_out,) (sum over positions and samples)."""
        xp = namespace(R)
        if not self.is_conv:
            return xp.sum(R, axis=1)
        return xp.sum(R.reshape(self.out_shape[0], self.positions * R.shape[1]), axis=1)

    def affine(self, W: Array, b: Array, X: Array, workspace: dict | None = None) -> Array:
        """U = A(W, X) + (b ⊗ 1_P) 1ᵀ (n_out x m); the bias is added in place into the fresh A(W, X) when the
        dtypes agree (the same sums, one array of U's size fewer).

        ``workspace`` (the caller's dict of this layer, as for :meth:`design`; the trainer's forward pass): where
        :meth:`_im2col_affine` applies, U is its V = W_mat D + B copied into the convolution's samples-first order
        (:func:`~fenchel_cvx.conv_ops.samples_first`), D stays there for X's W-step, and ``workspace["rows"]`` = (weak
        reference to U, U's version, V, V's version): :meth:`to_design_rows` gives V for this U while both unmodified.
        The last U is remembered for :meth:`known_affine`."""
        if workspace is not None and (V := self._im2col_affine(W, b, X, workspace)) is not None:
            U = samples_first(V)
            workspace["rows"] = keep(U, V)
        else:
            U, bcol = self.apply(W, X), self.bias_full(b)[:, None]
            if U.dtype != bcol.dtype:
                U = U + bcol
            else:
                U += bcol
        if all(is_torch(a) and not a.is_inference() for a in (W, b, X, U)):  # for known_affine
            self._affine_memo = tuple(v for a in (W, b, X, U) for v in (weakref.ref(a), a._version))
        return U

    def known_affine(self, W: Array, b: Array, X: Array) -> Array | None:
        """The U of the last :meth:`affine` (torch) if it was at these W, b and X (the same arrays) and none of the four
        is modified since (weak references, torch's version counters), else None: the forward pass's U for X's block."""
        memo = getattr(self, "_affine_memo", None)  # (maps pickled before it have none)
        if memo is None or any(r() is not a for r, a in zip(memo[0:6:2], (W, b, X))) or (U := memo[6]()) is None:
            return None
        return U if memo[1::2] == (W._version, b._version, X._version, U._version) else None

    def weight_grad(self, R: Array, X: Array) -> tuple[Array, Array]:
        """(∂/∂W, ∂/∂b) of ⟨R, A(W, X) + (b ⊗ 1_P) 1ᵀ⟩: shapes ``weight_shape`` and ``bias_shape``."""
        Z = self._pool(X)
        if not self.is_conv:
            gW = R @ Z.T
        else:
            op = self.op
            gW = conv_weight_grad(self._to4(Z, self.mid_shape), self._to4(R, self.out_shape),
                                   self.weight_shape, op.stride, op.padding)
        return gW, self.bias_adjoint(R)

    # ---- design-matrix form (W-blocks) -----------------------------------------------------
    def design(self, X: Array, workspace: dict | None = None) -> Array:
        """D with A(W, X) = cols⁻¹(W_mat D): fan_in x (P·m); W_mat = W.reshape(C_out, fan_in).

        Dense: D = pools(X) (n x m). Conv: the im2col matrix of pools(X), columns ordered
        (position p, sample j) → p·m + j (so that cols(U) is a reshape of the n_out x m array U),
        rows (c, i, j) as ``W.reshape(C_out, -1)``. ``workspace``: a dict owned by the caller whose array
        receives a conv layer's D (torch; the next call with the same dict overwrites it; :func:`conv_unfold`); it
        also records the X that D is of (``workspace["of"]``: a weak reference to X, X's and D's versions), and a
        call for that X returns the kept D while X and D are unmodified (:meth:`affine_any_order` reads the first
        layer's D again after its W-step).
        """
        Z = self._pool(X)
        if not self.is_conv:
            return Z
        if workspace is not None and (D := kept(workspace.get("of"), X)) is not None:
            return D
        op = self.op
        D = conv_unfold(self._to4(Z, self.mid_shape), op.kernel, op.stride, op.padding, workspace)
        if workspace is not None and (memo := keep(X, D)) is not None:
            workspace["of"] = memo
        return D

    def affine_any_order(self, W: Array, b: Array, X: Array, workspace: dict) -> Array:
        """U = A(W, X) + (b ⊗ 1_P) 1ᵀ (n_out x m) in the cheaper storage order, for a caller that passes φ(U) only to a
        conv map (which copies it into its own layouts): :meth:`_im2col_affine`'s samples-last U (LeNet-5's first
        layer; D kept in ``workspace`` by the W-step of the same X) where it applies, else :meth:`affine`."""
        U = self._im2col_affine(W, b, X, workspace)
        return self.affine(W, b, X) if U is None else U

    def _im2col_affine(self, W: Array, b: Array, X: Array, workspace: dict):
        """U = W_mat D + B (n_out x m, the samples-last view of V = C_out x P·m) on D = :meth:`design` (X,
        ``workspace``), the bias added in place in the design layout (per entry :meth:`affine`'s addition), for a conv
        map with one input channel on the CPU (torch, one dtype, no autograd; else None): oneDNN's convolution is slow
        there (a 16-channel-blocked output, 4x U). D's rows (c, i, j) are then the convolution's order of the k_h·k_w
        terms, but whether the sums agree is the libraries' outcome: the first call per (m, dtype) also runs
        :meth:`affine` and compares the bits (signed zeros too); on a mismatch: None for that (m, dtype) for good."""
        if not (self.is_conv and self.mid_shape[0] == 1 and is_torch(X) and X.device.type == "cpu"
                and X.dtype == W.dtype == b.dtype and not (X.requires_grad or W.requires_grad or b.requires_grad)):
            return None
        key, checked = (int(X.shape[1]), str(X.dtype)), self.__dict__.setdefault("_im2col_exact", {})
        if checked.get(key) is False:
            return None
        O, P, m = self.out_shape[0], self.positions, X.shape[1]
        V = self.weight_matrix(W) @ self.design(X, workspace)
        V.view(O, P, m).add_(self.bias_full(b).view(O, P, 1))
        U = V.view(self.n_out, m)
        if key not in checked:
            checked[key] = bool(same_bits(self.affine(W, b, X), U))
            if not checked[key]:
                return None
        return U

    def to_design_rows(self, U: Array, workspace: dict | None = None) -> Array:
        """cols(U): n_out x m → C_out x (P·m), the layout of W_mat D (dense: U itself): a reshape, and a copy when
        U is stored samples-first (a conv output's layout; :func:`~fenchel_cvx.conv_ops.rows_contiguous`: the
        array ``U.reshape`` gives, copied faster), or the V that :meth:`affine` kept in ``workspace`` for this U."""
        if not self.is_conv:
            return U
        if workspace is not None and (V := kept(workspace.get("rows"), U)) is not None:
            return V.view(self.out_shape[0], self.positions * U.shape[1])
        return rows_contiguous(U).reshape(self.out_shape[0], self.positions * U.shape[1])

    def from_design_rows(self, V: Array) -> Array:
        """Inverse of :meth:`to_design_rows`: C_out x (P·m) → n_out x m."""
        if not self.is_conv:
            return V
        return V.reshape(self.n_out, V.shape[1] // self.positions)

    def weight_matrix(self, W: Array) -> Array:
        """W as the C_out x fan_in matrix acting on :meth:`design` (a reshape)."""
        return W.reshape(self.weight_shape[0], self.fan_in)

    def weight_from_matrix(self, Wm: Array) -> Array:
        """Inverse of :meth:`weight_matrix`."""
        return Wm.reshape(self.weight_shape)

    # ---- explicit operators (references) and norms -------------------------------------------
    def pool_sparse(self) -> sp.csr_matrix:
        """pools as a scipy sparse n_mid x n_in matrix (entries 1/p² per window)."""
        M = sp.identity(self.n_in, format="csr")
        if not self.pools:
            return M
        C, H, W = self.in_shape
        for p in self.pools:
            Ho, Wo = H // p, W // p
            c, ho, wo, i, j = np.meshgrid(np.arange(C), np.arange(Ho), np.arange(Wo), np.arange(p), np.arange(p),
                                          indexing="ij")
            rows = ((c * Ho + ho) * Wo + wo).ravel()
            cols = ((c * H + ho * p + i) * W + wo * p + j).ravel()
            P = sp.csr_matrix((np.full(rows.size, 1.0 / (p * p)), (rows, cols)), shape=(C * Ho * Wo, C * H * W))
            M = P @ M
            H, W = Ho, Wo
        return M.tocsr()

    def op_sparse(self, W: Array) -> sp.csr_matrix:
        """op(W, ·) as a scipy sparse n_out x n_mid matrix (float64)."""
        Wn = np.asarray(to_numpy(W), dtype=np.float64)
        self.check_weights(Wn)
        if not self.is_conv:
            return sp.csr_matrix(Wn)
        C, H, Wd = self.mid_shape
        O, Ho, Wo = self.out_shape
        (kh, kw), (sh, sw), (ph, pw) = self.op.kernel, self.op.stride, self.op.padding
        o, ho, wo, c, i, j = np.meshgrid(np.arange(O), np.arange(Ho), np.arange(Wo), np.arange(C), np.arange(kh),
                                         np.arange(kw), indexing="ij")
        hi, wi = ho * sh + i - ph, wo * sw + j - pw
        ok = (hi >= 0) & (hi < H) & (wi >= 0) & (wi < Wd)
        rows = ((o * Ho + ho) * Wo + wo)[ok]
        cols = ((c * H + hi) * Wd + wi)[ok]
        vals = Wn[o[ok], c[ok], i[ok], j[ok]]
        return sp.csr_matrix((vals, (rows, cols)), shape=(self.n_out, self.n_mid))

    def sparse(self, W: Array) -> sp.csr_matrix:
        """A(W, ·) = op ∘ pools as an explicit scipy sparse n_out x n_in matrix (float64)."""
        return (self.op_sparse(W) @ self.pool_sparse()).tocsr()

    def norm_bound(self, W: Array) -> float:
        r"""A certified upper bound on ‖A(W, ·)‖₂ (Python float).

        ‖A‖ ≤ ‖op‖·Π_pools 1/p (‖avg-pool_p‖₂ = 1/p exactly). Dense: ‖W‖₂ (exact). Conv: the
        zero-padded (strided) convolution is a restriction of the stride-1 *full* linear
        convolution of the padded map followed by a coordinate selection, and the full linear
        convolution equals the circular one on an N_h x N_w grid with N = H + 2p + k − 1, whose
        norm is max over the DFT frequencies ω of σ_max(K̂(ω)) (K̂(ω): the C_out x C_in matrix of
        2-D DFTs of the kernel). So ‖conv‖₂ ≤ max_ω σ_max(K̂(ω)) (rounded up by 1e-9 relative).
        """
        scale = 1.0
        for p in self.pools:
            scale /= p
        if not self.is_conv:
            return namespace(W).spectral_norm(W) * scale
        K = np.asarray(to_numpy(W), dtype=np.float64)
        (kh, kw), (ph, pw) = self.op.kernel, self.op.padding
        _, H, Wd = self.mid_shape
        Kf = np.fft.fft2(K, s=(H + 2 * ph + kh - 1, Wd + 2 * pw + kw - 1))  # (O, C, N1, N2)
        sv = np.linalg.svd(Kf.transpose(2, 3, 0, 1), compute_uv=False)
        return float(sv.max()) * (1.0 + 1e-9) * scale if sv.size else 0.0


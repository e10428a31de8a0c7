r"""Convolutional lifted networks: :class:`ConvFenchelNetwork` (conv, average pooling, dense layers).

Shapes (features x samples, as everywhere in the project): data ``X0`` is d x m with
d = C·H·W, each column the C-order flattening of one sample's C x H x W image; the hidden
activations X_l are n_l x m with n_l = C_l·H_l·W_l, the flattened **pre-pooling** activation
maps. Layers l = 0..L (docs/design.md §1 with the linear map generalised)::

    U_l = A_l(W_l, X_l) + (b_l ⊗ 1_{P_l}) 1ᵀ,   X_{l+1} = φ_l(U_l) (l < L),   Z = A_L(W_L, X_L) + b_L 1ᵀ,

where A_l = op_l ∘ pool_l (:class:`fenchel_cvx.layers.LinearMap`): average poolings (and
flattens) of the previous map folded into the next layer's linear map, then a 2-D
convolution (kernel W_l: C_out x C_in x k_h x k_w, bias b_l: one per output channel, P_l output
positions) or a dense map (W_l: n_out x n_in). The output layer is dense. Then, exactly as for
:class:`fenchel_cvx.network.FenchelNetwork`::

    J(W)      = (1/m) ℓ(Y, Z) + Σ_l (ρ_l/2) ‖W_l‖²_F
    F_λ(W, X) = (1/m) [ ℓ(Y, A_L(W_L, X_L) + b_L 1ᵀ) + Σ_{l<L} λ_l Σ B_φl(U_l, X_{l+1}) ] + Σ_l (ρ_l/2)‖W_l‖²_F

with F_λ(W, forward(W)) = J(W) and min F_λ ≤ min J for λ ≥ 0. **Max pooling is refused**: it
is not an affine map, so it cannot be the linear map inside a Fenchel divergence
(:class:`fenchel_cvx.layers.LiftedModeError`).

Architectures: a list of layer specs (Python API)::

    ConvFenchelNetwork([Conv2d(6, 5, padding=2), AvgPool2d(2), Conv2d(16, 5), AvgPool2d(2), Flatten(),
                        Dense(120), Dense(84), Dense(10)], input_shape=(1, 28, 28), activation="relu")

a CLI string (comma-separated tokens; ``input`` optional when ``input_shape`` is given)::

    "input1x28x28,conv6k5p2,avgpool2,conv16k5,avgpool2,flatten,dense120,dense84,dense10"

tokens: ``inputCxHxW``; ``conv<C_out>k<k>[x<k_w>][s<s>[x<s_w>]][p<p>[x<p_w>]][:<activation>]``;
``avgpool<p>`` (or ``pool<p>``); ``maxpool<p>`` (refused in lifted mode); ``flatten``;
``dense<n>[:<activation>]``. Or a named preset (:data:`PRESETS`): ``lenet5`` = 28 x 28 inputs
padded to 32 x 32: 6@5x5 → avg-pool 2 → 16@5x5 → avg-pool 2 → 120 → 84 → 10, ReLU (the
padding of the input is the first convolution's ``padding=2``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations as _act
from .arrays import Array, ArrayLike, Device, DTypeLike
from .backend import namespace
from .layers import (
    MAXPOOL_MESSAGE,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    LiftedModeError,
    LinearMap,
    MaxPool2d,
)
from .losses import Loss
from .network import FenchelNetwork
from .validation import check_array

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

__all__ = ["ConvFenchelNetwork", "PRESETS", "parse_layers", "parameter_shapes", "Conv2d", "Dense", "AvgPool2d",
           "MaxPool2d", "Flatten", "LiftedModeError"]

#: named architectures: (layer string, input shape)
PRESETS = {
    "lenet5": ("conv6k5p2,avgpool2,conv16k5,avgpool2,flatten,dense120,dense84,dense10", (1, 28, 28)),
}

_CONV_RE = re.compile(r"^conv(\d+)k(\d+)(?:x(\d+))?(?:s(\d+)(?:x(\d+))?)?(?:p(\d+)(?:x(\d+))?)?$")
_TOKEN_HELP = ("tokens: inputCxHxW, conv<C>k<k>[x<kw>][s<s>[x<sw>]][p<p>[x<pw>]][:act], avgpool<p>, maxpool<p>, "
               "flatten, dense<n>[:act] (comma-separated), or a preset: " + ", ".join(PRESETS))


def parse_layers(text: str) -> tuple[list, tuple | None]:
    """Parse a CLI architecture string (module docstring) into ``(specs, input_shape or None)``.

    A preset name returns the preset's specs and input shape. Raises ``ValueError`` naming the offending token.
    """
    if not isinstance(text, str):
        raise TypeError(f"layers: expected a string, got {type(text).__name__}")
    key = text.strip().lower()
    if key in PRESETS:
        s, shape = PRESETS[key]
        specs, _ = parse_layers(s)
        return specs, shape
    tokens = [t.strip() for t in re.split(r"[,\s]+", text.strip()) if t.strip()]
    if not tokens:
        raise ValueError(f"layers: empty architecture string; {_TOKEN_HELP}")
    specs, input_shape = [], None
    for pos, tok in enumerate(tokens):
        body, _, act = tok.lower().partition(":")
        act = act or None
        if act is not None:
            _act.get(act)  # unknown activation: a clear error from the registry
        m = re.fullmatch(r"input(\d+)x(\d+)x(\d+)|input(\d+)", body)
        if m:
            if pos != 0:
                raise ValueError(f"layers: token {tok!r}: 'input' must come first")
            input_shape = tuple(int(g) for g in m.groups() if g is not None)
            continue
        m = _CONV_RE.fullmatch(body)
        if m:
            c, kh, kw, sh, sw, ph, pw = m.groups()
            specs.append(Conv2d(int(c), (int(kh), int(kw or kh)), stride=(int(sh or 1), int(sw or sh or 1)),
                                padding=(int(ph or 0), int(pw or ph or 0)), activation=act))
            continue
        m = re.fullmatch(r"dense(\d+)", body)
        if m:
            specs.append(Dense(int(m.group(1)), activation=act))
            continue
        m = re.fullmatch(r"(?:avg)?pool(\d+)", body)
        if m and act is None:
            specs.append(AvgPool2d(int(m.group(1))))
            continue
        m = re.fullmatch(r"maxpool(\d+)", body)
        if m and act is None:
            specs.append(MaxPool2d(int(m.group(1))))
            continue
        if body == "flatten" and act is None:
            specs.append(Flatten())
            continue
        raise ValueError(f"layers: cannot parse token {tok!r}; {_TOKEN_HELP}")
    return specs, input_shape


def parameter_shapes(layers: Sequence, input_shape: Sequence[int]) -> list[tuple[tuple, tuple]]:
    """``[(W_l shape, b_l shape) for each weight layer l]`` of the conv network with layer specs ``layers`` on
    inputs of shape ``input_shape`` (C x H x W of one sample): C_out x C_in x k_h x k_w / (C_out,) for a
    convolution, n_out x n_in / (n_out,) for a dense layer. Computed from the linear maps' shapes, without
    allocating any weight, so that a stored description can be checked against stored weights before a network
    is built from it (:func:`fenchel_cvx.model_io.load`)."""
    maps, _ = _build_maps(list(layers), _check_input_shape(input_shape))
    return [(tuple(mp.weight_shape), tuple(mp.bias_shape)) for mp in maps]


def _build_maps(specs, input_shape):
    """Group specs into LinearMaps (pools/flattens folded into the following weight layer)."""
    maps, acts, pending = [], [], []
    shape = tuple(input_shape)
    for i, s in enumerate(specs):
        if isinstance(s, MaxPool2d):
            raise LiftedModeError(f"layer spec {i} ({s.token()}): {MAXPOOL_MESSAGE}")
        if isinstance(s, (AvgPool2d, Flatten)):
            pending.append(s)
            continue
        if not isinstance(s, (Dense, Conv2d)):
            raise TypeError(f"layers[{i}]: expected Conv2d, Dense, AvgPool2d, Flatten (or MaxPool2d, refused), got "
                            f"{type(s).__name__}")
        try:
            mp = LinearMap(s, pending, shape)
        except ValueError as e:
            raise ValueError(f"layer spec {i} ({s.token()}) on a {'x'.join(map(str, shape))} input: {e}") from None
        maps.append(mp)
        acts.append(s.activation)
        shape = mp.out_shape
        pending = []
    if pending:
        raise ValueError(f"layers: {', '.join(p.token() for p in pending)} after the output layer: pooling and "
                         f"flatten must precede a Conv2d or Dense layer")
    if not maps:
        raise ValueError("layers: at least one Conv2d or Dense layer is needed")
    if maps[-1].is_conv:
        raise ValueError(f"layers: the output layer must be Dense (a classifier/regressor head), got "
                         f"{maps[-1].op.token()}; add flatten,dense<k>")
    if acts[-1] is not None:
        raise ValueError(f"layers: the output layer {maps[-1].op.token()} has no activation (the loss acts on its "
                         f"outputs), got activation {acts[-1]!r}")
    return maps, acts[:-1]


def _check_input_shape(input_shape) -> tuple:
    """(C, H, W) or (d,) of positive integers (an int means (d,))."""
    if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
        input_shape = (int(input_shape),)
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"input_shape: expected (C, H, W) (or (d,)), got {input_shape!r}") from None
    if len(shape) not in (1, 3) or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                                       for s in shape):
        raise ValueError(f"input_shape: expected (C, H, W) (or (d,)) with positive integer entries, got "
                         f"{input_shape!r}")
    return tuple(int(s) for s in shape)


class ConvFenchelNetwork(FenchelNetwork):
    """A feed-forward network with convolution, average-pooling and dense layers, and its lifted relaxation.

    Parameters
    ----------
    layers : list of specs (:class:`Conv2d`, :class:`AvgPool2d`, :class:`Flatten`, :class:`Dense`), a CLI
        string or a preset name (module docstring). The last weight layer must be Dense with no activation.
    input_shape : (C, H, W) of one sample (d = C·H·W); may come from the string/preset instead.
    activation : default activation of the hidden layers whose spec gives none (a name, an Activation,
        or one per hidden layer).
    loss, lam (L values), rho (L + 1 values), bias, seed, dtype : as for :class:`FenchelNetwork`.

    Attributes: ``maps`` (one :class:`~fenchel_cvx.layers.LinearMap` per weight layer), ``specs``,
    ``input_shape``, ``sizes`` = [d, n_1, ..., n_L, k] (flattened widths), ``W[l]`` (kernel
    C_out x C_in x k_h x k_w for conv layers, n_out x n_in for dense), ``b[l]`` (C_out,) / (n_out,).
    """

    def __init__(self, layers: str | Sequence, input_shape: Sequence[int] | int | None = None,
                 activation: str | _act.Activation | Sequence = "relu", loss: str | Loss = "cross_entropy",
                 lam: float | Sequence[float] = 1.0, rho: float | Sequence[float] = 0.0, bias: bool = True,
                 seed: int | None = 0, dtype: DTypeLike = np.float64) -> None:
        parsed_shape = None
        if isinstance(layers, str):
            self.arch = layers.strip()
            specs, parsed_shape = parse_layers(layers)
        elif isinstance(layers, (list, tuple)):
            specs = list(layers)
            self.arch = ",".join(s.token() for s in specs if hasattr(s, "token"))
        else:
            raise TypeError(f"layers: expected a list of layer specs, a layer string or a preset name "
                            f"({', '.join(PRESETS)}), got {type(layers).__name__} {layers!r}")
        if input_shape is None:
            input_shape = parsed_shape
        if input_shape is None:
            raise ValueError("input_shape: needed (C, H, W) of one sample, or an 'inputCxHxW' token / a preset")
        self.input_shape = _check_input_shape(input_shape)
        self.specs = specs
        self.maps, spec_acts = _build_maps(specs, self.input_shape)
        L = len(self.maps) - 1
        default = _act.per_hidden_layer(activation, L, allow_none=False)
        self.activations = [_act.get(a if a is not None else d) for a, d in zip(spec_acts, default)]
        self.sizes = [self.maps[0].n_in] + [mp.n_out for mp in self.maps]
        self._init_common(L, loss, lam, rho, bias, dtype, seed)

    @classmethod
    def preset(cls, name: str, **kwargs: Any) -> ConvFenchelNetwork:
        """A named architecture from :data:`PRESETS` (``lenet5``); kwargs as for the constructor."""
        if not isinstance(name, str) or name.lower() not in PRESETS:
            raise ValueError(f"preset: unknown {name!r}; known: {', '.join(PRESETS)}")
        return cls(name, **kwargs)

    def __repr__(self) -> str:
        acts = ",".join(a.name for a in self.activations)
        return (f"ConvFenchelNetwork(input={'x'.join(map(str, self.input_shape))}, layers={self.arch!r}, "
                f"activation=[{acts}], loss={self.loss.name}, lam={self.lam.tolist()}, rho={self.rho.tolist()}, "
                f"bias={self.bias})")

    def describe(self) -> str:
        """One line per weight layer: its linear map (with pools folded in), activation and parameter count."""
        lines = [repr(self)]
        for l, mp in enumerate(self.maps):
            act = self.activations[l].name if l < self.L else "(output)"
            n_par = int(np.prod(mp.weight_shape)) + int(np.prod(mp.bias_shape))
            lines.append(f"  layer {l}: {mp!r}  {act}  [{n_par} parameters]")
        return "\n".join(lines)

    # ---- parameters -------------------------------------------------------------------
    def init_params(self, seed: int | None = 0) -> ConvFenchelNetwork:
        """W_l, b_l ~ U(−1/√fan_in, 1/√fan_in) (torch's default for nn.Conv2d/nn.Linear); b = 0 if bias=False."""
        rng = np.random.default_rng(seed)
        self.W, self.b = [], []
        for mp in self.maps:
            s = 1.0 / math.sqrt(mp.fan_in)
            self.W.append(rng.uniform(-s, s, size=mp.weight_shape).astype(self.dtype))
            bl = rng.uniform(-s, s, size=mp.bias_shape) if self.bias else np.zeros(mp.bias_shape)
            self.b.append(bl.astype(self.dtype))
        return self

    def set_params(self, W: Sequence[ArrayLike], b: Sequence[ArrayLike]) -> ConvFenchelNetwork:
        """Set (W, b) after checking shapes (``maps[l].weight_shape``/``bias_shape``) and finiteness."""
        if len(W) != self.n_layers or len(b) != self.n_layers:
            raise ValueError(f"W, b: expected {self.n_layers} layers, got {len(W)} and {len(b)}")
        W = [check_array(w, f"W[{l}]", mp.weight_shape) for l, (w, mp) in enumerate(zip(W, self.maps))]
        b = [check_array(v, f"b[{l}]", mp.bias_shape) for l, (v, mp) in enumerate(zip(b, self.maps))]
        if not self.bias and any(namespace(v).any(v != 0) for v in b):
            raise ValueError("b: must be zero when bias=False")
        self.W, self.b = list(W), list(b)
        return self

    # ---- evaluation ---------------------------------------------------------------------
    def affine(self, l: int, W_l: Array, b_l: Array, X: Array, workspace: dict | None = None) -> Array:
        """U_l = A_l(W_l, X) + (b_l ⊗ 1_P) 1ᵀ (X is n_l x m, the pre-pooling map): layer l's LinearMap
        (``workspace``: the caller's dict of layer l, :meth:`fenchel_cvx.layers.LinearMap.affine`).

        ``forward``, ``pre_activation``, ``objective`` and ``lifted_terms`` are FenchelNetwork's own, through this map.
        """
        return self.maps[l].affine(W_l, b_l, X, workspace)

    def affine_any_order(self, l: int, W_l: Array, b_l: Array, X: Array, workspace: dict) -> Array:
        """:meth:`affine` in whichever storage order is cheaper (:meth:`fenchel_cvx.layers.LinearMap.affine_any_order`)
        when layer l + 1 is a convolution (it copies φ_l(U_l) into its own layouts: the same values either way); else
        :meth:`affine` (a dense map's products read their operand's order)."""
        if l + 1 < len(self.maps) and self.maps[l + 1].is_conv:
            return self.maps[l].affine_any_order(W_l, b_l, X, workspace)
        return self.affine(l, W_l, b_l, X)

    # ---- images <-> columns, torch modules -------------------------------------------------
    def images(self, X0: ArrayLike) -> Array:
        """Columns d x m → sample-major images (m, C, H, W) (numpy or torch)."""
        X0 = self.check_input(X0)
        return X0.T.reshape(X0.shape[1], *self.input_shape)

    def columns(self, images: Array) -> Array:
        """Images (m, C, H, W) (or (m, d)) → columns d x m."""
        m = images.shape[0]
        X = images.reshape(m, -1).T
        return self.check_input(X)

    def torch_module(self, device: Device = "cpu", dtype: DTypeLike | None = None) -> torch.nn.Sequential:
        """The same network as a ``torch.nn.Sequential`` with a copy of the current weights (backprop baselines).

        Input: images (m, C, H, W) (sample-major, torch's convention); output: logits (m, k). Average
        poolings are ``nn.AvgPool2d``, activations call φ of the registry
        (:class:`~fenchel_cvx.torch_modules.LiftedActivation`, autograd-compatible). Dense layers after a conv
        map act on ``nn.Flatten()`` of it (C-order, the same as the lifted columns). :meth:`to_torch` is the
        export form (torch's own activation modules).
        """
        from .torch_export import torch_sequential

        return torch_sequential(self, device=device, dtype=dtype, native=False)

    def load_torch_module(self, module: torch.nn.Sequential) -> ConvFenchelNetwork:
        """Copy the weights of a module made by :meth:`torch_module` back into ``W``, ``b`` (numpy, ``dtype``)."""
        import torch

        layers = [mod for mod in module if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
        if len(layers) != self.n_layers:
            raise ValueError(f"module: expected {self.n_layers} Conv2d/Linear layers, got {len(layers)}")
        W, b = [], []
        for mp, layer in zip(self.maps, layers):
            W.append(layer.weight.detach().cpu().numpy().astype(self.dtype).reshape(mp.weight_shape))
            b.append(layer.bias.detach().cpu().numpy().astype(self.dtype) if layer.bias is not None
                     else np.zeros(mp.bias_shape, dtype=self.dtype))
        return self.set_params(W, b)


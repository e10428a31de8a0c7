r"""PyTorch interop: a lifted network as a ``torch.nn.Sequential`` (:func:`to_torch`) and back (:func:`from_torch`).

The feed-forward network of a :class:`~fenchel_cvx.network.FenchelNetwork` (or a
:class:`~fenchel_cvx.conv.ConvFenchelNetwork`) is an ordinary network, so it can leave the package as a torch
module, and a torch module made of the layers a lifted network knows can enter it:

* :func:`to_torch` -- ``nn.Linear`` / ``nn.Conv2d`` / ``nn.AvgPool2d`` / ``nn.Flatten`` layers with a copy of
  the weights and torch's own activation modules (``nn.ReLU``, ``nn.LeakyReLU(a)``, ``nn.Sigmoid``,
  ``nn.Tanh``, ``nn.Hardtanh(-1, 1)``, ``nn.Identity``; an activation torch has no module for becomes a
  :class:`~fenchel_cvx.torch_modules.LiftedActivation`). The module follows torch's convention,
  **samples x features**: a dense network maps rows (m, d) to logits (m, k); a conv network maps images
  (m, C, H, W) to logits (m, k) (``flat_input=True`` prepends an ``nn.Unflatten`` so that it takes rows
  (m, C·H·W), the transpose of the package's d x m columns).
* :func:`from_torch` -- the inverse: a ``nn.Sequential`` (nested ones are flattened) of ``Linear``,
  ``Conv2d`` (groups 1, dilation 1, zero padding), ``AvgPool2d`` (non-overlapping windows), ``Flatten``
  and the activations above, each activation directly after its weight layer, the last weight layer
  without one (the loss acts on the logits). A weight layer followed directly by another weight layer has
  the identity activation. Anything else raises :class:`~fenchel_cvx.errors.LiftedModeError` naming the
  first unsupported layer (``module[3] (MaxPool2d): ...``).

``from_torch(to_torch(net))`` reproduces the architecture and the weights exactly; the loss, λ and ρ are
not part of a torch module and are given to :func:`from_torch` (defaults: cross-entropy, λ = 1, ρ = 0).

The dtype rule: the package computes in float64 unless asked otherwise. :func:`from_torch` returns a float64
network whatever the module's dtype (torch's float32 default converts exactly; ``dtype="float32"`` keeps
float32), and :func:`to_torch` returns a module in the network's dtype (``dtype=`` overrides). So the default
path -- numpy float64 data, ``fc.from_torch(m)``, ``net.to_torch()``, ``module(torch.as_tensor(X.T))`` --
is float64 throughout; a module in another dtype takes ``torch.as_tensor(X.T, dtype=<its dtype>)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations as _act
from .errors import LiftedModeError
from .layers import MAXPOOL_MESSAGE, AvgPool2d, Conv2d, Dense, Flatten
from .network import FenchelNetwork
from .torch_export import require_torch as _torch
from .torch_export import to_torch, torch_sequential

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

# to_torch, torch_sequential: torch_export.py
__all__ = ["to_torch", "from_torch", "torch_sequential", "SUPPORTED_LAYERS"]

#: what :func:`from_torch` accepts (torch class names)
SUPPORTED_LAYERS = ("Linear", "Conv2d", "AvgPool2d", "Flatten", "Unflatten (first only)", "ReLU", "LeakyReLU",
                    "Sigmoid", "Tanh", "Hardtanh(-1, 1)", "Identity", "LiftedActivation")


# ======================================================================================
# from torch
# ======================================================================================
def _leaves(module, path: str):
    """(path, leaf module) pairs of a Sequential/ModuleList/list, nested containers flattened in order."""
    torch = _torch()
    if isinstance(module, (torch.nn.Sequential, torch.nn.ModuleList, list, tuple)):
        for i, child in enumerate(module):
            yield from _leaves(child, f"{path}[{i}]")
    else:
        yield path, module


def _activation_of(mod, where: str):
    """The registry activation of a torch activation module (None if ``mod`` is not an activation)."""
    nn = _torch().nn
    from .torch_modules import LiftedActivation

    if isinstance(mod, LiftedActivation):
        return mod.act
    if isinstance(mod, nn.ReLU):
        return _act.get("relu")
    if isinstance(mod, nn.LeakyReLU):
        slope = float(mod.negative_slope)
        if not 0.0 < slope < 1.0:
            raise LiftedModeError(f"{where} (LeakyReLU): negative_slope={slope:g}; a lifted leaky_relu needs a "
                                  f"slope in (0, 1) (a monotone activation with a strongly convex potential)")
        return _act.get("leaky_relu", a=slope)
    if isinstance(mod, nn.Sigmoid):
        return _act.get("sigmoid")
    if isinstance(mod, nn.Tanh):
        return _act.get("tanh")
    if isinstance(mod, nn.Hardtanh):
        if (float(mod.min_val), float(mod.max_val)) != (-1.0, 1.0):
            raise LiftedModeError(f"{where} (Hardtanh): only Hardtanh(-1, 1) is supported, got "
                                  f"min_val={mod.min_val:g}, max_val={mod.max_val:g}")
        return _act.get("hardtanh")
    if isinstance(mod, nn.Identity):
        return _act.get("identity")
    return None


def _unsupported(where: str, mod, why: str = "") -> LiftedModeError:
    name = type(mod).__name__
    if name.startswith("MaxPool"):
        return LiftedModeError(f"{where} ({name}): {MAXPOOL_MESSAGE}")
    return LiftedModeError(f"{where} ({name}): {why or 'not a layer a lifted network supports'}; supported: "
                           f"{', '.join(SUPPORTED_LAYERS)}")


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _weight_spec(mod, where: str):
    """(spec, W, b) of a Linear/Conv2d module (W, b numpy copies; b None without bias)."""
    nn = _torch().nn
    if isinstance(mod, nn.Linear):
        spec = Dense(int(mod.out_features), in_features=int(mod.in_features))
    else:
        if mod.groups != 1 or _pair(mod.dilation) != (1, 1):
            raise _unsupported(where, mod, f"groups={mod.groups}, dilation={mod.dilation}: only groups=1, "
                                           f"dilation=1 convolutions are supported")
        if isinstance(mod.padding, str) or mod.padding_mode != "zeros":
            raise _unsupported(where, mod, f"padding={mod.padding!r}, padding_mode={mod.padding_mode!r}: only "
                                           f"explicit zero padding is supported")
        spec = Conv2d(int(mod.out_channels), _pair(mod.kernel_size), stride=_pair(mod.stride),
                      padding=_pair(mod.padding), in_channels=int(mod.in_channels))
    W = mod.weight.detach().cpu().numpy().copy()
    b = None if mod.bias is None else mod.bias.detach().cpu().numpy().copy()
    return spec, W, b


def _pool_spec(mod, where: str) -> AvgPool2d:
    k = _pair(mod.kernel_size)
    s = k if mod.stride is None else _pair(mod.stride)
    if k[0] != k[1] or s != k or _pair(mod.padding) != (0, 0) or mod.ceil_mode or mod.divisor_override:
        raise _unsupported(where, mod, f"kernel_size={mod.kernel_size}, stride={mod.stride}, padding={mod.padding}: "
                                       f"only square non-overlapping windows (stride = kernel size, no padding) "
                                       f"are supported")
    return AvgPool2d(k[0])


def from_torch(module: torch.nn.Module | Sequence, input_shape: tuple | int | None = None, *,
               loss: str = "cross_entropy",
               lam: float | list = 1.0, rho: float | list = 0.0, dtype: Any = None) -> FenchelNetwork:
    """A lifted network with the architecture and a copy of the weights of a torch module (module docstring).

    Parameters
    ----------
    module : ``torch.nn.Sequential`` (or ModuleList / list) of the supported layers.
    input_shape : (C, H, W) of one sample, needed when the module has Conv2d/AvgPool2d layers (unless it
        starts with ``nn.Unflatten(1, (C, H, W))``); omitted for Linear-only modules.
    loss, lam, rho : the network's loss, multipliers λ and weight decay ρ (not part of a torch module).
    dtype : the network's dtype, float64 by default whatever the module's (float32 weights convert
        exactly); ``dtype="float32"`` keeps float32.

    Returns a :class:`FenchelNetwork` (Linear layers and activations only) or a
    :class:`~fenchel_cvx.conv.ConvFenchelNetwork`. Raises :class:`~fenchel_cvx.errors.LiftedModeError`
    naming the first unsupported layer, ``ValueError`` for inconsistent shapes or biases.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, (nn.Module, list, tuple)):
        raise TypeError(f"module: expected a torch.nn.Sequential, got {type(module).__name__}")
    leaves = list(_leaves(module, "module"))
    if isinstance(module, nn.Module) and not isinstance(module, (nn.Sequential, nn.ModuleList)):
        leaves = [("module", module)]
    specs, weights, biases, acts, where_w = [], [], [], [], []
    pending_act = None  # activation seen after the last weight layer
    unflatten = None
    any_conv = False
    for pos, (where, mod) in enumerate(leaves):
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            if weights and pending_act is None:
                acts.append(_act.get("identity"))  # two weight layers in a row: identity activation
            elif weights:
                acts.append(pending_act)
            pending_act = None
            spec, W, b = _weight_spec(mod, where)
            any_conv = any_conv or isinstance(mod, nn.Conv2d)
            specs.append(spec)
            weights.append(W)
            biases.append(b)
            where_w.append(where)
            continue
        act = _activation_of(mod, where)
        if act is not None:
            if not weights:
                raise LiftedModeError(f"{where} ({type(mod).__name__}): an activation before the first weight layer "
                                      f"has no lifted form (activations follow a Linear/Conv2d layer)")
            if pending_act is not None:
                raise LiftedModeError(f"{where} ({type(mod).__name__}): two activations in a row after "
                                      f"{where_w[-1]}; a lifted layer has one activation")
            if specs and not isinstance(specs[-1], (Dense, Conv2d)):
                raise LiftedModeError(f"{where} ({type(mod).__name__}): an activation must directly follow its "
                                      f"Linear/Conv2d layer (pooling acts on the activation's output)")
            pending_act = act
            continue
        if isinstance(mod, nn.AvgPool2d):
            specs.append(_pool_spec(mod, where))
            any_conv = True
        elif isinstance(mod, nn.Flatten):
            if mod.start_dim != 1 or mod.end_dim != -1:
                raise _unsupported(where, mod, f"start_dim={mod.start_dim}, end_dim={mod.end_dim}: only "
                                               f"Flatten(1, -1) (one sample per row) is supported")
            specs.append(Flatten())
        elif isinstance(mod, nn.Unflatten) and pos == 0 and mod.dim == 1:
            unflatten = tuple(int(s) for s in mod.unflattened_size)
        else:
            raise _unsupported(where, mod)
    if not weights:
        raise ValueError("module: no Linear or Conv2d layer found")
    if pending_act is not None:
        raise LiftedModeError(f"module: an activation ({pending_act.name}) after the last weight layer "
                              f"{where_w[-1]}: the output layer has no activation (the loss acts on the logits)")
    if not isinstance(specs[-1], (Dense, Conv2d)):
        raise LiftedModeError(f"module: {type(specs[-1]).__name__} after the last weight layer {where_w[-1]}: "
                              f"pooling and flatten must precede a weight layer")
    has_bias = [b is not None for b in biases]
    if any(has_bias) and not all(has_bias):
        i = has_bias.index(not has_bias[0])
        raise ValueError(f"{where_w[i]}: {'has' if has_bias[i] else 'has no'} bias while {where_w[0]} "
                         f"{'has' if has_bias[0] else 'has no'}; a lifted network has biases on every layer or on none")
    bias = all(has_bias)
    if dtype is None:  # the package's rule: float64 unless asked (a float32 module converts exactly)
        dtype = np.float64
    b_list = [b if b is not None else np.zeros(W.shape[0]) for W, b in zip(weights, biases)]
    shape = unflatten if input_shape is None else input_shape
    if any_conv or (shape is not None and np.ndim(shape) == 1 and len(tuple(shape)) == 3):
        from .conv import ConvFenchelNetwork

        if shape is None:
            raise ValueError("input_shape: needed, (C, H, W) of one sample, for a module with Conv2d/AvgPool2d "
                             "layers (or start the module with nn.Unflatten(1, (C, H, W)))")
        try:
            net = ConvFenchelNetwork(specs, input_shape=shape, activation=acts, loss=loss, lam=lam, rho=rho,
                                     bias=bias, dtype=dtype)
        except LiftedModeError:
            raise
        except ValueError as e:
            raise ValueError(f"module: {e}") from None
    else:
        sizes = [weights[0].shape[1]]
        for where, W in zip(where_w, weights):
            if W.shape[1] != sizes[-1]:
                raise ValueError(f"{where} (Linear): in_features={W.shape[1]} does not match the previous layer's "
                                 f"out_features={sizes[-1]}")
            sizes.append(W.shape[0])
        if shape is not None and int(np.prod(shape)) != sizes[0]:
            raise ValueError(f"input_shape: {shape} has {int(np.prod(shape))} features, the first Linear layer "
                             f"takes {sizes[0]}")
        net = FenchelNetwork(sizes, activation=acts, loss=loss, lam=lam, rho=rho, bias=bias, dtype=dtype)
    return net.set_params([np.asarray(W, dtype=net.dtype) for W in weights],
                          [np.asarray(b, dtype=net.dtype) for b in b_list])

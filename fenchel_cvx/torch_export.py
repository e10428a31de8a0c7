r"""A lifted network's feed-forward network as a ``torch.nn.Sequential`` (the export half of
:mod:`fenchel_cvx.interop`, which re-exports :func:`to_torch` and :func:`torch_sequential`).

Kept apart from :func:`fenchel_cvx.interop.from_torch` so that the network classes
(:meth:`FenchelNetwork.to_torch`, :meth:`ConvFenchelNetwork.torch_module`) call it without an import cycle:
this module reads a network through its attributes (``W``, ``b``, ``activations``, ``sizes``, ``maps``...) and
imports neither :mod:`fenchel_cvx.network` nor :mod:`fenchel_cvx.conv`. Shapes: the modules follow torch's
convention, samples x features (module docstring of :mod:`fenchel_cvx.interop`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations as _act
from .arrays import Device
from .backend import to_numpy
from .layers import AvgPool2d

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from .network import FenchelNetwork

__all__ = ["require_torch", "torch_sequential", "to_torch"]


def require_torch() -> Any:
    """The torch module (ImportError naming the extra when torch is missing)."""
    try:
        import torch
    except ImportError as e:
        raise ImportError("torch interop needs torch: pip install 'fenchel-cvx[torch]'") from e
    return torch


def _native_activation(act: _act.Activation):
    """torch's own module for ``act`` (None when torch has none)."""
    nn = require_torch().nn
    if isinstance(act, _act.ReLU):
        return nn.ReLU()
    if isinstance(act, _act.LeakyReLU):
        return nn.LeakyReLU(act.a)
    if isinstance(act, _act.Sigmoid):
        return nn.Sigmoid()
    if isinstance(act, _act.Tanh):
        return nn.Tanh()
    if isinstance(act, _act.HardTanh):
        return nn.Hardtanh(-1.0, 1.0)
    if isinstance(act, _act.Identity):
        return nn.Identity()
    return None


def _torch_dtype(net, dtype):
    torch = require_torch()
    if dtype is None:
        dtype = str(net.dtype)
    if isinstance(dtype, str):
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
        return getattr(torch, dtype)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def torch_sequential(net: FenchelNetwork, device: Device = "cpu", dtype: Any = None, native: bool = True,
                     flat_input: bool = False) -> torch.nn.Sequential:
    """The feed-forward network of ``net`` as a ``torch.nn.Sequential`` with a copy of its weights.

    ``native``: torch's activation modules where they exist (True) or φ of the registry for every activation
    (:class:`~fenchel_cvx.torch_modules.LiftedActivation`, False: the backprop baselines). ``dtype``: the
    network's dtype by default. ``flat_input`` (conv networks): take rows (m, C·H·W) instead of images.
    """
    torch = require_torch()
    from .torch_modules import LiftedActivation

    if not all(hasattr(net, a) for a in ("W", "b", "activations", "n_layers", "sizes", "bias", "dtype")):
        raise TypeError(f"net: expected a FenchelNetwork or ConvFenchelNetwork, got {type(net).__name__}")
    tdt = _torch_dtype(net, dtype)
    maps = getattr(net, "maps", None)
    mods = []
    if maps is not None and flat_input and len(net.input_shape) == 3:
        mods.append(torch.nn.Unflatten(1, tuple(net.input_shape)))
    for l in range(net.n_layers):
        if maps is None:
            n_in, n_out = net.sizes[l], net.sizes[l + 1]
            layer = torch.nn.Linear(n_in, n_out, bias=net.bias, dtype=tdt, device=device)
            shape = (n_out, n_in)
        else:
            mp = maps[l]
            for p in mp.pre:
                mods.append(torch.nn.AvgPool2d(p.size) if isinstance(p, AvgPool2d) else torch.nn.Flatten())
            if mp.is_conv:
                op = mp.op
                layer = torch.nn.Conv2d(mp.mid_shape[0], op.out_channels, op.kernel, stride=op.stride,
                                        padding=op.padding, bias=net.bias, dtype=tdt, device=device)
            else:
                if len(mp.mid_shape) == 3:
                    mods.append(torch.nn.Flatten())
                layer = torch.nn.Linear(mp.n_mid, mp.op.features, bias=net.bias, dtype=tdt, device=device)
            shape = mp.weight_shape
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(np.asarray(to_numpy(net.W[l])).reshape(shape)))
            if net.bias:
                layer.bias.copy_(torch.as_tensor(np.asarray(to_numpy(net.b[l]))))
        mods.append(layer)
        if l < net.L:
            act = net.activations[l]
            mod = _native_activation(act) if native else None
            mods.append(mod if mod is not None else LiftedActivation(act))
    return torch.nn.Sequential(*mods).to(device=device, dtype=tdt)


def to_torch(net: FenchelNetwork, device: Device = "cpu", dtype: Any = None,
             flat_input: bool = False) -> torch.nn.Sequential:
    """``net`` as a ``torch.nn.Sequential`` with torch's activation modules (module docstring); a copy of the
    weights, in ``dtype`` (default: the network's) on ``device``."""
    return torch_sequential(net, device=device, dtype=dtype, native=True, flat_input=flat_input)

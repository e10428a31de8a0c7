r"""Saving and loading networks: one documented, versioned file format for dense and conv networks.

``fc.save(net, "model.npz")`` (or ``net.save(...)``) writes, and ``fc.load("model.npz")`` reads back, a
:class:`~fenchel_cvx.network.FenchelNetwork` or :class:`~fenchel_cvx.conv.ConvFenchelNetwork` with its
architecture, activations (with their parameters), loss, λ, ρ, bias flag, dtype and weights.
``fc.load`` also reads the network out of a training checkpoint (:mod:`fenchel_cvx.training.checkpoint`).

The format (``format_version`` 1)
---------------------------------
An uncompressed NumPy ``.npz`` archive (a zip file; read with ``allow_pickle=False``: no pickled objects) holding

* ``W0`` .. ``WL``: the weights of layers 0..L in the network's dtype: n_{l+1} x n_l (dense) or
  C_out x C_in x k_h x k_w (conv);
* ``b0`` .. ``bL``: the biases, (n_{l+1},) or (C_out,) (zeros when ``bias`` is false);
* ``meta``: UTF-8 JSON as a uint8 array::

    {"format": "fenchel-cvx-model", "format_version": 1, "library_version": "0.1.0",
     "network": {"kind": "dense" | "conv", "sizes": [d, n_1, ..., k],
                 "activation": ["relu", ...], "activation_params": [{}, ...],   (one per hidden layer)
                 "loss": "cross_entropy" | "squared", "lam": [...L], "rho": [...L+1],
                 "bias": true, "dtype": "float64",
                 "input_shape": [C, H, W], "layers": [{"type": "Conv2d", "out_channels": 6,
                     "kernel": [5, 5], "stride": [1, 1], "padding": [2, 2]}, {"type": "AvgPool2d", "size": 2},
                     {"type": "Flatten"}, {"type": "Dense", "features": 120}, ...]}}       (conv only)

Readers accept every ``format_version`` up to their own and refuse newer files with a message naming both
versions; a file that is not such an archive, is truncated, or lacks a key raises
:class:`~fenchel_cvx.errors.FileFormatError` ("corrupt model file <path>: ..."). Files are written atomically
(a temporary file in the same folder, then renamed), so an interrupted save never leaves a half-written model.
"""

from __future__ import annotations

import os

import numpy as np

from . import activations as _act
from .arrays import PathLike
from .errors import FileFormatError
from .model_format import (
    FORMAT,
    FORMAT_VERSION,
    check_spec,
    layer_from_dict,
    network_spec,
    read_npz,
    weights_from,
    write_model,
    write_npz,
)
from .network import FenchelNetwork

# network_spec, read_npz, write_npz, weights_from, check_spec, FORMAT*: model_format.py
__all__ = ["save", "load", "network_spec", "network_from_spec", "read_npz", "write_npz", "weights_from", "check_spec",
           "FORMAT", "FORMAT_VERSION"]


def network_from_spec(spec: dict, arrays: dict | None = None) -> FenchelNetwork:
    """A network (freshly initialised weights) from :func:`network_spec`'s description; with ``arrays`` (the
    stored ``W{l}``, ``b{l}``) a conv description is first checked against their shapes, so that a crafted
    ``input_shape`` cannot allocate weights the file does not hold (``ValueError`` naming the layer)."""
    acts = [_act.get(n, **p) for n, p in zip(spec["activation"], spec.get("activation_params") or
                                            [{}] * len(spec["activation"]), strict=True)]
    common = dict(activation=acts, loss=spec["loss"], lam=spec["lam"], rho=spec["rho"], bias=spec["bias"],
                  dtype=spec.get("dtype", "float64"))
    if spec.get("kind", "dense") == "conv":
        from .conv import ConvFenchelNetwork, parameter_shapes

        if "layers" not in spec:
            raise KeyError("layers")
        if arrays is not None:  # the stored weights must fit the layers before any weight is allocated
            shapes = parameter_shapes([layer_from_dict(d) for d in spec["layers"]], tuple(spec["input_shape"]))
            for l, (w_shape, b_shape) in enumerate(shapes):
                got = tuple(np.shape(arrays.get(f"W{l}"))), tuple(np.shape(arrays.get(f"b{l}")))
                if got != (w_shape, b_shape):
                    raise ValueError(f"the layers give W{l}/b{l} shapes {w_shape}/{b_shape}, the file holds "
                                     f"{got[0]}/{got[1]}")
        net = ConvFenchelNetwork([layer_from_dict(d) for d in spec["layers"]], input_shape=tuple(spec["input_shape"]),
                                 **common)
        if list(net.sizes) != list(spec["sizes"]):
            raise ValueError(f"the layers give sizes {net.sizes}, the file says {spec['sizes']}")
        return net
    return FenchelNetwork(spec["sizes"], **common)


# ======================================================================================
# the public functions
# ======================================================================================
def save(net: FenchelNetwork, path: PathLike) -> str:
    """Write ``net`` to ``path`` (the format of the module docstring; conventionally ``.npz``); returns the path."""
    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork or ConvFenchelNetwork, got {type(net).__name__}")
    return write_model(net, path)


def load(path: PathLike) -> FenchelNetwork:
    """Read a network written by :func:`save` (or the network of a training checkpoint) from ``path``.

    Returns a :class:`FenchelNetwork` or :class:`~fenchel_cvx.conv.ConvFenchelNetwork` with the saved
    architecture, activations, loss, λ, ρ, bias, dtype and weights. Raises ``FileNotFoundError`` for a missing
    file and :class:`~fenchel_cvx.errors.FileFormatError` for a corrupt one or a newer format version.
    """
    arrays, meta = read_npz(path, "model file")
    path = os.fspath(path)
    if meta.get("format") == FORMAT:
        version = meta.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise FileFormatError(f"corrupt model file {path!r}: format_version {version!r}")
        if version > FORMAT_VERSION:
            raise FileFormatError(f"model file {path!r} has format version {version} (written by fenchel-cvx "
                                  f"{meta.get('library_version', '?')}); this version reads format versions up to "
                                  f"{FORMAT_VERSION}: upgrade fenchel-cvx")
        spec, what = meta.get("network"), "model file"
    elif "net" in meta and "epoch" in meta:  # a training checkpoint
        spec, what = meta["net"], "checkpoint"
    else:
        raise FileFormatError(f"corrupt model file {path!r}: not a fenchel-cvx model or checkpoint "
                              f"(format {meta.get('format')!r})")
    check_spec(spec, arrays, what, path)
    try:
        net = network_from_spec(spec, arrays)
    except (KeyError, TypeError, ValueError) as e:
        raise FileFormatError(f"corrupt {what} {path!r}: bad network description ({type(e).__name__}: {e})") from None
    W, b = weights_from(arrays, net.n_layers, what, path)
    try:
        return net.set_params([np.asarray(w, dtype=net.dtype) for w in W], [np.asarray(v, dtype=net.dtype) for v in b])
    except ValueError as e:
        raise FileFormatError(f"corrupt {what} {path!r}: weights do not fit the architecture ({e})") from None

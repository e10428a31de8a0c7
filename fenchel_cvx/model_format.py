r"""The model file format's pieces that need no network class: the network's specification, the ``.npz``
archives with a JSON ``meta`` entry (one reader and one writer for models and checkpoints) and the writer of a
model (the format is documented in :mod:`fenchel_cvx.model_io`).

Kept apart from the loader (:func:`fenchel_cvx.model_io.load`, which builds networks) so that
:meth:`FenchelNetwork.save` writes without an import cycle: this module reads a network through its
attributes and imports neither :mod:`fenchel_cvx.network` nor :mod:`fenchel_cvx.conv`.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations as _act
from . import losses as _loss
from ._version import __version__
from .arrays import PathLike
from .backend import to_numpy
from .errors import FileFormatError
from .layers import AvgPool2d, Conv2d, Dense, Flatten
from .validation import check_output_file, check_path

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .network import FenchelNetwork

__all__ = ["FORMAT", "FORMAT_VERSION", "network_spec", "layer_to_dict", "layer_from_dict", "write_npz", "read_npz",
           "weights_from", "write_model"]

FORMAT = "fenchel-cvx-model"
FORMAT_VERSION = 1


# ======================================================================================
# the network's specification (JSON-ready), shared with the checkpoints
# ======================================================================================
def layer_to_dict(spec: Conv2d | Dense | AvgPool2d | Flatten) -> dict:
    """A layer spec (Conv2d, Dense, AvgPool2d, Flatten) as JSON (the ``layers`` entries)."""
    if isinstance(spec, Conv2d):
        return {"type": "Conv2d", "out_channels": spec.out_channels, "kernel": list(spec.kernel),
                "stride": list(spec.stride), "padding": list(spec.padding)}
    if isinstance(spec, Dense):
        return {"type": "Dense", "features": spec.features}
    if isinstance(spec, AvgPool2d):
        return {"type": "AvgPool2d", "size": spec.size}
    if isinstance(spec, Flatten):
        return {"type": "Flatten"}
    raise TypeError(f"layers: cannot save a {type(spec).__name__} layer spec")


def layer_from_dict(d: dict) -> Conv2d | Dense | AvgPool2d | Flatten:
    """Inverse of :func:`layer_to_dict`."""
    kind = d["type"]
    if kind == "Conv2d":
        return Conv2d(int(d["out_channels"]), tuple(d["kernel"]), stride=tuple(d["stride"]),
                      padding=tuple(d["padding"]))
    if kind == "Dense":
        return Dense(int(d["features"]))
    if kind == "AvgPool2d":
        return AvgPool2d(int(d["size"]))
    if kind == "Flatten":
        return Flatten()
    raise ValueError(f"unknown layer type {kind!r}")


def network_spec(net: FenchelNetwork) -> dict:
    """The JSON-ready description of ``net`` without its weights (module docstring, key ``network``).

    Raises ``TypeError`` for an activation or loss that is not in the registries (it could not be read back).
    """
    if not all(hasattr(net, a) for a in ("activations", "loss", "sizes", "lam", "rho", "bias", "dtype")):
        raise TypeError(f"net: expected a FenchelNetwork or ConvFenchelNetwork, got {type(net).__name__}")
    for a in net.activations:
        if a.name not in _act.names() or _act.get(a.name, **a.params) != a:
            raise TypeError(f"activation: {a!r} is not in the activation registry (register it with "
                            f"fenchel_cvx.activations.register before saving and loading)")
    if net.loss.name not in _loss.names():
        raise TypeError(f"loss: {net.loss!r} is not an output loss of the registry ({', '.join(_loss.names())})")
    spec = {"kind": "dense", "sizes": list(net.sizes), "activation": [a.name for a in net.activations],
            "activation_params": [dict(a.params) for a in net.activations], "loss": net.loss.name,
            "lam": [float(v) for v in net.lam], "rho": [float(v) for v in net.rho], "bias": bool(net.bias),
            "dtype": str(net.dtype)}
    if getattr(net, "maps", None) is not None:
        layers = []
        for s in net.specs:
            d = layer_to_dict(s)
            layers.append(d)
        spec.update(kind="conv", input_shape=list(net.input_shape), layers=layers)
    return spec


# ======================================================================================
# npz archives with a JSON "meta" entry: one reader and one writer for models and checkpoints
# ======================================================================================
def write_npz(path: str, arrays: dict, meta: dict) -> str:
    """Write ``arrays`` and ``meta`` (JSON) to the .npz ``path`` atomically (temporary file, then rename)."""
    payload = {k: np.asarray(to_numpy(v)) for k, v in arrays.items()}
    payload["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **payload)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_npz(path: PathLike, what: str, name: str = "path") -> tuple[dict, dict]:
    """Read every array and the JSON ``meta`` of a .npz written by :func:`write_npz`: ``(arrays, meta)``.

    ``what`` names the kind of file in messages ("model file", "checkpoint"). A missing file raises
    ``FileNotFoundError``, anything unreadable :class:`~fenchel_cvx.errors.FileFormatError`
    ("corrupt <what> <path>: <reason>").
    """
    path = check_path(path, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no such {what} {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name}: {path!r} is a directory, expected a {what}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            arrays = {k: z[k].copy() for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, AttributeError) as e:
        reason = str(e) or type(e).__name__
        if "pickled" in reason:
            reason = "not an .npz archive (pickled or unknown data)"
        raise FileFormatError(f"corrupt {what} {path!r}: {reason}") from None
    except Exception as e:  # noqa: BLE001 - zlib/struct errors of a damaged archive
        raise FileFormatError(f"corrupt {what} {path!r}: {type(e).__name__}: {e}") from None
    if "meta" not in arrays:
        raise FileFormatError(f"corrupt {what} {path!r}: no 'meta' entry (not written by fenchel_cvx?)")
    try:
        meta = json.loads(bytes(arrays.pop("meta").astype(np.uint8)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise FileFormatError(f"corrupt {what} {path!r}: unreadable metadata ({e})") from None
    if not isinstance(meta, dict):
        raise FileFormatError(f"corrupt {what} {path!r}: metadata is not a JSON object")
    return arrays, meta


def weights_from(arrays: dict, n_layers: int, what: str, path: str) -> tuple[list, list]:
    """``W0..``, ``b0..`` of an archive (FileFormatError naming the first missing one)."""
    missing = [k for l in range(n_layers) for k in (f"W{l}", f"b{l}") if k not in arrays]
    if missing:
        raise FileFormatError(f"corrupt {what} {path!r}: missing arrays {missing}")
    return [arrays[f"W{l}"] for l in range(n_layers)], [arrays[f"b{l}"] for l in range(n_layers)]



def write_model(net: FenchelNetwork, path: PathLike) -> str:
    """Write ``net`` to ``path`` in the model format (:mod:`fenchel_cvx.model_io`); returns the path
    (:func:`fenchel_cvx.model_io.save` and :meth:`FenchelNetwork.save`)."""
    spec = network_spec(net)
    path = check_output_file(path, "path")
    arrays: dict[str, Any] = {}
    for l in range(net.n_layers):
        arrays[f"W{l}"] = np.asarray(to_numpy(net.W[l]), dtype=net.dtype)
        arrays[f"b{l}"] = np.asarray(to_numpy(net.b[l]), dtype=net.dtype)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "library_version": __version__, "network": spec}
    return write_npz(path, arrays, meta)

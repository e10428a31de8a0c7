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
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations as _act
from . import losses as _loss
from ._version import __version__
from .archives import read_archive
from .arrays import PathLike
from .backend import to_numpy
from .errors import FileFormatError
from .layers import AvgPool2d, Conv2d, Dense, Flatten
from .validation import check_output_file

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .network import FenchelNetwork

__all__ = ["FORMAT", "FORMAT_VERSION", "network_spec", "layer_to_dict", "layer_from_dict", "write_npz", "read_npz",
           "weights_from", "check_spec", "write_model"]

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
    """Write ``arrays`` and ``meta`` (JSON) to the .npz ``path`` atomically (temporary file, then rename).

    The temporary file is ``.<name>.<pid>.tmp<random>.npz`` beside ``path``; one left behind by a writer
    that was killed (SIGKILL cannot be caught) is removed by the next write of the same ``path`` once its
    process ``<pid>`` no longer runs.
    """
    payload = {k: np.asarray(to_numpy(v)) for k, v in arrays.items()}
    payload["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem = f".{os.path.basename(path)}."
    _remove_stray_temporaries(folder, stem)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{stem}{os.getpid()}.tmp", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **payload)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _remove_stray_temporaries(folder: str, stem: str) -> None:
    """Remove ``<stem><pid>.tmp*.npz`` files in ``folder`` whose writer process ``pid`` is gone."""
    for entry in os.listdir(folder):
        if not (entry.startswith(stem) and entry.endswith(".npz")):
            continue
        pid_text, sep, _ = entry[len(stem):].partition(".tmp")
        if not (sep and pid_text.isdigit()):
            continue
        pid = int(pid_text)
        if pid == os.getpid():  # a concurrent write of this process
            continue
        try:
            os.kill(pid, 0)
            continue  # its writer still runs
        except ProcessLookupError:
            pass
        except OSError:  # another user's process: leave its file alone
            continue
        try:
            os.remove(os.path.join(folder, entry))
        except OSError:
            pass


def read_npz(path: PathLike, what: str, name: str = "path") -> tuple[dict, dict]:
    """Read every array and the JSON ``meta`` of a .npz written by :func:`write_npz`: ``(arrays, meta)``.

    ``what`` names the kind of file in messages ("model file", "checkpoint"). A missing file raises
    ``FileNotFoundError``, a folder, FIFO or empty file a ``ValueError``/``IsADirectoryError``
    (:func:`fenchel_cvx.archives.check_input_file`), anything unreadable
    :class:`~fenchel_cvx.errors.FileFormatError` ("corrupt <what> <path>: <reason>").
    """
    arrays = read_archive(path, name, what)
    path = os.fspath(path)
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
    """``W0..``, ``b0..`` of an archive (FileFormatError naming the first missing one, or a weight array that is
    not numeric or holds NaN or inf)."""
    missing = [k for l in range(n_layers) for k in (f"W{l}", f"b{l}") if k not in arrays]
    if missing:
        raise FileFormatError(f"corrupt {what} {path!r}: missing arrays {missing}")
    for l in range(n_layers):
        for key in (f"W{l}", f"b{l}"):
            a = arrays[key]
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
                raise FileFormatError(f"corrupt {what} {path!r}: {key} has dtype {a.dtype}, expected floats")
            if not np.all(np.isfinite(a)):
                raise FileFormatError(f"corrupt {what} {path!r}: {key} contains NaN or inf")
    return [arrays[f"W{l}"] for l in range(n_layers)], [arrays[f"b{l}"] for l in range(n_layers)]


def check_spec(spec: Any, arrays: dict, what: str, path: str) -> None:
    """Check a stored network description against the stored arrays *before* building anything from it.

    ``kind`` must be ``"dense"`` or ``"conv"``; ``sizes`` a list of positive integers; for a dense network
    ``W{l}`` must have shape sizes[l+1] x sizes[l] and ``b{l}`` (sizes[l+1],), so that a crafted width cannot
    make the reader allocate more than the file holds; with ``bias: false`` every ``b{l}`` must be zero.
    Raises :class:`~fenchel_cvx.errors.FileFormatError` ("corrupt <what> <path>: ...").
    """
    def bad(reason: str) -> FileFormatError:
        return FileFormatError(f"corrupt {what} {path!r}: {reason}")

    if not isinstance(spec, dict):
        raise bad("bad network description (not a JSON object)")
    kind = spec.get("kind", "dense")
    if kind not in ("dense", "conv"):
        raise bad(f"bad network description: unknown network kind {kind!r} (expected 'dense' or 'conv')")
    sizes = spec.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes)):
        raise bad(f"bad network description: sizes must be a list of at least two positive integers, "
                  f"got {sizes!r}")
    n_layers = len(sizes) - 1
    W, b = weights_from(arrays, n_layers, what, path)
    if kind == "dense":
        for l in range(n_layers):
            want_W, want_b = (sizes[l + 1], sizes[l]), (sizes[l + 1],)
            if W[l].shape != want_W or b[l].shape != want_b:
                raise bad(f"weights do not fit the architecture: W{l}/b{l} have shapes "
                          f"{W[l].shape}/{b[l].shape}, the sizes {sizes} say {want_W}/{want_b}")
    if spec.get("bias") is False and any(np.any(v != 0) for v in b):
        raise bad("'bias' is false but the stored biases are not zero")


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

r"""Checkpoints of training runs: one ``.npz`` with the weights, optimiser arrays and JSON metadata, one format
for every executor (lifted BCD local or on Dask, backprop; :class:`~fenchel_cvx.training.loop.Trainer` writes
them every ``checkpoint_every`` epochs, when a run stops and at its end).

Written atomically (a temporary file in the same folder, then ``os.replace``) by the archive writer of
:mod:`fenchel_cvx.model_format`. Layout: ``W{l}``, ``b{l}`` (the weights, in the working dtype),
``state_<path>`` (the rest of the executor's state, one array per field of its state dataclass, named by its
path: ``state_lam0``, ``state_mom.0.1``, ``state_adaptive.1.mW``, ``state_opt.0.exp_avg``, ...; and the best
epoch's weights ``state_bestW{l}``, ``state_bestb{l}``; :func:`~fenchel_cvx.training.executor.flatten_state`)
and ``meta`` (UTF-8 JSON: kind (``"lifted"``, ``"adam"``, ``"sgd"``), epoch, config, history, timings,
early-stopping state, the structure of the state under ``state``, the network's specification
:func:`fenchel_cvx.model_format.network_spec` under ``net``, and the fingerprint of the data under ``data``).
``fenchel_cvx.load(checkpoint)`` reads the network out of a checkpoint.

Resuming (:func:`check_resume`) is refused with :class:`~fenchel_cvx.errors.ResumeMismatch` naming the fields
when the checkpoint belongs to another run:

* another architecture, activation, loss, bias or weight decay ρ (always refused: the weights would not mean
  the same thing);
* fewer ``epochs`` than the checkpoint has already run (always refused: nothing would be trained, silently);
* another configuration (any field but ``epochs``, which may grow) or other data (the BLAKE2b digests of the
  training, validation and test arrays differ) -- unless ``force_resume=True``, which logs the differences and
  continues with the new configuration and data.

An unreadable file raises :class:`~fenchel_cvx.errors.FileFormatError` ("corrupt checkpoint <path>:
..."); a checkpoint of the earlier format (written before the one training loop: no ``state`` in its
metadata) is refused on resume with "old checkpoint <path>: ..." (``fenchel_cvx.load`` still reads its network).
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import numpy as np

from ..errors import FileFormatError, ResumeMismatch
from ..log import get_logger
from ..model_format import check_spec, network_spec, read_npz, weights_from, write_npz
from ..network import FenchelNetwork

__all__ = ["save_checkpoint", "load_checkpoint", "check_resume_net", "check_resume", "data_fingerprint",
           "json_safe", "REQUIRED_META"]

log = get_logger("training")

#: metadata every checkpoint carries
REQUIRED_META = ("kind", "epoch", "net", "history", "train_time", "best")
#: the network facts a resumed run must share with its checkpoint
ARCH_KEYS = ("kind", "sizes", "activation", "activation_params", "loss", "bias", "input_shape", "layers")


def json_safe(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays as Python numbers/lists and non-finite floats as None/"inf"/"-inf"."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else (None if math.isnan(f) else ("inf" if f > 0 else "-inf"))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def data_fingerprint(data: dict) -> dict:
    """Fingerprints of the prepared data (:func:`~fenchel_cvx.training.batches.prepare_data`): per split
    ``train``/``val``/``test``, the shapes and a BLAKE2b digest of the inputs and targets in float64."""
    out = {}
    for split, (xk, yk) in {"train": ("X", "Y"), "val": ("X_val", "Y_val"), "test": ("X_test", "Y_test")}.items():
        X, Y = data.get(xk), data.get(yk)
        if X is None:
            out[split] = None
            continue
        h = hashlib.blake2b(digest_size=16)
        for a in (X, Y):
            a64 = np.ascontiguousarray(np.asarray(a), dtype=np.float64)
            h.update(str(a64.shape).encode())
            h.update(a64.tobytes())
        out[split] = {"shape": list(np.shape(X)), "digest": h.hexdigest()}
    return out


def save_checkpoint(path: str, net: FenchelNetwork, arrays: dict, meta: dict) -> None:
    """Write weights, optimiser arrays and JSON metadata to ``path`` (.npz, written atomically)."""
    payload = {f"W{l}": w for l, w in enumerate(net.W)}
    payload.update({f"b{l}": v for l, v in enumerate(net.b)})
    for k, v in arrays.items():
        payload[f"state_{k}"] = v
    meta = dict(meta, net=network_spec(net))
    write_npz(path, payload, json_safe(meta))


def load_checkpoint(path: str, name: str = "checkpoint") -> tuple[list, list, dict, dict]:
    """Read a checkpoint: returns ``(W, b, arrays, meta)`` (numpy arrays, dict of state arrays, dict).

    ``FileNotFoundError`` when missing, :class:`~fenchel_cvx.errors.FileFormatError` ("corrupt checkpoint
    <path>: ...") when truncated, not an archive, missing metadata or arrays, or when the weights are not
    finite or do not fit the stored description (:func:`fenchel_cvx.model_io.check_spec`).
    """
    raw, meta = read_npz(path, "checkpoint", name=name)
    path = os.fspath(path)
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise FileFormatError(f"corrupt checkpoint {path!r}: missing metadata {missing}")
    try:
        n = len(meta["net"]["sizes"]) - 1
        int(meta["epoch"])
    except (KeyError, TypeError, ValueError) as e:
        raise FileFormatError(f"corrupt checkpoint {path!r}: bad metadata ({type(e).__name__}: {e})") from None
    check_spec(meta["net"], raw, "checkpoint", path)  # kinds, shapes, finite weights, bias flag
    W, b = weights_from(raw, n, "checkpoint", path)
    arrays = {k[6:]: v for k, v in raw.items() if k.startswith("state_")}
    return W, b, arrays, meta


def check_resume_net(net: FenchelNetwork, meta: dict, path: str) -> None:
    """Refuse a checkpoint written for another network: architecture, activations (with their parameters), loss,
    bias or weight decay ρ (:class:`~fenchel_cvx.errors.ResumeMismatch` naming the fields)."""
    saved, now = meta["net"], network_spec(net)
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, network {now.get(k)!r}" for k in ARCH_KEYS
             if k in saved and saved.get(k) != now.get(k)]
    if "rho" in saved and not np.array_equal(np.asarray(saved["rho"], dtype=float), np.asarray(net.rho, dtype=float)):
        diffs.append(f"rho: checkpoint {saved['rho']}, network {np.asarray(net.rho).tolist()}")
    if diffs:
        raise ResumeMismatch(f"resume: checkpoint {path!r} was written for another network ({'; '.join(diffs)}); "
                             f"build the same network to resume it")


def check_resume(path: str, meta: dict, net: FenchelNetwork, config: dict, fingerprint: dict | None, epochs: int,
                 force: bool = False) -> dict:
    """Refuse a resume that would silently mix two runs (module docstring). Returns what changed:
    ``{"config": {field: [old, new]}, "data": [splits]}`` (empty entries when nothing did)."""
    check_resume_net(net, meta, path)
    done = int(meta["epoch"])
    if epochs < done:
        raise ResumeMismatch(f"epochs: the checkpoint {path!r} has already run {done} epochs, got epochs={epochs} "
                             f"(pass epochs >= {done} to continue the run)")
    old = meta.get("config") or {}
    changed = {k: [old.get(k), v] for k, v in config.items() if k != "epochs" and k in old and old[k] != v}
    changed.update({k: [old[k], None] for k in old if k not in config and k != "epochs"})
    data_changed = []
    saved_fp = meta.get("data")
    if saved_fp is None or fingerprint is None:
        log.warning("resume: checkpoint %r carries no data fingerprint; cannot check that the data are the same",
                    path)
    else:
        data_changed = [s for s in ("train", "val", "test") if saved_fp.get(s) != fingerprint.get(s)]
    if (changed or data_changed) and not force:
        parts = [f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in changed.items()]
        parts += [f"{s} data: checkpoint {_fp(saved_fp.get(s))}, now {_fp(fingerprint.get(s))}" for s in data_changed]
        raise ResumeMismatch(f"resume: checkpoint {path!r} belongs to another run ({'; '.join(parts)}); pass "
                             f"force_resume=True (CLI: --force-resume) to continue it with the new settings")
    if changed or data_changed:
        log.warning("resume: continuing %r with changed settings: %s", path,
                    "; ".join([f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items()] +
                              [f"{s} data differ" for s in data_changed]))
    return {"config": changed, "data": data_changed}


def _fp(entry) -> str:
    if entry is None:
        return "none"
    return f"{'x'.join(map(str, entry['shape']))} #{entry['digest'][:8]}"

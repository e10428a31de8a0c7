r"""Checkpoints of training runs: one ``.npz`` with the weights, optimiser arrays and JSON metadata.

Written atomically (a temporary file in the same folder, then ``os.replace``). Layout: ``W{l}``, ``b{l}``
(the weights, in the working dtype), ``state_<name>`` (optimiser arrays: λ, γ, inertia buffers, the
full-batch lifted state, the best epoch's weights) and ``meta`` (UTF-8 JSON: kind, epoch, config,
history, timings, early-stopping state and the network's specification).
"""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np

from ..backend import to_numpy

__all__ = ["save_checkpoint", "load_checkpoint", "check_resume_net", "json_safe"]


def json_safe(obj):
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


def save_checkpoint(path: str, net, arrays: dict, meta: dict):
    """Write weights, optimiser arrays and JSON metadata to ``path`` (.npz, written atomically)."""
    payload = {f"W{l}": np.asarray(to_numpy(w)) for l, w in enumerate(net.W)}
    payload.update({f"b{l}": np.asarray(to_numpy(v)) for l, v in enumerate(net.b)})
    for k, v in arrays.items():
        payload[f"state_{k}"] = np.asarray(to_numpy(v))
    meta = dict(meta, net={"sizes": net.sizes, "activation": [a.name for a in net.activations],
                           "activation_params": [a.params for a in net.activations],
                           "loss": net.loss.name, "lam": net.lam.tolist(), "rho": net.rho.tolist(), "bias": net.bias})
    payload["meta"] = np.frombuffer(json.dumps(json_safe(meta)).encode(), dtype=np.uint8)
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


def load_checkpoint(path: str):
    """Read a checkpoint: returns ``(W, b, arrays, meta)`` (numpy arrays, dict of arrays, dict)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: no such file {path!r}")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        n = len(meta["net"]["sizes"]) - 1
        W = [z[f"W{l}"].copy() for l in range(n)]
        b = [z[f"b{l}"].copy() for l in range(n)]
        arrays = {k[6:]: z[k].copy() for k in z.files if k.startswith("state_")}
    return W, b, arrays, meta


def check_resume_net(net, meta: dict, path: str):
    """Refuse a checkpoint written for another architecture, activation or loss (ValueError naming both)."""
    spec = meta["net"]
    if list(spec["sizes"]) != list(net.sizes) or spec["loss"] != net.loss.name or \
            spec["activation"] != [a.name for a in net.activations]:
        raise ValueError(f"resume: checkpoint {path!r} is for sizes={spec['sizes']}, activation={spec['activation']}, "
                         f"loss={spec['loss']}, not for {net!r}")

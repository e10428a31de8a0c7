"""Argument validation at the public boundary: one home for the array and scalar checks.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, bad value)
with a message that starts with the argument's name, so that a user sees *which* argument is
wrong and what was expected. Arrays follow the project convention (features x samples).
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import Array, ArrayLike
from .backend import is_torch, namespace

__all__ = ["check_array", "check_int", "check_number", "check_choice", "per_layer", "check_seed", "check_bool",
           "check_float_dtype", "check_path", "check_output_file", "check_output_dir"]


def check_array(x: ArrayLike, name: str, shape: tuple | None = None, finite: bool = True) -> Array:
    """Validate an array argument: numpy/torch, numeric, given shape (None entries = any), finite.

    Returns numpy input as a float array (integer and boolean input is converted to float64; a
    torch integer tensor to torch's default float dtype). Raises ``TypeError``/``ValueError`` naming ``name``.
    """
    if is_torch(x):
        import torch

        if x.is_complex():
            raise TypeError(f"{name}: expected a real array, got a complex tensor")
        if not torch.is_floating_point(x):
            x = x.to(torch.get_default_dtype())
    else:
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
        if np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"{name}: expected a real array, got dtype {x.dtype}")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
            raise TypeError(f"{name}: expected a numeric array, got dtype {x.dtype}")
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
    if shape is not None:
        got = tuple(x.shape)
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            want = " x ".join("m" if s is None else str(s) for s in shape)
            raise ValueError(f"{name}: expected shape {want}, got {' x '.join(map(str, got)) or 'a scalar'}")
    if finite:
        xp = namespace(x)
        if not xp.all(xp.isfinite(x)):
            raise ValueError(f"{name}: contains NaN or inf")
    return x


def check_int(value: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (Python or numpy, not bool) in [lo, hi]; returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer{_range(lo, hi)}, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name}: expected an integer{_range(lo, hi)}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, lo: float | None = None, hi: float | None = None, *,
                 strict: bool = False, hint: str = "") -> float:
    """A finite real number (Python or numpy, not bool, not a string) with lo ≤ value ≤ hi.

    ``strict=True`` excludes the bounds (lo < value < hi). Returns it as ``float``; ``hint`` is
    appended to the error message (why the bound holds).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    low = lo is not None and (v < lo or (strict and v == lo))
    high = hi is not None and (v > hi or (strict and v == hi))
    if low or high:
        op_lo, op_hi = (">", "<") if strict else (">=", "<=")
        want = " and ".join(s for s in (f"{op_lo} {lo:g}" if lo is not None else "",
                                         f"{op_hi} {hi:g}" if hi is not None else "") if s)
        raise ValueError(f"{name}: expected a number {want}{hint}, got {v:g}")
    return v


def check_choice(value: Any, name: str, choices: Sequence) -> Any:
    """``value`` must be one of ``choices`` (compared with ==); returns it."""
    try:
        ok = value in tuple(choices)
    except TypeError:  # unhashable / incomparable
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


def per_layer(value: Any, n: int, name: str, positive: bool = False) -> np.ndarray:
    """A scalar or ``n`` values (one per layer), finite and ≥ 0 (> 0 with ``positive``) → float array (n,)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: expected a number or {n} numbers (one per layer), got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number or {n} numbers (one per layer), got {value!r}") from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected a scalar or {n} values (one per layer), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite, got {arr.tolist()}")
    if np.any(arr < 0) or (positive and np.any(arr <= 0)):
        raise ValueError(f"{name}: must be {'> 0' if positive else '>= 0'}, got {arr.tolist()}")
    return arr


def _range(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def check_seed(seed: Any, name: str = "seed", allow_none: bool = True) -> int | None:
    """A seed: a non-negative integer (Python or numpy, not bool), or None when ``allow_none``."""
    if seed is None and allow_none:
        return None
    want = "a non-negative integer" + (" or None" if allow_none else "")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name}: expected {want}, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"{name}: expected {want}, got {seed!r}")
    return int(seed)


def check_bool(value: Any, name: str) -> bool:
    """A boolean (Python or numpy bool; not a string, not a number other than 0/1 ints)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")


def check_float_dtype(dtype: Any, name: str = "dtype", allowed: Sequence[str] = ("float32", "float64")) -> np.dtype:
    """A numpy float dtype among ``allowed`` (given as a dtype, a type or a name); returns the ``np.dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: expected one of {tuple(allowed)}, got {dtype!r}") from None
    if dt.name not in tuple(allowed):
        kind = "an integer" if dt.kind in "iub" else "a"
        raise TypeError(f"{name}: expected a float dtype, one of {tuple(allowed)}, got {kind} dtype {dt.name!r}")
    return dt


def check_path(path: Any, name: str) -> str:
    """A file-system path given as ``str`` or ``os.PathLike`` (non-empty); returns it as ``str``."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path (str or os.PathLike), got {type(path).__name__} {path!r}")
    text = os.fspath(path)
    if not text.strip():
        raise ValueError(f"{name}: expected a path, got an empty string")
    return text


def _probe_folder(folder: str, name: str, shown: str) -> None:
    """The nearest existing ancestor of ``folder`` must be a writable directory (an actual test write)."""
    probe = os.path.abspath(folder)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise NotADirectoryError(f"{name}: cannot write {shown!r}: {probe!r} is not a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".fenchel-cvx-write-test-")
    except OSError as e:
        raise PermissionError(f"{name}: cannot write {shown!r}: {probe!r} is not writable ({e.strerror})") from None
    os.close(fd)
    os.remove(tmp)


def check_output_file(path: Any, name: str, overwrite: bool = True) -> str:
    """A file path that can be written (checked *before* any work): not a directory, its folder writable.

    The folder need not exist yet (it is created when the file is written); an existing file is
    accepted when ``overwrite`` (then it must be writable) and refused otherwise; an existing FIFO or
    socket is refused (opening it for writing would block). Raises
    ``TypeError``/``ValueError``/``OSError`` subclasses naming ``name`` and the path.
    """
    text = check_path(path, name)
    if os.path.isdir(text):
        raise IsADirectoryError(f"{name}: {text!r} is a directory, expected a file path")
    if os.path.exists(text):
        if stat.S_ISFIFO(os.stat(text).st_mode) or stat.S_ISSOCK(os.stat(text).st_mode):
            raise ValueError(f"{name}: {text!r} is a FIFO or socket (writing it would block until a reader "
                             f"appears); expected a file path")
        if not overwrite:
            raise FileExistsError(f"{name}: {text!r} exists (refusing to overwrite it)")
        if not os.access(text, os.W_OK):
            raise PermissionError(f"{name}: {text!r} exists and is not writable")
    _probe_folder(os.path.dirname(os.path.abspath(text)), name, text)
    return text


def check_output_dir(path: Any, name: str) -> str:
    """A directory that exists or can be created, and is writable (checked before any work; not created)."""
    text = check_path(path, name)
    if os.path.exists(text) and not os.path.isdir(text):
        raise NotADirectoryError(f"{name}: {text!r} exists and is not a directory")
    _probe_folder(text, name, text)
    return text

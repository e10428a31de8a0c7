"""Reading ``.npz`` archives that a user hands in: regular files only, never a pickle, one-line errors.

One reader for every file the package reads arrays from (data sets, ``certify --data``, models,
checkpoints), so that all of them refuse the same things the same way:

* :func:`check_input_file` -- the path names an existing *regular* file (not a folder, a FIFO, a
  device or a socket, which would block or stream forever) that is not empty (0 bytes);
* :func:`read_archive` -- every array of an ``.npz`` archive, read with ``allow_pickle=False``
  (a pickled file is refused, never loaded), as ``{name: numpy array}``; the arrays keep the
  layout of the file (the callers turn them into features x samples).

Errors name the argument and the file: ``FileNotFoundError`` (missing), ``IsADirectoryError``,
``ValueError`` (not a regular file) and :class:`~fenchel_cvx.errors.FileFormatError`
("corrupt <what> <path>: <reason>") for an empty file and anything unreadable; numpy's own messages are not passed on.
"""

from __future__ import annotations

import os
import stat
import zipfile
from typing import Any

import numpy as np

from .errors import FileFormatError
from .validation import check_path

__all__ = ["check_input_file", "read_archive"]


def check_input_file(path: Any, name: str, what: str = "file") -> str:
    """``path`` (str or os.PathLike) must name an existing, non-empty regular file; returns it as ``str``.

    An empty file raises :class:`~fenchel_cvx.errors.FileFormatError` (a ``ValueError``).

    Checked with ``os.stat`` (no file is opened), so a FIFO or a device is refused instead of blocking
    the reader. ``name`` is the argument named in the message, ``what`` the kind of file ("data file").
    """
    text = check_path(path, name)
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: no such {what} {text!r}") from None
    except OSError as e:
        raise OSError(f"{name}: cannot read {what} {text!r} ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{name}: {text!r} is a directory, expected a {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise ValueError(f"{name}: {text!r} is {kind}; expected a {what} (a regular .npz file)")
    if st.st_size == 0:
        raise FileFormatError(f"corrupt {what} {text!r}: the file is empty (0 bytes) ({name})")
    return text


def read_archive(path: Any, name: str, what: str = "data file") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path`` as ``{key: array}`` (``allow_pickle=False``).

    Raises what :func:`check_input_file` raises, and :class:`~fenchel_cvx.errors.FileFormatError`
    ("corrupt <what> <path>: <reason>") for a file that is not an ``.npz`` archive (a single ``.npy``
    array, a pickle, text), is truncated, or holds object arrays.
    """
    text = check_input_file(path, name, what)
    try:
        with np.load(text, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            return {k: z[k].copy() for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, AttributeError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        if "pickle" in reason.lower():  # numpy's message suggests loading it unsafely: never
            reason = "not an .npz archive of plain arrays (pickled objects are never loaded)"
        raise FileFormatError(f"corrupt {what} {text!r}: {reason}") from None
    except Exception as e:  # noqa: BLE001 - zlib/struct errors of a damaged archive
        raise FileFormatError(f"corrupt {what} {text!r}: {type(e).__name__}: {e}") from None

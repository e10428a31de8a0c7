"""Helpers shared by the subcommands: errors that name the command-line option, not the library argument.

The library's errors start with the name of the Python argument (``name: unknown dataset ...``,
``device: ...``); a command translates them with :func:`named_options` so that the user reads the option
they typed (``--dataset: unknown dataset ...``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

__all__ = ["named_options", "ensure_parent"]


@contextlib.contextmanager
def named_options(names: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a ``ValueError``/``TypeError``/``OSError`` whose message starts with ``"<arg>:"`` for an
    ``arg`` in ``names`` as the same kind of error starting with ``"<names[arg]>:"`` (e.g. ``"--rho:"``).

    A message that already names an option (``"--device: device: ..."``) loses the repeated library name.
    """
    try:
        yield
    except (ValueError, TypeError, OSError) as e:
        text = str(e)
        head, sep, rest = text.partition(":")
        if sep and head.startswith("--"):  # "--device: device: ..." -> "--device: ..."
            inner, sep2, tail = rest.strip().partition(":")
            if sep2 and inner in names:
                raise _same_kind(e, f"{head}:{tail}") from None
            raise
        if sep and head in names:
            raise _same_kind(e, f"{names[head]}:{rest}") from None
        raise


def _same_kind(e: BaseException, message: str) -> BaseException:
    try:
        return type(e)(message)
    except TypeError:  # an exception class with another constructor
        return ValueError(message)


def ensure_parent(path: str) -> str:
    """Create the folder of the output file ``path`` (checked writable before the work) and return ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return path

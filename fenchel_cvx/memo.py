"""Results kept while their torch input lives unmodified: the one mechanism behind the hot path's reuse (pooling,
im2col matrices, their layouts, Z + B).

A memo is the tuple (weak reference to the input x, x's version counter, the result r, r's version counter), made
by :func:`keep` after r was computed from x, and read by :func:`kept`: r is returned only for the very same x
(identity, not equality) while neither x nor r has been written into since (torch bumps an array's version counter
on every in-place operation). numpy arrays have no version counter and inference tensors track none, so
:func:`keep` makes no memo for them (None) and the caller computes afresh.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from .backend import is_torch

__all__ = ["keep", "kept"]


def keep(x: Any, result: Any, forget: Callable | None = None) -> tuple | None:
    """The memo of ``result`` computed from ``x`` (module docstring), or None when ``x`` is not a torch array that
    tracks its version; ``forget``: called with the weak reference when x is freed (:class:`weakref.ref`)."""
    if not is_torch(x) or x.is_inference():
        return None
    ref = weakref.ref(x, forget) if forget is not None else weakref.ref(x)
    return ref, x._version, result, result._version


def kept(memo: tuple | None, x: Any) -> Any:
    """The result in ``memo`` if it was kept for this very ``x`` and neither x nor the result was modified since, else
    None."""
    if memo is None or memo[0]() is not x:
        return None
    return memo[2] if (memo[1], memo[3]) == (x._version, memo[2]._version) else None

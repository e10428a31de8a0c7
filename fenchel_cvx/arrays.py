"""Type aliases of the public API (annotations only; importing this module imports neither torch nor CVXPY).

* :data:`Array` -- a numpy array or a torch tensor (the fast paths accept both; features x samples);
* :data:`ArrayLike` -- anything :func:`numpy.asarray` accepts, or a torch tensor;
* :data:`PathLike` -- a file-system path (``str`` or ``os.PathLike``);
* :data:`Device` -- a torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``);
* :data:`DTypeLike` -- a float dtype given as a name (``"float64"``), a numpy type or a ``numpy.dtype``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import torch

__all__ = ["Array", "ArrayLike", "PathLike", "Device", "DTypeLike"]

Array = Union[np.ndarray, "torch.Tensor"]
ArrayLike = Any
PathLike = str | os.PathLike
Device = Union[str, "torch.device"]
DTypeLike = str | type | np.dtype

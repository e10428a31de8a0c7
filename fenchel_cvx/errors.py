"""The package's exceptions: one base class, :class:`FenchelError`, with the specific errors under it.

Each specific error also derives from the builtin exception a caller would expect, so both
``except FenchelError`` and the builtin (``ValueError``, ``RuntimeError``, ...) catch it:

* :class:`SolverError` (RuntimeError) -- a solver did not reach optimality, or failed; the message names
  the block, the solver and its status;
* :class:`LiftedModeError` (ValueError) -- a layer that has no lifted form (max pooling);
* :class:`TrainingDiverged` (FloatingPointError) -- the objectives of a training run became non-finite;
* :class:`SchedulerUnreachable` (ConnectionError, ValueError) -- no Dask scheduler answers at an address;
* :class:`FileFormatError` (ValueError) -- a model or checkpoint file that is corrupt, truncated, not ours, or
  written by a newer format version; the message starts with ``corrupt checkpoint <path>`` or ``corrupt model
  file <path>`` (or names the version; a checkpoint of an earlier format that this version
  cannot resume: ``old checkpoint <path>``);
* :class:`ResumeMismatch` (ValueError) -- a checkpoint written for another configuration, architecture or
  data set than the run that tries to resume from it (the message names the fields).

Bad arguments raise plain ``ValueError``/``TypeError`` naming the argument (see :mod:`fenchel_cvx.validation`).
"""

from __future__ import annotations

__all__ = ["FenchelError", "SolverError", "LiftedModeError", "TrainingDiverged", "SchedulerUnreachable",
           "FileFormatError", "ResumeMismatch", "diverged_message"]


class FenchelError(Exception):
    """Base class of every exception defined by fenchel_cvx."""


class SolverError(FenchelError, RuntimeError):
    """A solver did not reach optimality (the message names block, solver and status)."""


class LiftedModeError(FenchelError, ValueError):
    """A layer that cannot be part of a lifted network (e.g. max pooling is not affine)."""


class TrainingDiverged(FenchelError, FloatingPointError):
    """The objectives or scores of a training run became non-finite."""


class SchedulerUnreachable(FenchelError, ConnectionError, ValueError):
    """No Dask scheduler answers at the given address (a ``ConnectionError``; also a ``ValueError``, a bad option)."""


class FileFormatError(FenchelError, ValueError):
    """A model or checkpoint file that cannot be read: corrupt, truncated, missing keys, a newer
    format (or a checkpoint of an earlier format, which cannot be resumed)."""


class ResumeMismatch(FenchelError, ValueError):
    """A resume whose configuration, architecture or data differ from the checkpoint's (fields named)."""


def diverged_message(who: str, epoch: int, record: dict, hint: str) -> str:
    """The one wording of "training diverged" (lifted trainer, Dask runner, backprop baselines)."""
    return f"{who} diverged at epoch {epoch}: {record} ({hint})"

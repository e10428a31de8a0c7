"""The package's logging: one ``fenchel_cvx`` logger tree, and ``verbose=`` as a request to see INFO records.

Every module logs through ``logging.getLogger("fenchel_cvx.<area>")`` (:func:`get_logger`); the package adds
only a ``NullHandler`` to the ``fenchel_cvx`` logger, as libraries should, so an application's logging
configuration decides what is shown and where. Progress bars stay tqdm bars (they are not log records).

The trainers' ``verbose=1`` (one line per epoch) logs at INFO through :func:`emit`. When nobody has configured
logging (no handler other than a ``NullHandler`` between the ``fenchel_cvx`` logger and the root), such a record
is written to stderr through ``tqdm.write`` (so that lines and progress bars do not tangle) instead of being
dropped; with logging configured, the records go to the application's handlers and levels (and nothing is printed
twice). ``verbose=0`` logs the same lines at DEBUG.

Warnings (``logger.warning``) reach stderr when nothing is configured (the package's handler is a
``NullHandler`` that writes WARNING records itself, since Python's last-resort handler never fires below a
logger with a handler).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import cvxpy

__all__ = ["logger", "get_logger", "emit", "verbose_level", "configured", "warn_large_reference",
           "LARGE_REFERENCE"]

#: the root of the package's loggers
logger = logging.getLogger("fenchel_cvx")


def get_logger(area: str) -> logging.Logger:
    """The logger ``fenchel_cvx.<area>`` (``area`` like ``"training"``)."""
    return logging.getLogger(f"fenchel_cvx.{area}")


def configured(log: logging.Logger = logger) -> bool:
    """True when a handler other than a ``NullHandler`` would receive records of ``log`` (logging is set up)."""
    current: logging.Logger | None = log
    while current is not None:
        if any(not isinstance(h, logging.NullHandler) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


class _TqdmStderrHandler(logging.Handler):
    """Writes records to stderr through ``tqdm.write`` (safe beside an active progress bar)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            try:
                from tqdm.auto import tqdm

                tqdm.write(msg, file=sys.stderr)
            except ImportError:  # pragma: no cover - tqdm is a dependency
                print(msg, file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


_STDERR = _TqdmStderrHandler(level=logging.INFO)
_STDERR.setFormatter(logging.Formatter("%(message)s"))


class _LastResort(logging.NullHandler):
    """The package's own handler: silent (a ``NullHandler``, as libraries should have) except that, while
    logging is not configured (:func:`configured`), a WARNING or worse is written to stderr. (Python's
    last-resort handler never fires below a logger that has any handler, a ``NullHandler`` included.)"""

    def handle(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING and not configured(logging.getLogger(record.name)):
            _STDERR.handle(record)
        return True


logger.addHandler(_LastResort())


def emit(log: logging.Logger, level: int, msg: str, *args: object) -> None:
    """Log ``msg % args`` on ``log`` at ``level``. When logging is not configured (:func:`configured` is False)
    a record at INFO or above is written to stderr through ``tqdm.write`` instead of being dropped: this is
    how ``verbose=1`` shows its lines; with logging configured the application's handlers and levels decide."""
    if configured(log):
        log.log(level, msg, *args)
    elif level >= logging.INFO:
        _STDERR.handle(log.makeRecord(log.name, level, "(fenchel_cvx)", 0, msg, args, None))


def verbose_level(verbose: int) -> int:
    """The level of the per-epoch lines: INFO when ``verbose > 0``, DEBUG otherwise."""
    return logging.INFO if verbose > 0 else logging.DEBUG


#: variables + data entries of a CVXPY reference problem above which solving it is announced as slow
LARGE_REFERENCE = 100_000


def warn_large_reference(prob: cvxpy.Problem, block_name: str) -> bool:
    """Log a warning before a large CVXPY reference solve (``prob.size_metrics``: scalar variables + data
    entries above :data:`LARGE_REFERENCE`; the full digits training set gives ~1.4e5 and takes ~40 s).
    Returns True when it warned."""
    try:
        sm = prob.size_metrics
        n_var, n_data = int(sm.num_scalar_variables), int(sm.num_scalar_data)
    except Exception:  # noqa: BLE001 - a size estimate must never stop a solve
        return False
    if n_var + n_data <= LARGE_REFERENCE:
        return False
    get_logger("blocks").warning(
        "block %s: the CVXPY reference has %d variables and %d data entries; solving it may take minutes "
        "(references are meant for small instances; solve_fast() is the scalable, certified path)",
        block_name, n_var, n_data)
    return True

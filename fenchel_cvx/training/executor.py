r"""The step-executor interface: where the numerical work of lifted BCD runs.

The training loop (:mod:`fenchel_cvx.training.loop`) only schedules: epochs, the λ/γ continuation,
batch order, evaluation records, early stopping, checkpoints, callbacks. Everything that touches the
data and the weights is done by a :class:`StepExecutor` -- in the spirit of jaxopt's
``init_state``/``update`` pair:

* :meth:`StepExecutor.init_state` places the data and the working parameters (numpy/torch arrays on a
  device, or sample shards on Dask workers);
* :meth:`StepExecutor.update` runs one mini-batch (X-steps from X_L down to X_1, then W-steps from W_0 up
  to W_L; :mod:`fenchel_cvx.training`) given the batch's sample indices, or one full-batch sweep;
* :meth:`StepExecutor.evaluate` returns the per-epoch record (J, F, scores);
* the working weights and the optimiser arrays go in and out through :meth:`weights`,
  :meth:`set_weights`, :meth:`state_arrays` and :meth:`load_state_arrays` (checkpoints, early stopping).

Two executors implement it: :class:`fenchel_cvx.training.local.LocalExecutor` (one process, numpy or
torch) and :class:`fenchel_cvx.training.dask.DaskExecutor` (sample shards on a Dask cluster). Both build
every block through :mod:`fenchel_cvx.blocks` and evaluate through the network's one forward pass and one
lifted-objective evaluator, so their arithmetic is the same.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import numpy as np

from ..arrays import ArrayLike

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..network import FenchelNetwork
    from .config import BCDConfig

__all__ = ["StepExecutor", "Schedule"]


class Schedule:
    """The per-epoch parameters a step needs: λ (L,) and γ (L+1,) in use, the configuration in force (``cfg``:
    the run's config with the current phase applied, :meth:`BCDConfig.at_epoch`), the number of epochs completed
    (``epoch``: 0 during the first epoch; the record's epoch in :meth:`StepExecutor.evaluate`), the adaptive
    W-step sizes ``w_lr`` (L+1,), the MM curvature scales ``w_curvature`` (L+1,) and ``batches_per_epoch``."""

    __slots__ = ("lam", "gamma", "cfg", "epoch", "w_lr", "w_curvature", "batches_per_epoch")

    def __init__(self, lam: ArrayLike, gamma: ArrayLike, cfg: BCDConfig, epoch: int = 0, w_lr: ArrayLike | None = None,
                 w_curvature: ArrayLike | None = None, batches_per_epoch: int = 1) -> None:
        self.lam = np.asarray(lam, dtype=float)
        self.gamma = np.asarray(gamma, dtype=float)
        self.cfg = cfg
        self.epoch = int(epoch)
        n = self.gamma.shape[0]
        self.w_lr = np.full(n, 1e-2) if w_lr is None else np.asarray(w_lr, dtype=float)
        self.w_curvature = np.ones(n) if w_curvature is None else np.asarray(w_curvature, dtype=float)
        self.batches_per_epoch = int(batches_per_epoch)


class StepExecutor(abc.ABC):
    """Base class of the executors (module docstring). ``m`` is the number of training samples."""

    m: int

    @abc.abstractmethod
    def init_state(self, net: FenchelNetwork, data: dict, cfg: BCDConfig) -> None:
        """Place the data (dict of :func:`fenchel_cvx.training.data.prepare_data`) and the network's weights."""

    @abc.abstractmethod
    def update(self, idx: np.ndarray | None, schedule: Schedule) -> None:
        """One mini-batch on the training samples ``idx`` (global indices, in order), or, with ``idx=None``
        and ``schedule.cfg.schedule == "fullbatch"``, one sweep over all samples."""

    @abc.abstractmethod
    def evaluate(self, schedule: Schedule, eval_idx: np.ndarray | None) -> dict:
        """The record of the current weights: J, F (at λ), train/test/val scores (``*_acc`` or ``*_mse``)."""

    @abc.abstractmethod
    def weights(self) -> tuple[list, list]:
        """The working (W, b) (backend arrays, not copies)."""

    @abc.abstractmethod
    def set_weights(self, W: list, b: list) -> None:
        """Replace the working weights (numpy or backend arrays; converted)."""

    @abc.abstractmethod
    def state_arrays(self) -> dict:
        """The optimiser arrays to checkpoint (inertia buffers ``momW{l}``/``momb{l}``, full-batch ``X{l}``)."""

    @abc.abstractmethod
    def load_state_arrays(self, arrays: dict) -> None:
        """Restore :meth:`state_arrays` from a checkpoint (numpy arrays)."""

    def copy_weights(self) -> tuple[list, list]:
        """Copies of the working weights (early-stopping snapshots)."""
        W, b = self.weights()
        return [_copy(w) for w in W], [_copy(v) for v in b]

    def start_phase(self) -> None:  # noqa: B027 - optional hook: executors without optimiser state
        """A phase of the configuration begins (:attr:`BCDConfig.phases`): drop the optimiser state (inertia
        buffers, adaptive moments)."""

    def synchronize(self) -> None:  # noqa: B027 - optional hook: most executors have nothing queued
        """Wait for queued device work (timings)."""

    def close(self) -> None:  # noqa: B027 - optional hook: most executors hold nothing to release
        """Release what the executor holds (workers' data)."""


def _copy(a):
    return a.clone() if hasattr(a, "clone") else np.array(a, copy=True)

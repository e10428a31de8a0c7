r"""What a training run returns and records: :class:`TrainResult`, early stopping, progress and log lines.

Shared by the lifted trainer (:mod:`fenchel_cvx.training.loop`) and the backprop baselines
(:mod:`fenchel_cvx.baselines`). A history is a list of per-epoch records (dicts; epoch 0 = before training).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..log import emit, get_logger
from ..network import FenchelNetwork

__all__ = ["TrainResult", "early_stop_update", "Progress", "log_record", "final_metrics"]

log = get_logger("training")


@dataclass
class TrainResult:
    """What :func:`train` (and :func:`fenchel_cvx.baselines.train_backprop`) return.

    ``net`` holds the trained weights (numpy, the network's dtype); ``history`` one dict per
    epoch (epoch 0 = initial); ``final`` the last record's accuracies; ``times`` the total
    training seconds and mean seconds per epoch; ``resumed`` (runs continued from a checkpoint) the checkpoint,
    its epoch and the settings that changed (``{"path", "epoch", "changed": {field: [old, new]},
    "data_changed": [splits]}``), None otherwise.
    """

    net: FenchelNetwork
    history: list
    config: dict
    method: str
    final: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)
    stopped_early: bool = False
    best_epoch: int | None = None
    interrupted: bool = False
    resumed: dict | None = None

    def metrics(self) -> dict:
        """JSON-ready summary: method, config, history, final accuracies and times (and ``resumed``)."""
        out = {"method": self.method, "config": self.config, "history": self.history, "final": self.final,
               "times": self.times, "stopped_early": self.stopped_early, "best_epoch": self.best_epoch,
               "interrupted": self.interrupted}
        if self.resumed is not None:
            out["resumed"] = self.resumed
        return out


def early_stop_update(best: dict, rec: dict, classification: bool, patience: int | None,
                      snapshot: Callable[[], dict]) -> bool:
    """Early-stopping bookkeeping shared by the lifted trainer and the baselines; True = stop now.

    ``best`` holds score/epoch/bad_epochs and the snapshot of the best epoch; the score is the
    validation accuracy (classification) or −MSE; ``snapshot()`` returns the dict of arrays to keep
    (called only on improvement). Records without a validation score change nothing.
    """
    key = "val_acc" if classification else "val_mse"
    if key not in rec:
        return False
    score = rec[key] if classification else -rec[key]
    if best["score"] is None or score > best["score"]:
        best.update(score=score, epoch=rec["epoch"], bad_epochs=0, **snapshot())
        return False
    best["bad_epochs"] += 1
    return patience is not None and best["bad_epochs"] >= patience


class Progress:
    """A tqdm progress bar over batches (no-op when disabled or tqdm is missing)."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
            except ImportError:  # pragma: no cover - tqdm is a dependency
                self.bar = None

    def update(self, n: int = 1, **post: Any) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if post:
                self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def log_record(rec: dict, prefix: str, keys: Sequence[str], progress: bool = False, level: int = logging.INFO) -> None:
    """One line per epoch, ``prefix epoch N  key value ...  time Ts``, logged on the ``fenchel_cvx.training``
    logger at ``level`` (INFO for ``verbose=1``: on stderr, through tqdm, when logging is not configured --
    :func:`fenchel_cvx.log.emit`). ``progress`` is unused (kept for callers)."""
    parts = [f"{prefix}epoch {rec['epoch']:3d}"]
    for k in keys:
        if rec.get(k) is not None:
            parts.append(f"{k} {rec[k]:.4f}")
    parts.append(f"time {rec['time']:.1f}s")
    emit(log, level, "%s", "  ".join(parts))


def final_metrics(history: list, best_epoch: int | None, use_best: bool, keys: Sequence[str] = ("J", "F")) -> dict:
    """The scores (``*_acc``/``*_mse``) and ``keys`` of the record a run returns: the best validation epoch's
    (``use_best``) or the last one's."""
    src = history[best_epoch] if use_best and best_epoch is not None else history[-1]
    return {k: v for k, v in src.items() if k.endswith(("_acc", "_mse")) or k in keys}

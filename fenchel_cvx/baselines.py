r"""Backprop baselines: the same network trained by SGD or Adam in torch.

Same architecture, initialisation (:meth:`FenchelNetwork.init_params`: the weights of the
network passed in), data, validation split, batch order (:func:`fenchel_cvx.training.batch_order`)
and history format as :func:`fenchel_cvx.train`. Shapes: data X is d x m (features x
samples), labels (m,) or targets k x m.

The mini-batch objective is the standard one, J_B(W) = ℓ(Y_B, Z_B)/m_B + Σ_l ρ_l/2 ‖W_l‖²
(ℓ summed over the batch; cross-entropy or squared loss), minimised by ``torch.optim.SGD``
(optional momentum) or ``torch.optim.Adam``: the step executor
:class:`~fenchel_cvx.training.backprop.BackpropExecutor`, driven by the same
:class:`~fenchel_cvx.training.loop.Trainer` as lifted BCD (same records, checkpoints and
``checkpoint_every``). :func:`select_learning_rate` picks the learning rate with the best
validation score from a log grid (default 1e-4 … 3e-2, extended past an edge that wins);
:mod:`fenchel_cvx.comparison` tunes every method with the same budget.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

from .arrays import ArrayLike
from .backend import check_backend
from .errors import TrainingDiverged
from .network import FenchelNetwork
from .training.backprop import METHODS, BackpropConfig, BackpropExecutor
from .training.batches import prepare_data
from .training.history import TrainResult
from .training.loop import Trainer
from .validation import check_int, check_number, check_output_file, check_seed

__all__ = ["METHODS", "train_backprop", "make_backprop_trainer", "select_learning_rate"]


def train_backprop(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
                   y_test: ArrayLike | None = None, *, method: str = "adam", lr: float = 1e-3, epochs: int = 10,
                   batch_size: int = 500, momentum: float = 0.0, seed: int = 0, device: str = "cpu",
                   dtype: str = "float32", threads: int | None = None, X_val: ArrayLike | None = None,
                   y_val: ArrayLike | None = None, val_fraction: float = 0.0, patience: int | None = None,
                   restore_best: bool = True, eval_samples: int | None = 10000,
                   callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
                   checkpoint: str | None = None, checkpoint_every: int = 1, resume: str | None = None,
                   force_resume: bool = False, w0_subspace: int | None = None) -> TrainResult:
    """Train ``net`` (its current weights are the initialisation) by SGD or Adam; same history as :func:`train`.

    ``X`` is d x m, ``y`` labels (m,) or targets k x m; ``threads`` sets torch's intra-op threads
    for the run (the benchmarks use 1); ``val_fraction``/``X_val`` give the validation set (early
    stopping with ``patience``; the best epoch's weights are restored when ``restore_best``);
    the weight decay is the network's ρ (J includes Σ ρ_l/2 ‖W_l‖²). Returns a :class:`TrainResult`
    (method "adam"/"sgd"). ``checkpoint``/``checkpoint_every``/``resume``/``force_resume`` as for
    :func:`fenchel_cvx.train` (a resume must match the run's settings other than ``epochs`` and its data).
    ``w0_subspace`` = k (dense networks, 1 ≤ k ≤ d): the first layer is W₀ = W₀_init + D E_kᵀ with D trained and
    E_k the training inputs' top-k principal directions (the backprop control of the lifted
    ``BCDConfig(w0_subspace=k)``; :mod:`fenchel_cvx.training.backprop`). Inputs are validated before any work
    starts.
    """
    return make_backprop_trainer(net, X, y, X_test, y_test, method=method, lr=lr, epochs=epochs,
                                 batch_size=batch_size, momentum=momentum, seed=seed, device=device, dtype=dtype,
                                 threads=threads, X_val=X_val, y_val=y_val, val_fraction=val_fraction,
                                 patience=patience, restore_best=restore_best, eval_samples=eval_samples,
                                 callbacks=callbacks, verbose=verbose, progress=progress, checkpoint=checkpoint,
                                 checkpoint_every=checkpoint_every, resume=resume, force_resume=force_resume,
                                 w0_subspace=w0_subspace).run()


def make_backprop_trainer(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
                          y_test: ArrayLike | None = None, *, method: str = "adam", lr: float = 1e-3,
                          epochs: int = 10, batch_size: int = 500, momentum: float = 0.0, seed: int = 0,
                          device: str = "cpu", dtype: str = "float32", threads: int | None = None,
                          X_val: ArrayLike | None = None, y_val: ArrayLike | None = None, val_fraction: float = 0.0,
                          patience: int | None = None, restore_best: bool = True, eval_samples: int | None = 10000,
                          callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
                          checkpoint: str | None = None, checkpoint_every: int = 1, resume: str | None = None,
                          force_resume: bool = False, w0_subspace: int | None = None) -> Trainer:
    """The validated :class:`~fenchel_cvx.training.loop.Trainer` of :func:`train_backprop` (same arguments),
    driving a :class:`~fenchel_cvx.training.backprop.BackpropExecutor`, not yet run: call ``run()``, or go
    epoch by epoch with ``iterate()`` + ``result()`` (interleaved comparisons)."""
    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    cfg = BackpropConfig(method=method, lr=lr, epochs=epochs, batch_size=batch_size, momentum=momentum, seed=seed,
                         device=device, dtype=dtype, threads=threads, eval_samples=eval_samples, patience=patience,
                         restore_best=restore_best, rho=[float(r) for r in net.rho],
                         w0_subspace=w0_subspace).validate(net)
    check_number(val_fraction, "val_fraction", lo=0.0)
    if val_fraction >= 1:
        raise ValueError(f"val_fraction: expected a number in [0, 1), got {val_fraction!r}")
    check_seed(seed, allow_none=False)
    check_backend("torch", device)
    check_int(checkpoint_every, "checkpoint_every", 1)
    if checkpoint is not None:
        check_output_file(checkpoint, "checkpoint")
    data = prepare_data(net, X, y, X_test, y_test, X_val, y_val, val_fraction, seed)
    return Trainer(net, data, cfg, executor=BackpropExecutor(), callbacks=callbacks, verbose=verbose,
                   progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                   force_resume=force_resume)


#: the default learning-rate grid of :func:`select_learning_rate` (log-spaced; extended past an edge that wins)
LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)


def select_learning_rate(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, lrs: Sequence[float] = LR_GRID,
                         *, method: str = "adam", val_fraction: float = 0.1, X_val: ArrayLike | None = None,
                         y_val: ArrayLike | None = None, seed: int = 0, max_extend: int = 3,
                         **kwargs: Any) -> tuple[float, dict]:
    """Pick the learning rate with the best final validation score (accuracy, or −MSE).

    Each candidate trains a copy of ``net`` (same initialisation) on the training part of a seeded stratified split
    (``val_fraction``) or on all of X with (X_val, y_val) given. A grid of two or more rates whose best rate is its
    largest (smallest) is extended by one step of the grid's ratio ``lrs[-1] / lrs[-2]`` (``lrs[1] / lrs[0]``) beyond
    that edge, and the new rate is trained too (when it wins alone, not on a tie), at most ``max_extend`` times: a
    choice on the edge of the grid means the grid was too small (the fair comparison of :mod:`fenchel_cvx.comparison`
    does the same for every method). A rate whose training diverges scores worst (it is left out of the results) and
    stops the extension on its side. Returns ``(best_lr, {lr: TrainResult})`` over every rate that finished.
    """
    lrs = sorted(float(v) for v in lrs)
    if not lrs:
        raise ValueError("lrs: expected at least one learning rate")
    if any(not math.isfinite(v) or v <= 0 for v in lrs):
        raise ValueError(f"lrs: expected positive finite learning rates, got {lrs}")
    max_extend = check_int(max_extend, "max_extend", lo=0)
    key = "val_acc" if net.loss.classification else "val_mse"
    sign = 1.0 if net.loss.classification else -1.0
    results = {}

    diverged = []

    def train_at(lr):
        try:
            results[lr] = train_backprop(copy.deepcopy(net), X, y, method=method, lr=lr, seed=seed, X_val=X_val,
                                         y_val=y_val, val_fraction=0.0 if X_val is not None else val_fraction,
                                         **kwargs)
        except TrainingDiverged:  # a rate too large for this problem: the worst score, not an error
            diverged.append(lr)

    for lr in lrs:
        train_at(lr)
    if not results:
        raise TrainingDiverged(f"lrs: training diverged at every learning rate {lrs}")
    for _ in range(max_extend if len(lrs) > 1 else 0):
        tried = sorted(results)
        if len(tried) < 2:  # no grid ratio to extend with
            break
        score = {v: sign * results[v].final[key] for v in tried}
        best = max(tried, key=score.get)
        if sum(score[v] == score[best] for v in tried) > 1:  # a tie: no edge wins alone
            break
        if best == tried[-1] and not any(d > best for d in diverged):
            train_at(best * tried[-1] / tried[-2])
        elif best == tried[0] and not any(d < best for d in diverged):
            train_at(best * tried[0] / tried[1])
        else:
            break
    best = max(sorted(results), key=lambda v: sign * results[v].final[key])
    return best, results

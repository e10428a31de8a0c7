r"""The training loop: it only schedules (epochs, batches, records, checkpoints, callbacks), for every method.

:class:`Trainer` drives a :class:`~fenchel_cvx.training.executor.StepExecutor` through the epochs: lifted BCD in one
process (:class:`~fenchel_cvx.training.local.LocalExecutor`, the default) or on a Dask cluster
(:class:`~fenchel_cvx.training.dask.DaskExecutor`), and backprop
(:class:`~fenchel_cvx.training.backprop.BackpropExecutor`, :func:`fenchel_cvx.baselines.train_backprop`). The executor's
state is a value (``state = executor.update(state, idx, schedule)``); the trainer keeps it, checkpoints it and
restores it.

* epoch e (0-based) runs with the executor's :meth:`~fenchel_cvx.training.executor.StepExecutor.schedule`
  (lifted BCD: the λ/γ schedule of :func:`fenchel_cvx.training.config.lifted_schedule`);
* mini-batch schedule: the batches of ``batch_order(m, e, seed)`` (a function of (seed, epoch) only, so
  resumed runs match); full batch: one sweep per epoch;
* after each epoch: one history record (J, F_λ, scores, times, and the executor's fields: λ, γ or the
  learning rate), early stopping on the validation score, a checkpoint every ``checkpoint_every`` epochs
  and at the end (one format for every executor: :mod:`fenchel_cvx.training.checkpoint`), the callbacks
  ``cb(epoch, record, net)`` (True stops).

:func:`train` is the entry point of lifted BCD. The network's weights are the initialisation and receive the
result; lifted BCD sets its λ to the λ of the last epoch run (:mod:`fenchel_cvx.training.config` says who holds what).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..arrays import ArrayLike
from ..backend import check_backend, to_numpy
from ..errors import FileFormatError, ResumeMismatch, TrainingDiverged, diverged_message
from ..log import get_logger, verbose_level
from ..model_format import network_spec
from ..network import FenchelNetwork
from ..validation import check_bool, check_int, check_output_file, check_path
from .batches import batch_order, eval_subset, prepare_data
from .checkpoint import check_resume, data_fingerprint, load_checkpoint, save_checkpoint
from .config import BCDConfig, resolve_config
from .executor import StepExecutor, copy_array, flatten_state, unflatten_state
from .history import Progress, TrainResult, early_stop_update, final_metrics, log_record
from .local import LocalExecutor

__all__ = ["Trainer", "train", "evaluate"]

log = get_logger("training")


class Trainer:
    """Training of ``net`` on prepared ``data`` (:func:`~fenchel_cvx.training.batches.prepare_data`) with the
    configuration ``config`` (checked by its own ``validate(net)``: a :class:`BCDConfig` for lifted BCD, a
    :class:`~fenchel_cvx.training.backprop.BackpropConfig` for backprop); the numerical work runs in
    ``executor`` (default :class:`LocalExecutor`).

    ``run()`` trains until ``config.epochs``, early stopping, or a callback asks to stop, and returns a
    :class:`TrainResult`; ``iterate()`` + ``result()`` do the same epoch by epoch. :meth:`hidden` gives the
    full-batch lifted state (demos). ``checkpoint``: a path written every ``checkpoint_every`` epochs, when the
    run stops and at the end; ``resume``: a checkpoint to continue from (checked against this run by
    :func:`~fenchel_cvx.training.checkpoint.check_resume`; ``force_resume`` accepts a changed configuration
    or data set).
    """

    def __init__(self, net: FenchelNetwork, data: dict, config: Any, executor: StepExecutor | None = None,
                 callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
                 checkpoint: str | None = None, checkpoint_every: int = 1, resume: str | None = None,
                 force_resume: bool = False) -> None:
        self.checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1)
        if checkpoint is not None:
            checkpoint = check_output_file(checkpoint, "checkpoint")
            network_spec(net)  # an activation/loss the checkpoint could not describe fails now, not after an epoch
        self.fingerprint = data_fingerprint(data) if (checkpoint is not None or resume is not None) else None
        self.resumed = None
        self.net, self.cfg = net, config.validate(net)
        cfg = config
        X = np.asarray(to_numpy(data["X"]))
        self.input_scale = (float(np.max(np.abs(X))) if X.size else 0.0, X.dtype.name)  # named if F < 0
        self.executor = LocalExecutor() if executor is None else executor
        self.state = self.executor.init_state(net, data, cfg)
        self.m = self.executor.m
        self.batch_size = self.m if (cfg.schedule == "fullbatch" or cfg.batch_size is None) else min(cfg.batch_size,
                                                                                                      self.m)
        self.n_batches = math.ceil(self.m / self.batch_size) if cfg.schedule == "minibatch" else 1
        self.epoch = 0
        self.schedule = self.executor.schedule(self.state, 0)  # the parameters of the last epoch run
        self.history: list = []
        self.best = {"score": None, "epoch": None, "W": None, "b": None, "bad_epochs": 0}
        self.callbacks = list(callbacks)
        self.verbose = verbose
        self.progress = (verbose > 0 and sys.stderr.isatty()) if progress is None else bool(progress and verbose > 0)
        self.checkpoint = checkpoint
        self.train_time = 0.0
        self.eval_idx = eval_subset(self.m, cfg.eval_samples if cfg.schedule == "minibatch" else None, cfg.seed)
        self.stopped_early = False
        self.interrupted = False
        if resume is not None:
            self.restore(resume, force=force_resume)

    # ---- records -----------------------------------------------------------------------------
    def _record(self, epoch_time: float) -> dict:
        ex = self.executor
        t0 = time.perf_counter()
        rec = {"epoch": self.epoch, **ex.evaluate(self.state, self.schedule, self.eval_idx)}
        if not all(v is None or math.isfinite(v) for v in rec.values()):
            raise TrainingDiverged(diverged_message(ex.label, self.epoch, rec, ex.diverged_hint))
        if (rec.get("F") or 0.0) < 0.0 and not getattr(self, "_warned_negative_F", False):
            self._warned_negative_F = True
            _warn_negative_objective(rec, self.epoch, *self.input_scale)
        rec["time"] = self.train_time
        rec["epoch_time"] = epoch_time
        rec["eval_time"] = time.perf_counter() - t0
        rec.update(ex.record_fields(self.schedule))
        self.history.append(rec)
        return rec

    def _early_stop(self, rec) -> bool:
        def snapshot():
            return {"W": [copy_array(w) for w in self.state.W], "b": [copy_array(v) for v in self.state.b]}

        return early_stop_update(self.best, rec, self.net.loss.classification, self.cfg.patience, snapshot)

    def _log(self, rec):
        ex = self.executor
        prefix = "" if ex.kind == "lifted" else f"{ex.label} "
        log_record(rec, prefix, ex.log_keys, level=verbose_level(self.verbose))

    # ---- state, checkpoints ------------------------------------------------------------------
    def sync_net(self) -> None:
        """Copy the working weights into ``self.net`` (numpy, the network's dtype); lifted BCD also sets its λ
        to the λ in use."""
        self.net.W = [np.array(to_numpy(w), dtype=self.net.dtype) for w in self.state.W]
        self.net.b = [np.array(to_numpy(v), dtype=self.net.dtype) for v in self.state.b]
        if self.schedule.lam is not None:
            self.net.lam = np.array(self.schedule.lam, dtype=float)

    def hidden(self) -> list | None:
        """The full-batch lifted state [X_1..X_L] (numpy copies; None for the mini-batch schedule)."""
        Xs = getattr(self.state, "hidden", None)
        return None if Xs is None else [np.array(to_numpy(X)) for X in Xs]

    def save(self, path: str) -> None:
        """Write a checkpoint (:mod:`fenchel_cvx.training.checkpoint`: the weights in the working dtype as
        ``W{l}``/``b{l}``, the rest of the executor's state field by field, the best epoch's weights, history,
        config) to ``path``."""
        self.sync_net()
        tree, arrays = flatten_state(self.state)
        if self.best["W"] is not None:
            for l, (w, v) in enumerate(zip(self.best["W"], self.best["b"], strict=True)):
                arrays[f"bestW{l}"], arrays[f"bestb{l}"] = to_numpy(w), to_numpy(v)
        meta = {"kind": self.executor.kind, "epoch": self.epoch, "config": self.cfg.to_dict(),
                "history": self.history, "train_time": self.train_time, "data": self.fingerprint,
                "best": {k: self.best[k] for k in ("score", "epoch", "bad_epochs")}, "state": tree}
        # the network's parameters are saved in the working dtype (exact resume)
        W_net, b_net = self.net.W, self.net.b
        self.net.W = [np.asarray(to_numpy(w)) for w in self.state.W]
        self.net.b = [np.asarray(to_numpy(v)) for v in self.state.b]
        try:
            save_checkpoint(path, self.net, arrays, meta)
        finally:
            self.net.W, self.net.b = W_net, b_net

    def restore(self, path: str, force: bool = False) -> None:
        """Continue from a checkpoint of the same run: same network (architecture, activations, loss, bias, ρ),
        configuration (``epochs`` may grow) and data -- or, with ``force``, a changed configuration or data set
        (the new configuration applies from the checkpoint's epoch on; ``result.resumed`` records the changes)."""
        path = check_path(path, "resume")
        ex = self.executor
        W, b, arrays, meta = load_checkpoint(path, name="resume")
        if "state" not in meta:  # written before the one training loop: no state structure
            raise FileFormatError(f"old checkpoint {path!r}: written in an earlier checkpoint "
                                  f"format (before the one training loop; its metadata has no "
                                  f"'state') that this version cannot resume; "
                                  f"fenchel_cvx.load({path!r}) still reads its network (start "
                                  f"a new run from it)")
        if meta.get("kind") != ex.kind:
            raise ValueError(f"resume: {path!r} is a {meta.get('kind')!r} checkpoint, not a {ex.kind!r} one")
        changes = check_resume(path, meta, self.net, self.cfg.to_dict(), self.fingerprint, self.cfg.epochs,
                               force=check_bool(force, "force_resume"))
        try:
            saved = unflatten_state(meta["state"], arrays, ex.to_working, self.state,
                                    W=[ex.to_working(w, "W") for w in W], b=[ex.to_working(v, "b") for v in b])
            self.state = ex.resume_state(saved, self.state, changes["config"])
            self.epoch = int(meta["epoch"])
            self.history = list(meta["history"])
            self.train_time = float(meta["train_time"])
            self.best.update(meta["best"])
            if "bestW0" in arrays:
                self.best["W"] = [ex.to_working(arrays[f"bestW{l}"], "W") for l in range(len(W))]
                self.best["b"] = [ex.to_working(arrays[f"bestb{l}"], "b") for l in range(len(b))]
        except ResumeMismatch:  # an executor refusing the resume (resume_state), not a corrupt file
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise FileFormatError(f"corrupt checkpoint {path!r}: {type(e).__name__}: {e}") from None
        self.schedule = dataclasses.replace(ex.schedule(self.state, max(self.epoch - 1, 0)), epoch=self.epoch)
        self.resumed = {"path": path, "epoch": self.epoch, "changed": changes["config"],
                        "data_changed": changes["data"]}

    # ---- main loop -----------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until ``config.epochs`` (or early stopping / a callback) and return the result."""
        for _rec in self.iterate():
            pass
        return self.result()

    def _epoch(self, bar: Progress) -> float:
        """One epoch of updates with the schedule of ``self.epoch`` (completed epochs); returns its seconds."""
        ex, cfg = self.executor, self.cfg
        sch = ex.schedule(self.state, self.epoch)
        if any(ph["epoch"] == self.epoch for ph in (getattr(cfg, "phases", None) or ())):
            self.state = ex.start_phase(self.state)
        t0 = time.perf_counter()
        if cfg.schedule == "fullbatch":
            self.state = ex.update(self.state, None, sch)
            bar.update(1)
        else:
            bs = self.batch_size
            order = batch_order(self.m, self.epoch, cfg.seed, cfg.shuffle, bs)
            for i in range(self.n_batches):
                self.state = ex.update(self.state, order[i * bs:(i + 1) * bs], sch)
                bar.update(1)
        ex.synchronize()
        self.schedule = sch
        return time.perf_counter() - t0

    def iterate(self) -> Iterator[dict]:
        """Train epoch by epoch: a generator that yields each epoch's record (the initial record first when
        the history is empty). Two runs can be interleaved in one process (they then see the same machine
        load; :mod:`fenchel_cvx.comparison`); :meth:`result` gives the :class:`TrainResult` afterwards."""
        cfg, ex = self.cfg, self.executor
        if not self.history:
            with ex.running():
                rec = self._record(0.0)
            self._early_stop(rec)
            self._log(rec)
            yield rec
        bar = Progress(total=(cfg.epochs - self.epoch) * self.n_batches, desc=ex.label, enabled=self.progress)
        try:
            while self.epoch < cfg.epochs:
                with ex.running():
                    dt = self._epoch(bar)
                    self.train_time += dt
                    self.epoch += 1
                    self.schedule = dataclasses.replace(self.schedule, epoch=self.epoch)
                    rec = self._record(dt)  # evaluated with the parameters used during this epoch
                stop = self._early_stop(rec)
                self._log(rec)
                self.sync_net()
                for cb in self.callbacks:
                    if cb(self.epoch, rec, self.net) is True:
                        self.interrupted = True
                self.stopped_early = bool(stop)
                last = stop or self.interrupted or self.epoch == cfg.epochs
                if self.checkpoint and (last or self.epoch % self.checkpoint_every == 0):
                    self.save(self.checkpoint)
                yield rec
                if stop or self.interrupted:
                    break
        finally:
            bar.close()

    def result(self) -> TrainResult:
        """The :class:`TrainResult` of the run so far (best validation epoch restored when configured)."""
        use_best = self.cfg.restore_best and self.best["epoch"] is not None and not self.interrupted
        if use_best and self.best["W"] is not None:
            self.state = dataclasses.replace(self.state, W=list(self.best["W"]), b=list(self.best["b"]))
        self.sync_net()
        final = final_metrics(self.history, self.best["epoch"], use_best, keys=self.executor.final_keys)
        n_ep = max(1, sum(1 for r in self.history if r["epoch"] > 0))
        times = {"train_total": self.train_time, "per_epoch": self.train_time / n_ep,
                 "eval_total": float(sum(r.get("eval_time", 0.0) for r in self.history))}
        return TrainResult(net=self.net, history=self.history, config=self.cfg.to_dict(), method=self.executor.method,
                           final=final, times=times, stopped_early=self.stopped_early,
                           best_epoch=self.best["epoch"], interrupted=self.interrupted, resumed=self.resumed)


def _warn_negative_objective(rec: dict, epoch: int, scale: float, dtype: str) -> None:
    """F_λ = (ℓ + Σ λ_l Σ B_l)/m + Σ ρ_l/2 ‖W_l‖² is a sum of terms ≥ 0; a negative value is float rounding of
    the divergences B = f(u) + f*(v) − uv (large terms cancelling): say so, with the scale of the inputs."""
    log.warning("training: the lifted objective F = %.3g < 0 at epoch %d cannot be right (every term of F is >= 0): "
                "its divergence terms f(u) + f*(v) - u v cancel below %s rounding at inputs of magnitude up "
                "to %.3g. F and the lifted steps are unreliable at this scale; standardise the inputs (e.g. to "
                "unit variance per feature) and train again", rec["F"], epoch, dtype, scale)


def train(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
          y_test: ArrayLike | None = None,
          config: BCDConfig | dict | None = None, *, X_val: ArrayLike | None = None, y_val: ArrayLike | None = None,
          callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
          checkpoint: str | None = None, checkpoint_every: int = 1, resume: str | None = None,
          force_resume: bool = False, init_hidden: Sequence[ArrayLike] | None = None, **overrides: Any) -> TrainResult:
    """Train ``net`` by lifted BCD (:mod:`fenchel_cvx.training`) and return a :class:`TrainResult`.

    Parameters
    ----------
    net : FenchelNetwork or ConvFenchelNetwork (its weights are the initialisation and receive the result;
        its ρ is the weight decay; its λ is λ_0 unless the config gives one)
    X : d x m training data (features x samples); y : labels (m,) or targets k x m
    X_test, y_test : optional test data (accuracy per epoch)
    config : BCDConfig, a dict of its fields, or None: the default schedule, the ``"tuned"`` mini-batch preset
             (:func:`~fenchel_cvx.training.presets.preset`; the plain BCDConfig defaults when
             ``schedule="fullbatch"``); ``**overrides`` set single fields
    X_val, y_val : explicit validation data (otherwise ``config.val_fraction`` of the training set)
    callbacks : callables ``cb(epoch, record, net)``; returning True stops training after that epoch
    verbose : 0 = quiet, 1 = one line per epoch (stderr); progress : tqdm bar (None: when stderr is a tty)
    checkpoint : path of a .npz written every ``checkpoint_every`` epochs and at the end (checked writable
        before training starts)
    resume : path of a checkpoint to continue from: the same network, data and config (``epochs`` may grow);
        anything else raises :class:`~fenchel_cvx.errors.ResumeMismatch` naming the fields, unless
        ``force_resume=True`` (the new config then applies from the checkpoint's epoch on)
    init_hidden : full-batch schedule only: the initial lifted state [X_1..X_L] (default: the forward pass)

    Everything (config, data shapes, label range, finiteness, backend, output paths, the checkpoint to
    resume from) is validated before any training work starts.
    """
    cfg = resolve_config(net, config, overrides, "train")
    check_backend(cfg.backend, cfg.device)
    check_int(checkpoint_every, "checkpoint_every", 1)
    if checkpoint is not None:
        check_output_file(checkpoint, "checkpoint")
    if init_hidden is not None and cfg.schedule != "fullbatch":
        raise ValueError("init_hidden: only the full-batch schedule keeps a lifted state across epochs")
    data = prepare_data(net, X, y, X_test, y_test, X_val, y_val, cfg.val_fraction, cfg.seed)
    trainer = Trainer(net, data, cfg, executor=LocalExecutor(init_hidden), callbacks=callbacks, verbose=verbose,
                      progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                      force_resume=force_resume)
    return trainer.run()


def evaluate(net: FenchelNetwork, X: ArrayLike, y: ArrayLike) -> dict:
    """J and accuracy (or mean squared error) of the feed-forward network on (X, y)."""
    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    X = net.check_input(X, min_samples=1)
    Y = net.check_targets(to_numpy(y), X.shape[1])
    _, Z = net.forward(X)
    Z = to_numpy(Z)
    out = {"J": float(net.loss.value(Y, Z)) / X.shape[1] + net.regulariser()}
    out[net.loss.metric] = net.loss.score(Y, Z)
    return out

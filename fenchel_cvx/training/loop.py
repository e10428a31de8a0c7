r"""The training loop of lifted BCD: it only schedules (epochs, continuation, records, checkpoints, callbacks).

:class:`Trainer` drives a :class:`~fenchel_cvx.training.executor.StepExecutor` (the numerical work: local
numpy/torch, or Dask) through the epochs:

* epoch e (0-based) uses λ_e = min(λ_0·``lam_growth``^e, max(``lam_max``, λ_0)) and γ_e = γ_0·``gamma_growth``^e;
* mini-batch schedule: the batches of ``batch_order(m, e, seed)`` (a function of (seed, epoch) only, so
  resumed runs match); full batch: one sweep per epoch;
* after each epoch: one history record (J, F_λ at λ_e, scores, times, λ, γ), early stopping on the
  validation score, a checkpoint, the callbacks ``cb(epoch, record, net)`` (True stops).

:func:`train` is the entry point. The network's weights are the initialisation and receive the result; its
λ is set to the λ of the last epoch run (:mod:`fenchel_cvx.training.config` says who holds what).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..arrays import ArrayLike
from ..backend import check_backend, to_numpy
from ..errors import FileFormatError, TrainingDiverged, diverged_message
from ..log import get_logger, verbose_level
from ..model_io import network_spec
from ..network import FenchelNetwork
from ..validation import check_bool, check_int, check_output_file, check_path, per_layer
from .checkpoint import (
    check_resume,
    data_fingerprint,
    load_checkpoint,
    require_arrays,
    save_checkpoint,
)
from .config import BCDConfig, resolve_config
from .data import batch_order, eval_subset, prepare_data
from .executor import Schedule, StepExecutor
from .history import Progress, TrainResult, early_stop_update, final_metrics, log_record
from .local import LocalExecutor

__all__ = ["Trainer", "train", "evaluate"]

log = get_logger("training")

#: the record fields printed per epoch
LOG_KEYS = ("F", "J", "train_acc", "val_acc", "test_acc", "train_mse", "val_mse", "test_mse")


class Trainer:
    """Lifted BCD of ``net`` on prepared ``data`` (:func:`~fenchel_cvx.training.data.prepare_data`) with a
    validated :class:`BCDConfig`; the numerical work runs in ``executor`` (default :class:`LocalExecutor`).

    ``run()`` trains until ``config.epochs``, early stopping, or a callback asks to stop, and returns a
    :class:`TrainResult`. :meth:`hidden` gives the full-batch lifted state (demos). ``resume``: a checkpoint
    to continue from (checked against this run by :func:`~fenchel_cvx.training.checkpoint.check_resume`;
    ``force_resume`` accepts a changed configuration or data set).
    """

    def __init__(self, net: FenchelNetwork, data: dict, config: BCDConfig, executor: StepExecutor | None = None,
                 callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
                 checkpoint: str | None = None, checkpoint_every: int = 1, resume: str | None = None,
                 force_resume: bool = False) -> None:
        self.checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1)
        if checkpoint is not None:
            checkpoint = check_output_file(checkpoint, "checkpoint")
            network_spec(net)  # an activation/loss the checkpoint could not describe fails now, not after an epoch
        self.fingerprint = data_fingerprint(data) if (checkpoint is not None or resume is not None) else None
        self.resumed = None
        self.net, self.cfg = net, config
        cfg = config
        self.L = net.L
        self.lam0 = np.array(net.lam if cfg.lam is None else per_layer(cfg.lam, self.L, "lam"), dtype=float)
        self.gamma0 = np.array(per_layer(cfg.gamma, self.L + 1, "gamma"), dtype=float)
        self.lam, self.gamma = self.lam0.copy(), self.gamma0.copy()
        self.cfg_e = cfg  # the configuration in force (the phase of the current epoch)
        if self.L and np.any(self.lam <= 0):
            raise ValueError(f"lam: the X-blocks need λ_l > 0, got {self.lam.tolist()}")
        if np.any(np.asarray(net.rho) + self.gamma <= 0):
            raise ValueError(f"gamma, rho: the W-blocks need rho_l + gamma_l > 0 on every layer, got "
                             f"rho={np.asarray(net.rho).tolist()}, gamma={self.gamma.tolist()}")
        X = np.asarray(to_numpy(data["X"]))
        self.input_scale = (float(np.max(np.abs(X))) if X.size else 0.0, X.dtype.name)  # named if F < 0
        self.executor = LocalExecutor() if executor is None else executor
        self.executor.init_state(net, data, cfg)
        self.m = self.executor.m
        self.batch_size = self.m if (cfg.schedule == "fullbatch" or cfg.batch_size is None) else min(cfg.batch_size,
                                                                                                      self.m)
        self.n_batches = math.ceil(self.m / self.batch_size) if cfg.schedule == "minibatch" else 1
        self.epoch = 0
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

    # ---- the schedule ------------------------------------------------------------------------
    def _set_epoch_parameters(self, epoch: int):
        """The configuration, λ, γ and W-step sizes in force during epoch ``epoch`` + 1 (``epoch`` completed):
        the phase in force (:meth:`BCDConfig.at_epoch`), λ_0·growth^epoch capped by max(lam_max, λ_0), γ_0·growth^epoch
        (a phase that sets ``lam``/``gamma`` gives new λ_0/γ_0; the exponent counts epochs from the start of the run)."""
        cfg = self.cfg_e = self.cfg.at_epoch(epoch)
        changed = {k for ph in (self.cfg.phases or ()) if ph["epoch"] <= epoch for k in ph}
        lam0, gamma0 = self.lam0, self.gamma0
        if "lam" in changed and cfg.lam is not None:
            lam0 = np.array(per_layer(cfg.lam, self.L, "lam"), dtype=float)
        if "gamma" in changed:
            gamma0 = np.array(per_layer(cfg.gamma, self.L + 1, "gamma"), dtype=float)
        self.lam = np.minimum(lam0 * cfg.lam_growth ** epoch, np.maximum(cfg.lam_max, lam0))
        self.gamma = gamma0 * cfg.gamma_growth ** epoch

    def _schedule(self) -> Schedule:
        cfg = self.cfg_e
        return Schedule(self.lam, self.gamma, cfg, self.epoch, w_lr=per_layer(cfg.w_lr, self.L + 1, "w_lr"),
                        w_curvature=per_layer(cfg.w_curvature, self.L + 1, "w_curvature"),
                        batches_per_epoch=self.n_batches)

    # ---- records -----------------------------------------------------------------------------
    def _record(self, epoch_time: float) -> dict:
        t0 = time.perf_counter()
        rec = {"epoch": self.epoch, **self.executor.evaluate(self._schedule(), self.eval_idx)}
        if not all(math.isfinite(v) for v in rec.values()):
            raise TrainingDiverged(diverged_message("training", self.epoch, rec,
                                                    "try a larger gamma or smaller x_weight"))
        if rec.get("F", 0.0) < 0.0 and not getattr(self, "_warned_negative_F", False):
            self._warned_negative_F = True
            _warn_negative_objective(rec, self.epoch, *self.input_scale)
        rec["time"] = self.train_time
        rec["epoch_time"] = epoch_time
        rec["eval_time"] = time.perf_counter() - t0
        rec["lam"] = self.lam.tolist()
        rec["gamma"] = self.gamma.tolist()
        if self.cfg.phases:
            rec["phase"] = self.cfg.phase_index(max(self.epoch - 1, 0))
        self.history.append(rec)
        return rec

    def _early_stop(self, rec) -> bool:
        def snapshot():
            W, b = self.executor.copy_weights()
            return {"W": W, "b": b}

        return early_stop_update(self.best, rec, self.net.loss.classification, self.cfg.patience, snapshot)

    def _log(self, rec):
        log_record(rec, "", LOG_KEYS, level=verbose_level(self.verbose))

    # ---- state, checkpoints ------------------------------------------------------------------
    def sync_net(self) -> None:
        """Copy the working weights into ``self.net`` (numpy, the network's dtype) and set its λ to the λ in use."""
        W, b = self.executor.weights()
        self.net.W = [np.array(to_numpy(w), dtype=self.net.dtype) for w in W]
        self.net.b = [np.array(to_numpy(v), dtype=self.net.dtype) for v in b]
        self.net.lam = np.array(self.lam, dtype=float)

    def hidden(self) -> list | None:
        """The full-batch lifted state [X_1..X_L] (numpy copies; None for the mini-batch schedule)."""
        get = getattr(self.executor, "hidden", None)
        return None if get is None else get()

    def state_arrays(self) -> dict:
        arr = {"lam": self.lam, "gamma": self.gamma, "lam0": self.lam0, "gamma0": self.gamma0,
               "rho": np.asarray(self.net.rho, dtype=float)}
        arr.update(self.executor.state_arrays())
        if self.best["W"] is not None:
            for l, (w, v) in enumerate(zip(self.best["W"], self.best["b"], strict=True)):
                arr[f"bestW{l}"], arr[f"bestb{l}"] = w, v
        return arr

    def save(self, path: str) -> None:
        """Write a checkpoint (weights in the working dtype, optimiser state, history, config) to ``path``."""
        self.sync_net()
        meta = {"kind": "lifted", "epoch": self.epoch, "config": self.cfg.to_dict(), "history": self.history,
                "train_time": self.train_time, "data": self.fingerprint,
                "best": {k: self.best[k] for k in ("score", "epoch", "bad_epochs")}}
        # the network's parameters are saved in the working dtype (exact resume)
        W_net, b_net = self.net.W, self.net.b
        W, b = self.executor.weights()
        self.net.W = [np.asarray(to_numpy(w)) for w in W]
        self.net.b = [np.asarray(to_numpy(v)) for v in b]
        try:
            save_checkpoint(path, self.net, self.state_arrays(), meta)
        finally:
            self.net.W, self.net.b = W_net, b_net

    def restore(self, path: str, force: bool = False) -> None:
        """Continue from a checkpoint of the same run: same network (architecture, activations, loss, bias, ρ),
        configuration (``epochs`` may grow) and data -- or, with ``force``, a changed configuration or data set
        (the new configuration applies from the checkpoint's epoch on; ``result.resumed`` records the changes)."""
        path = check_path(path, "resume")
        W, b, arrays, meta = load_checkpoint(path, name="resume")
        if meta.get("kind") != "lifted":
            raise ValueError(f"resume: {path!r} is a {meta.get('kind')!r} checkpoint, not a lifted one")
        changes = check_resume(path, meta, self.net, self.cfg.to_dict(), self.fingerprint, self.cfg.epochs,
                               force=check_bool(force, "force_resume"))
        require_arrays(arrays, ("lam", "gamma", "lam0", "gamma0"), path)
        try:
            self.executor.set_weights(W, b)
            self.lam, self.gamma, lam0, gamma0 = (np.asarray(arrays[k], dtype=float)
                                                  for k in ("lam", "gamma", "lam0", "gamma0"))
            # the schedule's starting values: the checkpoint's, unless the (forced) new config changes them
            if "lam" not in changes["config"]:
                self.lam0 = lam0
            if "gamma" not in changes["config"]:
                self.gamma0 = gamma0
            self.executor.load_state_arrays(arrays)
            self.epoch = int(meta["epoch"])
            self.history = list(meta["history"])
            self.train_time = float(meta["train_time"])
            self.best.update(meta["best"])
        except (KeyError, TypeError, ValueError) as e:
            raise FileFormatError(f"corrupt checkpoint {path!r}: {type(e).__name__}: {e}") from None
        self.resumed = {"path": path, "epoch": self.epoch, "changed": changes["config"],
                        "data_changed": changes["data"]}
        if "bestW0" in arrays:
            ref = self.executor.weights()
            conv = _converter(ref[0][0])
            self.best["W"] = [conv(arrays[f"bestW{l}"]) for l in range(self.L + 1)]
            self.best["b"] = [conv(arrays[f"bestb{l}"]) for l in range(self.L + 1)]

    # ---- main loop -----------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until ``config.epochs`` (or early stopping / a callback) and return the result."""
        for _rec in self.iterate():
            pass
        return self.result()

    def iterate(self) -> Iterator[dict]:
        """Train epoch by epoch: a generator that yields each epoch's record (the initial record first when
        the history is empty). Two runs can be interleaved in one process (they then see the same machine
        load; :mod:`fenchel_cvx.protocol`); :meth:`result` gives the :class:`TrainResult` afterwards."""
        cfg = self.cfg
        if not self.history:
            rec = self._record(0.0)
            self._early_stop(rec)
            self._log(rec)
            yield rec
        bs, n_batches = self.batch_size, self.n_batches
        bar = Progress(total=(cfg.epochs - self.epoch) * n_batches, desc="lifted BCD", enabled=self.progress)
        try:
            while self.epoch < cfg.epochs:
                self._set_epoch_parameters(self.epoch)
                if cfg.phase_starts(self.epoch):
                    self.executor.start_phase()
                sch = self._schedule()
                t0 = time.perf_counter()
                if cfg.schedule == "fullbatch":
                    self.executor.update(None, sch)
                    bar.update(1)
                else:
                    order = batch_order(self.m, self.epoch, cfg.seed, cfg.shuffle)
                    for i in range(n_batches):
                        self.executor.update(order[i * bs:(i + 1) * bs], sch)
                        bar.update(1)
                self.executor.synchronize()
                dt = time.perf_counter() - t0
                self.train_time += dt
                self.epoch += 1
                rec = self._record(dt)  # evaluated with the λ used during this epoch
                stop = self._early_stop(rec)
                self._log(rec)
                if self.checkpoint and (self.epoch % self.checkpoint_every == 0 or self.epoch == cfg.epochs):
                    self.save(self.checkpoint)
                self.sync_net()
                for cb in self.callbacks:
                    if cb(self.epoch, rec, self.net) is True:
                        self.interrupted = True
                if stop:
                    self.stopped_early = True
                if stop or self.interrupted:
                    if self.checkpoint:
                        self.save(self.checkpoint)
                    yield rec
                    break
                yield rec
        finally:
            bar.close()

    def result(self) -> TrainResult:
        """The :class:`TrainResult` of the run so far (best validation epoch restored when configured)."""
        use_best = self.cfg.restore_best and self.best["epoch"] is not None and not self.interrupted
        if use_best and self.best["W"] is not None:
            self.executor.set_weights(list(self.best["W"]), list(self.best["b"]))
        self.sync_net()
        final = final_metrics(self.history, self.best["epoch"], use_best)
        n_ep = max(1, sum(1 for r in self.history if r["epoch"] > 0))
        times = {"train_total": self.train_time, "per_epoch": self.train_time / n_ep,
                 "eval_total": float(sum(r.get("eval_time", 0.0) for r in self.history))}
        return TrainResult(net=self.net, history=self.history, config=self.cfg.to_dict(), method="fenchel",
                           final=final, times=times, stopped_early=self.stopped_early,
                           best_epoch=self.best["epoch"], interrupted=self.interrupted, resumed=self.resumed)


def _warn_negative_objective(rec: dict, epoch: int, scale: float, dtype: str) -> None:
    """F_λ = (ℓ + Σ λ_l Σ B_l)/m + Σ ρ_l/2 ‖W_l‖² is a sum of terms ≥ 0; a negative value is float rounding of
    the divergences B = f(u) + f*(v) − uv (large terms cancelling): say so, with the scale of the inputs."""
    log.warning("training: the lifted objective F = %.3g < 0 at epoch %d cannot be right (every term of F is >= 0): "
                "its divergence terms f(u) + f*(v) - u v cancel below %s rounding at inputs of magnitude up "
                "to %.3g. F and the lifted steps are unreliable at this scale; standardise the inputs (e.g. to "
                "unit variance per feature) and train again", rec["F"], epoch, dtype, scale)


def _converter(ref):
    """A function converting numpy arrays to ``ref``'s backend, dtype and device."""
    from ..backend import like

    return lambda a: like(np.asarray(a), ref)


def train(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None, y_test: ArrayLike | None = None,
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

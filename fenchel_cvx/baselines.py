r"""Backprop baselines: the same network trained by SGD or Adam in torch.

Same architecture, initialisation (:meth:`FenchelNetwork.init_params`: the weights of the
network passed in), data, validation split, batch order (:func:`fenchel_cvx.training.batch_order`)
and history format as :func:`fenchel_cvx.train`. Shapes: data X is d x m (features x
samples), labels (m,) or targets k x m.

The mini-batch objective is the standard one, J_B(W) = ℓ(Y_B, Z_B)/m_B + Σ_l ρ_l/2 ‖W_l‖²
(ℓ summed over the batch; cross-entropy or squared loss), minimised by ``torch.optim.SGD``
(optional momentum) or ``torch.optim.Adam``. :func:`select_learning_rate` picks the learning
rate with the best validation score from a log grid (default 1e-4 … 3e-2, extended past an edge
that wins); :mod:`fenchel_cvx.protocol` tunes every method with the same budget.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .arrays import ArrayLike
from .backend import check_backend, to_numpy
from .errors import FileFormatError, TrainingDiverged, diverged_message
from .log import verbose_level
from .network import FenchelNetwork
from .training.checkpoint import (
    check_resume,
    data_fingerprint,
    json_safe,
    load_checkpoint,
    save_checkpoint,
)
from .training.data import batch_order, eval_subset, prepare_data
from .training.history import Progress, TrainResult, early_stop_update, final_metrics, log_record
from .validation import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_output_file,
    check_seed,
    per_layer,
)

__all__ = ["METHODS", "train_backprop", "make_backprop_trainer", "BackpropTrainer", "select_learning_rate"]

METHODS = ("sgd", "adam")


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - torch is in the `torch` extra
        raise ImportError("the backprop baselines need torch: pip install 'fenchel-cvx[torch]'") from e
    return torch


def _validate(method, lr, epochs, batch_size, momentum, dtype):
    check_choice(method, "method", METHODS)
    check_number(lr, "lr", lo=0.0, strict=True)
    check_int(epochs, "epochs", 0)
    check_int(batch_size, "batch_size", 1)
    check_number(momentum, "momentum", lo=0.0)
    if momentum >= 1:
        raise ValueError(f"momentum: expected a number in [0, 1), got {momentum!r}")
    check_choice(dtype, "dtype", ("float32", "float64"))


class BackpropTrainer:
    """Backprop (SGD/Adam in torch) on the network's twin; built by :func:`train_backprop` (validated) or
    :func:`make_backprop_trainer`; ``run()`` or the epoch generator ``iterate()`` + ``result()``."""

    def __init__(self, net: FenchelNetwork, data: dict, method: str, lr: float, epochs: int, batch_size: int,
                 momentum: float, seed: int, device: str, dtype: str, threads: int | None, eval_samples: int | None,
                 patience: int | None, restore_best: bool, callbacks: Sequence[Callable], verbose: int,
                 progress: bool | None, checkpoint: str | None):
        torch = _torch()
        self.torch = torch
        self.net = net
        self.method, self.lr, self.epochs, self.bs = method, float(lr), int(epochs), int(batch_size)
        self.momentum, self.seed, self.device = float(momentum), int(seed), torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.rho = per_layer(net.rho, net.L + 1, "rho")  # the network's weight decay (the one source of truth)
        self.threads = threads
        conv = lambda a: None if a is None else torch.as_tensor(np.ascontiguousarray(np.asarray(a).T),  # noqa: E731
                                                                 dtype=self.dtype, device=self.device)
        # samples as rows (m x d) for torch's nn convention
        self.X, self.Y = conv(data["X"]), conv(data["Y"])
        self.Xte, self.Yte = conv(data["X_test"]), conv(data["Y_test"])
        self.Xva, self.Yva = conv(data["X_val"]), conv(data["Y_val"])
        self.m = self.X.shape[0]
        self.params = []
        self.module = None
        if getattr(net, "maps", None) is not None:
            # a conv network (fenchel_cvx.conv): the same network as torch.nn layers (same weights);
            # params[2l], params[2l+1] are layer l's weight (net.W[l]'s shape) and bias
            self.module = net.torch_module(device=self.device, dtype=dtype)
            layers = [mod for mod in self.module if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
            for lay in layers:
                self.params.append(lay.weight)
                self.params.append(lay.bias if lay.bias is not None else
                                   torch.zeros(lay.weight.shape[0], dtype=self.dtype, device=self.device))
        else:
            for w, v in zip(net.W, net.b, strict=True):
                self.params.append(torch.tensor(np.asarray(w), dtype=self.dtype, device=self.device,
                                                requires_grad=True))
                self.params.append(torch.tensor(np.asarray(v), dtype=self.dtype, device=self.device,
                                                requires_grad=bool(net.bias)))
        trainable = [p for p in self.params if p.requires_grad]
        if method == "adam":
            self.opt = torch.optim.Adam(trainable, lr=self.lr)
        else:
            self.opt = torch.optim.SGD(trainable, lr=self.lr, momentum=self.momentum)
        self.eval_idx = eval_subset(self.m, eval_samples, seed)
        self.patience, self.restore_best = patience, restore_best
        self.callbacks, self.verbose = list(callbacks), verbose
        self.progress = (verbose > 0 and sys.stderr.isatty()) if progress is None else bool(progress and verbose > 0)
        self.checkpoint = checkpoint
        self.fingerprint = None  # the data's (train_backprop sets it when checkpointing or resuming)
        self.resumed = None
        self.epoch, self.history, self.train_time = 0, [], 0.0
        self.best = {"score": None, "epoch": None, "params": None, "bad_epochs": 0}
        self.stopped_early = self.interrupted = False

    # ---- model ------------------------------------------------------------------------------
    def logits(self, X: Any) -> Any:
        """Z = W_L φ(... φ(W_0 xᵀ + b_0) ...) + b_L for the rows of X (returns m x k).

        Conv networks: the rows are images flattened in C-order, reshaped to (m, C, H, W) for the
        ``torch.nn`` module of :meth:`fenchel_cvx.conv.ConvFenchelNetwork.torch_module`.
        """
        if self.module is not None:
            return self.module(X.reshape(X.shape[0], *self.net.input_shape))
        H = X
        L = self.net.L
        for l in range(L + 1):
            W, b = self.params[2 * l], self.params[2 * l + 1]
            H = H @ W.T + b
            if l < L:
                H = self.net.activations[l].phi(H)
        return H

    def batch_loss(self, X: Any, Y: Any) -> Any:
        Z = self.logits(X)
        torch = self.torch
        if self.net.loss.classification:
            data = (torch.logsumexp(Z, dim=1) - (Y * Z).sum(dim=1)).mean()
        else:
            data = 0.5 * ((Z - Y) ** 2).sum(dim=1).mean()
        reg = sum(0.5 * float(r) * (self.params[2 * l] ** 2).sum() for l, r in enumerate(self.rho) if r > 0)
        return data + reg

    def _score(self, Z, Y) -> float:
        """The loss's score (accuracy or MSE per sample) of logits Z (m x k, torch's sample-major layout)."""
        return self.net.loss.score(Y.T, Z.T)

    # ---- evaluation ----------------------------------------------------------------------------
    def _record(self, epoch_time):
        torch = self.torch
        t0 = time.perf_counter()
        key = "acc" if self.net.loss.classification else "mse"
        rec = {"epoch": self.epoch}
        with torch.no_grad():
            if self.eval_idx is None:
                Xe, Ye = self.X, self.Y
            else:
                ii = torch.as_tensor(self.eval_idx, device=self.device)
                Xe, Ye = self.X.index_select(0, ii), self.Y.index_select(0, ii)
            J = float(self.batch_loss(Xe, Ye))
            rec["J"] = J
            rec["F"] = None  # no lifted variables in backprop
            rec[f"train_{key}"] = self._score(self.logits(Xe), Ye)
            for name, Xa, Ya in (("test", self.Xte, self.Yte), ("val", self.Xva, self.Yva)):
                if Xa is not None:
                    rec[f"{name}_{key}"] = self._score(self.logits(Xa), Ya)
        if not math.isfinite(J):
            raise TrainingDiverged(diverged_message(self.method, self.epoch, {"J": J}, "try a smaller lr"))
        rec.update(time=self.train_time, epoch_time=epoch_time, eval_time=time.perf_counter() - t0, lr=self.lr)
        self.history.append(rec)
        return rec

    def _early_stop(self, rec) -> bool:
        return early_stop_update(self.best, rec, self.net.loss.classification, self.patience,
                                 lambda: {"params": [p.detach().clone() for p in self.params]})

    # ---- checkpoints --------------------------------------------------------------------------
    def _sync_net(self):
        self.net.W = [np.array(to_numpy(self.params[2 * l].detach()), dtype=self.net.dtype) for l in range(self.net.L + 1)]
        self.net.b = [np.array(to_numpy(self.params[2 * l + 1].detach()), dtype=self.net.dtype)
                      for l in range(self.net.L + 1)]

    def save(self, path: str) -> None:
        arrays = {}
        st = self.opt.state_dict()
        for i, s in st["state"].items():
            for k, v in s.items():
                arrays[f"opt{i}_{k}"] = to_numpy(v) if self.torch.is_tensor(v) else np.asarray(v)
        if self.best["params"] is not None:
            for i, p in enumerate(self.best["params"]):
                arrays[f"best{i}"] = to_numpy(p)
        W_net, b_net = self.net.W, self.net.b
        self.net.W = [to_numpy(self.params[2 * l].detach()) for l in range(self.net.L + 1)]
        self.net.b = [to_numpy(self.params[2 * l + 1].detach()) for l in range(self.net.L + 1)]
        meta = {"kind": self.method, "epoch": self.epoch, "history": json_safe(self.history),
                "config": self.config_dict(), "data": self.fingerprint,
                "train_time": self.train_time, "lr": self.lr, "opt_keys": {str(i): list(s) for i, s in st["state"].items()},
                "best": {k: self.best[k] for k in ("score", "epoch", "bad_epochs")}}
        try:
            save_checkpoint(path, self.net, arrays, meta)
        finally:
            self.net.W, self.net.b = W_net, b_net

    def restore(self, path: str, force: bool = False) -> None:
        try:
            self._restore(path, force)
        except (KeyError, TypeError) as e:
            raise FileFormatError(f"corrupt checkpoint {path!r}: {type(e).__name__}: {e}") from None

    def _restore(self, path, force):
        torch = self.torch
        W, b, arrays, meta = load_checkpoint(path, name="resume")
        if meta.get("kind") != self.method:
            raise ValueError(f"resume: {path!r} is a {meta.get('kind')!r} checkpoint, not a {self.method!r} one")
        changes = check_resume(path, meta, self.net, self.config_dict(), self.fingerprint, self.epochs,
                               force=check_bool(force, "force_resume"))
        self.resumed = {"path": path, "epoch": int(meta["epoch"]), "changed": changes["config"],
                        "data_changed": changes["data"]}
        with torch.no_grad():
            for l in range(self.net.L + 1):
                self.params[2 * l].copy_(torch.as_tensor(W[l]))
                self.params[2 * l + 1].copy_(torch.as_tensor(b[l]))
        st = self.opt.state_dict()
        state = {}
        for i, keys in meta["opt_keys"].items():
            state[int(i)] = {}
            for k in keys:
                v = arrays[f"opt{i}_{k}"]
                ref = self.params[0]
                if k == "step":
                    state[int(i)][k] = torch.as_tensor(v, dtype=torch.float32)
                else:
                    state[int(i)][k] = torch.as_tensor(v, dtype=ref.dtype, device=ref.device)
        st["state"] = state
        self.opt.load_state_dict(st)
        self.epoch, self.history, self.train_time = int(meta["epoch"]), list(meta["history"]), float(meta["train_time"])
        self.best.update(meta["best"])
        if "best0" in arrays:
            self.best["params"] = [torch.as_tensor(arrays[f"best{i}"], device=self.device) for i in range(len(self.params))]

    # ---- loop -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _threads(self):
        """torch's intra-op threads set to ``threads`` while this run computes (restored in between, so two
        interleaved runs each keep their own setting)."""
        torch = self.torch
        old = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(int(self.threads))
        try:
            yield
        finally:
            if self.threads is not None:
                torch.set_num_threads(old)

    def run(self) -> TrainResult:
        """Train until ``epochs`` (or early stopping / a callback) and return the result."""
        for _rec in self.iterate():
            pass
        return self.result()

    def _epoch(self, n_batches, bar):
        torch = self.torch
        order = torch.as_tensor(batch_order(self.m, self.epoch, self.seed), device=self.device)
        t0 = time.perf_counter()
        for i in range(n_batches):
            idx = order[i * self.bs:(i + 1) * self.bs]
            loss = self.batch_loss(self.X.index_select(0, idx), self.Y.index_select(0, idx))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            bar.update(1)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    def iterate(self) -> Iterator[dict]:
        """Train epoch by epoch: a generator yielding each epoch's record (the initial one first when the history
        is empty), so that runs can be interleaved in one process; :meth:`result` gives the result afterwards."""
        if not self.history:
            with self._threads():
                rec = self._log(self._record(0.0))
            self._early_stop(rec)
            yield rec
        n_batches = math.ceil(self.m / self.bs)
        bar = Progress(total=(self.epochs - self.epoch) * n_batches, desc=self.method, enabled=self.progress)
        try:
            while self.epoch < self.epochs:
                with self._threads():
                    dt = self._epoch(n_batches, bar)
                    self.train_time += dt
                    self.epoch += 1
                    rec = self._log(self._record(dt))
                stop = self._early_stop(rec)
                if self.checkpoint:
                    self.save(self.checkpoint)
                self._sync_net()
                for cb in self.callbacks:
                    if cb(self.epoch, rec, self.net) is True:
                        self.interrupted = True
                self.stopped_early = bool(stop)
                yield rec
                if stop or self.interrupted:
                    break
        finally:
            bar.close()

    def result(self) -> TrainResult:
        """The :class:`TrainResult` of the run so far (best validation epoch restored when configured)."""
        torch = self.torch
        best_ok = self.restore_best and self.best["params"] is not None and not self.interrupted
        if best_ok:
            with torch.no_grad():
                for p, q in zip(self.params, self.best["params"], strict=True):
                    p.copy_(q)
        self._sync_net()
        final = final_metrics(self.history, self.best["epoch"], best_ok, keys=("J",))
        n_ep = max(1, sum(1 for r in self.history if r["epoch"] > 0))
        times = {"train_total": self.train_time, "per_epoch": self.train_time / n_ep,
                 "eval_total": float(sum(r.get("eval_time", 0.0) for r in self.history))}
        return TrainResult(net=self.net, history=self.history, config=self.config_dict(), method=self.method,
                           final=final, times=times, stopped_early=self.stopped_early, best_epoch=self.best["epoch"],
                           interrupted=self.interrupted, resumed=self.resumed)

    def config_dict(self) -> dict:
        """The run's settings (``TrainResult.config``; compared on resume)."""
        return {"method": self.method, "lr": self.lr, "epochs": self.epochs, "batch_size": self.bs,
                "momentum": self.momentum, "rho": self.rho.tolist(), "seed": self.seed, "device": str(self.device),
                "dtype": str(self.dtype).replace("torch.", ""), "threads": self.threads}

    def _log(self, rec):
        log_record(rec, f"{self.method} ", ("J", "train_acc", "val_acc", "test_acc", "train_mse", "val_mse",
                                            "test_mse"), level=verbose_level(self.verbose))
        return rec


def train_backprop(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
                   y_test: ArrayLike | None = None, *, method: str = "adam", lr: float = 1e-3, epochs: int = 10,
                   batch_size: int = 500, momentum: float = 0.0, seed: int = 0, device: str = "cpu",
                   dtype: str = "float32", threads: int | None = None, X_val: ArrayLike | None = None,
                   y_val: ArrayLike | None = None, val_fraction: float = 0.0, patience: int | None = None,
                   restore_best: bool = True, eval_samples: int | None = 10000,
                   callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
                   checkpoint: str | None = None, resume: str | None = None,
                   force_resume: bool = False) -> TrainResult:
    """Train ``net`` (its current weights are the initialisation) by SGD or Adam; same history as :func:`train`.

    ``X`` is d x m, ``y`` labels (m,) or targets k x m; ``threads`` sets torch's intra-op threads
    for the run (the benchmarks use 1); ``val_fraction``/``X_val`` give the validation set (early
    stopping with ``patience``; the best epoch's weights are restored when ``restore_best``);
    the weight decay is the network's ρ (J includes Σ ρ_l/2 ‖W_l‖²). Returns a :class:`TrainResult`
    (method "adam"/"sgd"). ``checkpoint``/``resume``/``force_resume`` as for :func:`fenchel_cvx.train` (a
    resume must match the run's settings other than ``epochs`` and its data). Inputs are validated before any
    work starts.
    """
    runner = make_backprop_trainer(net, X, y, X_test, y_test, method=method, lr=lr, epochs=epochs,
                                   batch_size=batch_size, momentum=momentum, seed=seed, device=device, dtype=dtype,
                                   threads=threads, X_val=X_val, y_val=y_val, val_fraction=val_fraction,
                                   patience=patience, restore_best=restore_best, eval_samples=eval_samples,
                                   callbacks=callbacks, verbose=verbose, progress=progress, checkpoint=checkpoint,
                                   fingerprint=resume is not None)
    if resume is not None:
        runner.restore(resume, force=force_resume)
    return runner.run()


def make_backprop_trainer(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
                          y_test: ArrayLike | None = None, *, method: str = "adam", lr: float = 1e-3,
                          epochs: int = 10, batch_size: int = 500, momentum: float = 0.0, seed: int = 0,
                          device: str = "cpu", dtype: str = "float32", threads: int | None = None,
                          X_val: ArrayLike | None = None, y_val: ArrayLike | None = None, val_fraction: float = 0.0,
                          patience: int | None = None, restore_best: bool = True, eval_samples: int | None = 10000,
                          callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
                          checkpoint: str | None = None, fingerprint: bool = False) -> BackpropTrainer:
    """The validated :class:`BackpropTrainer` of :func:`train_backprop` (same arguments), not yet run: drive it
    with ``run()`` or epoch by epoch with ``iterate()`` (interleaved comparisons). ``fingerprint``: record the
    data's fingerprint (checkpoints always do) so that a resume can check it."""
    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    _validate(method, lr, epochs, batch_size, momentum, dtype)
    check_number(val_fraction, "val_fraction", lo=0.0)
    if val_fraction >= 1:
        raise ValueError(f"val_fraction: expected a number in [0, 1), got {val_fraction!r}")
    check_seed(seed, allow_none=False)
    check_backend("torch", device)
    if checkpoint is not None:
        check_output_file(checkpoint, "checkpoint")
    data = prepare_data(net, X, y, X_test, y_test, X_val, y_val, val_fraction, seed)
    runner = BackpropTrainer(net, data, method, lr, epochs, batch_size, momentum, seed, device, dtype, threads,
                             eval_samples, patience, restore_best, callbacks, verbose, progress, checkpoint)
    if checkpoint is not None or fingerprint:
        runner.fingerprint = data_fingerprint(data)
    return runner


#: the default learning-rate grid of :func:`select_learning_rate` (log-spaced; extended past an edge that wins)
LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)


def select_learning_rate(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, lrs: Sequence[float] = LR_GRID,
                         *, method: str = "adam", val_fraction: float = 0.1, X_val: ArrayLike | None = None,
                         y_val: ArrayLike | None = None, seed: int = 0, max_extend: int = 3,
                         **kwargs: Any) -> tuple[float, dict]:
    """Pick the learning rate with the best final validation score (accuracy, or −MSE).

    Each candidate trains a copy of ``net`` (same initialisation) on the training part of a
    seeded stratified split (``val_fraction``) or on all of X with (X_val, y_val) given. A grid of
    two or more rates whose best rate is its largest (smallest) is extended by one step of the
    grid's ratio ``lrs[-1] / lrs[-2]`` (``lrs[1] / lrs[0]``) beyond that edge, and the new rate is
    trained too (when it wins alone, not on a tie), at most ``max_extend`` times: a choice on the edge of the grid means the grid was
    too small (the fair protocol of :mod:`fenchel_cvx.protocol` does the same for every method).
    A rate whose training diverges scores worst (it is left out of the results) and stops the
    extension on its side. Returns ``(best_lr, {lr: TrainResult})`` over every rate that finished.
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

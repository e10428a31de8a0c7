r"""Sample-parallel (and, where the schedule allows, layer-parallel) lifted BCD on Dask distributed.

Shapes follow the project convention: features x samples. ``X`` is d x m, the targets are labels
(m,) or a k x m array, the hidden activations X_l are n_l x m; W_l is n_{l+1} x n_l.

:func:`train_distributed` runs the **mini-batch schedule** of :func:`fenchel_cvx.train`
(module docstring there: forward pass, X-steps from X_L down to X_1, W-steps from W_0 up to W_L
with a proximal term, refresh, inertia, λ/γ continuation) on a Dask cluster -- a
``LocalCluster`` by default, any scheduler address for a real cluster -- and returns the same
:class:`~fenchel_cvx.training.TrainResult` (same history records, same checkpoints: a distributed
checkpoint resumes under :func:`fenchel_cvx.train` and vice versa).

Where the work runs
-------------------
The m training samples are cut into P contiguous shards S_1..S_P (P = ``n_shards``, default the
number of workers). Shard k is produced on a worker by a loading task whose inputs are the
shard's own columns (sent once; the scheduler keeps the task, and so the columns, for lineage),
so the data and every X_l of the shard stay on that worker, and a lost shard is *recomputed* from
its task rather than lost. Every shard task is submitted with a loose restriction to the worker
that holds the shard (looked up once per epoch), and the LocalCluster runs without work stealing,
so no data moves between workers (measured with Dask's transfer log in ``benchmarks/distributed.py``).
The driver holds only W, b (small), the optimiser state and the reduced matrices below. Per
mini-batch B = ``batch_order(m, e, seed)[s:s+m_B]`` shard k works on B ∩ S_k (in the global order):

1. forward pass and X-steps (``x_solver="apg"``: the X-blocks' fixed-budget APG, ``solve_fixed``)
   run **on the shard**: the X-blocks are separable over samples, and
   the APG iterates do not depend on the number of columns (step t = 1/L with L ∝ 1/m and
   ∇g ∝ 1/m; prox step t' = tλ/m and momentum β depend on W, λ and φ only), so each shard
   computes exactly its columns of the single-process X-steps (to rounding);
2. the W-step of layer l (``w_solver="mm"``, the majorise–minimise ridge step of
   :mod:`fenchel_cvx.blocks.mm`) needs, with X̃ = [X_l; 1ᵀ] and
   T = U_k − ∇H(U_k)/κ (both per column), only the two reductions

       G = Σ_k X̃_k X̃_kᵀ   (lower triangle, (n_l+1)(n_l+2)/2 numbers, once per batch and layer),
       R = Σ_k T_k X̃_kᵀ   (n_{l+1} x (n_l+1), once per MM step),

   computed on the shards and summed on the driver **in the fixed shard order** (so the result is
   deterministic whatever the worker that computed a part); the driver then solves the small
   system Θ (κ G + D) = κ R + Θ_c D (Cholesky of an (n_l+1)² matrix; all n_{l+1} rows -- the
   neurons -- against one factor) and broadcasts Θ; the next MM step or the refresh
   X_{l+1} ← φ(Θ X̃) is again a per-shard task. The single-process code solves in sample space
   when m_B < n_l + 1; the distributed runner always uses weight space (same minimiser to
   rounding; the sample-space system couples all columns of the batch);
3. evaluation (J, F_λ after one pass of X-steps, train/test/val accuracy or MSE) runs per shard
   of the evaluation, test and validation sets and is reduced the same way.

Rounds (driver ↔ workers round trips) per batch: Σ_l n_l^MM (``w_iters`` per hidden layer,
``last_w_iters`` for the output layer); the forward pass, the X-steps and the first reduction of
W_0 share the first round, the refresh of X_{l+1} and the first reduction of W_{l+1} share one.

What runs concurrently
----------------------
* samples: the P shard tasks of every round run at once (one per worker);
* layers: with ``refresh=True`` (the default and tuned schedule) the input of W_{l+1} is the
  re-forward through the new W_l, so the W-steps are sequential by construction; with
  ``refresh=False`` every W-block depends only on the X-steps' output, so the reductions and
  MM rounds of **all layers are submitted together** (rounds per batch = max_l n_l^MM). The
  X-steps of the mini-batch schedule are Gauss–Seidel (X_l uses the new X_{l+1}), so odd and
  even layers are *not* updated at once (that would be a different schedule); they are local
  to the shard anyway, so they need no communication;
* neurons: the rows of Θ are solved together against one Cholesky factor on the driver
  (BLAS-parallel there), not split across workers: the reduction, not the solve, bounds a round.

Fault tolerance: per-batch intermediate results are Dask futures with lineage back to the shard
loading tasks; when a worker dies mid-epoch the scheduler reschedules and recomputes what was
lost (Dask's retries, ``distributed.scheduler.allowed-failures``), the driver's reductions wait for
the recomputed parts, and since every part is computed by the same deterministic function and
summed in shard order the run ends with the same weights. Checkpoints are the ones of
:func:`fenchel_cvx.train` (``checkpoint=``, ``resume=``).

Scope: dense :class:`~fenchel_cvx.network.FenchelNetwork`, numpy backend (float32 or float64),
``schedule="minibatch"``, ``x_solver="apg"``, ``w_solver="mm"`` (the tuned default of
:func:`fenchel_cvx.training.tuned`). Anything else raises a ``ValueError`` naming the option.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np

from ..arrays import ArrayLike
from ..blocks.glm import DataTerm
from ..blocks.mm import Proximal, ridge_solve, ridge_system, split_theta
from ..blocks.w_blocks import data_term_of
from ..errors import SchedulerUnreachable
from ..log import get_logger
from ..network import FenchelNetwork
from ..validation import check_int, check_number, check_output_file
from . import shard as S
from .batches import eval_subset, prepare_data
from .cluster import connect, need_dask
from .config import BCDConfig, resolve_config
from .executor import LiftedBCDState, LiftedExecutor, Schedule
from .history import TrainResult
from .loop import Trainer

try:  # dask.distributed is optional (the `distributed` extra): only the runner needs it
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without dask
    _WorkerPlugin = object

__all__ = ["connect", "train_distributed", "DaskExecutor", "KillWorkerOnce", "SchedulerUnreachable", "SUPPORTED",
           "check_scope"]

log = get_logger("training.dask")

#: BCDConfig fields whose values the distributed runner restricts (others it supports fully)
SUPPORTED = {"schedule": ("minibatch",), "x_solver": ("apg",), "w_solver": ("mm",), "backend": ("numpy",)}
#: BCDConfig fields the distributed runner implements; any other field must keep its default
_HANDLED = {"schedule", "epochs", "batch_size", "lam", "gamma", "x_weight", "lam_growth", "lam_max",
            "gamma_growth", "momentum", "refresh", "refresh_inertia", "x_iters", "x_solver", "w_solver", "w_iters",
            "last_w_iters", "tol", "backend", "device", "dtype", "seed", "shuffle", "val_fraction", "patience",
            "restore_best", "eval_samples", "eval_f_samples", "phases"}


class KillWorkerOnce(_WorkerPlugin):
    """Fault injection (a Dask worker plugin, for tests and demonstrations): the first worker that
    finishes its ``after``-th task whose key starts with ``prefix`` is lost, once per ``marker`` file
    (created just before). ``mode="exit"``: the worker process ends itself (``os._exit``; with a
    Nanny it is restarted); ``mode="close"``: the worker is closed abruptly, without handing its data
    over (for in-process workers, ``processes=False``). Either way the scheduler reschedules and
    recomputes what the lost worker held.

    Usage: ``client.register_plugin(KillWorkerOnce("/tmp/marker", after=3))``.
    """

    name = "fenchel-kill-worker-once"

    def __init__(self, marker: str, after: int = 3, prefix: str = "fcvx-", mode: str = "exit") -> None:
        if mode not in ("exit", "close"):
            raise ValueError(f"mode: expected 'exit' or 'close', got {mode!r}")
        self.marker, self.after, self.prefix, self.mode = str(marker), int(after), str(prefix), mode
        self.count = 0
        self.worker = None

    def setup(self, worker: Any) -> None:  # noqa: D102 - WorkerPlugin protocol
        self.count = 0
        self.worker = worker

    def teardown(self, worker: Any) -> None:  # noqa: D102
        pass

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:  # noqa: D102
        name = key if isinstance(key, str) else str(key[0]) if isinstance(key, tuple) else str(key)
        if finish != "memory" or start != "executing" or not name.startswith(self.prefix):
            return
        self.count += 1
        if self.count < self.after or os.path.exists(self.marker):
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        if self.mode == "exit":
            os._exit(1)
        w = self.worker
        w.loop.add_callback(w.close, nanny=False, executor_wait=False, reason="fenchel fault injection")


# =====================================================================================
# the executor
# =====================================================================================
def _zero_comm() -> dict:
    return {"sent": 0, "received": 0, "rounds": 0, "tasks": 0}


_UID = [0]
_RUN = uuid.uuid4().hex[:8]


def _uid() -> str:
    """A task-key suffix unique across driver processes (random per process) and calls."""
    _UID[0] += 1
    return f"{_RUN}-{_UID[0]:x}"


class DaskExecutor(LiftedExecutor):
    """The step executor of the Dask runner (module docstring): the samples live in shards on the workers, the driver
    holds the state (W, b, the inertia buffers; :class:`~fenchel_cvx.training.executor.LiftedBCDState`) and the
    reduced matrices.

    ``comm`` counts, per epoch, the payload bytes sent to and received from the workers (array ``nbytes`` of
    task arguments and gathered results), the round trips and the tasks; ``comm_history`` keeps one entry
    per record ``{"epoch", "train": ..., "eval": ...}``.
    """

    def __init__(self, client: Any, n_shards: int | None = None) -> None:
        self.client = client
        self.n_shards = n_shards

    def init_state(self, net: FenchelNetwork, data: dict, cfg: BCDConfig) -> LiftedBCDState:
        if cfg.w0_subspace:  # a Trainer given this executor directly (train_distributed checks the whole scope)
            raise ValueError(f"w0_subspace: not supported by the distributed runner (keep its default 0, got "
                             f"{cfg.w0_subspace})")
        client = self.client
        self.net, self.config, self.L = net, cfg, net.L
        self.m = int(np.asarray(data["X"]).shape[1])
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ValueError("scheduler: the Dask cluster has no workers")
        P = len(workers) if self.n_shards is None else int(self.n_shards)
        if P < 1 or P > self.m:
            raise ValueError(f"n_shards: expected an integer in [1, {self.m}] (the number of training samples), got "
                             f"{P}")
        self.P = P
        client.run(S.warm_up)  # imports on every worker now, not inside the first timed batch
        self.spec = net.skeleton()
        self.comm = _zero_comm()
        self.comm_history: list = []
        dtype = np.dtype(cfg.dtype)
        self.shards = {}
        run_id = uuid.uuid4().hex[:10]
        for name, (Xa, Ya) in {"train": (data["X"], data["Y"]), "test": (data["X_test"], data["Y_test"]),
                               "val": (data["X_val"], data["Y_val"])}.items():
            if Xa is None:
                continue
            Xr = np.ascontiguousarray(np.asarray(Xa).T, dtype=dtype)  # samples as rows
            Yr = np.ascontiguousarray(np.asarray(Ya).T, dtype=dtype)
            mm = Xr.shape[0]
            bounds = np.linspace(0, mm, min(P, mm) + 1).round().astype(int)
            futs = []
            for k in range(len(bounds) - 1):
                lo, hi = int(bounds[k]), int(bounds[k + 1])
                with warnings.catch_warnings():  # the shard's columns are the task's input by design (lineage)
                    warnings.filterwarnings("ignore", message=".*large graph.*")
                    fut = client.submit(S.load_shard, Xr[lo:hi], Yr[lo:hi], cfg.dtype,
                                        key=f"fcvx-shard-{name}-{k}-{run_id}",
                                        workers=[workers[k % len(workers)]], allow_other_workers=True)
                futs.append(fut)
            self.shards[name] = (bounds, futs, (Xr.shape[1], mm))
        from distributed import wait

        wait([f for _, futs, _ in self.shards.values() for f in futs])
        self.holders: dict = {}
        self._locate()
        return self.initial_state(net, cfg, [self.to_working(w) for w in net.W], [self.to_working(v) for v in net.b])

    def to_working(self, a: Any, path: str = "") -> Any:
        """``a`` as a contiguous numpy array of the run's dtype (the driver's arrays)."""
        return np.ascontiguousarray(np.asarray(a), dtype=np.dtype(self.config.dtype))

    # ---- helpers -------------------------------------------------------------------------
    def _parts(self, name, idx):
        """[(k, local indices of idx ∩ S_k in idx's order)] for the non-empty shards of set ``name``."""
        bounds, futs, _ = self.shards[name]
        out = []
        for k in range(len(futs)):
            lo, hi = bounds[k], bounds[k + 1]
            if idx is None:
                out.append((k, None))
                continue
            sel = idx[(idx >= lo) & (idx < hi)]
            if sel.size:
                out.append((k, (sel - lo).astype(np.int64)))
        return out

    def _submit(self, fn, *args, tag, where=None):
        """Submit a shard task; ``where``: the worker holding the shard (a loose restriction: if that worker
        is lost the task may run anywhere, after its inputs are recomputed there)."""
        self.comm["sent"] += S.payload_bytes(args)
        self.comm["tasks"] += 1
        return self.client.submit(fn, *args, pure=False, key=f"fcvx-{tag}-{_uid()}",
                                  workers=None if where is None else [where], allow_other_workers=True)

    def _locate(self):
        """Which worker holds each shard now (after a failure a recomputed shard may live elsewhere)."""
        for name, (_, futs, _) in self.shards.items():
            who = self.client.who_has(futs)
            self.holders[name] = [(sorted(who.get(f.key, ())) or [None])[0] for f in futs]

    def _gather(self, states, hosts):
        """The reductions of every shard state, in shard order (one round trip)."""
        reds = [self.client.submit(S.reductions, s, pure=False, key=f"fcvx-red-{_uid()}",
                                   workers=None if w is None else [w], allow_other_workers=True)
                for s, w in zip(states, hosts)]
        out = self.client.gather(reds)
        self.comm["received"] += S.payload_bytes(out)
        self.comm["rounds"] += 1
        self.comm["tasks"] += len(reds)
        return out

    @staticmethod
    def _reduce(reds, l, G):
        """R = Σ_k R_k and (when the shards sent them) G = Σ_k G_k for layer l, summed in shard order."""
        R = None
        for red in reds:
            Gk, Rk = red[l]
            if Gk is not None:
                G = Gk.copy() if G is None else G + Gk
            R = Rk.copy() if R is None else R + Rk
        return R, G

    def _kappa(self, l, lam, m_batch):
        """κ of W-block l (the curvature bound of its data term; needs no data)."""
        return DataTerm.curvature_bound(*data_term_of(self.net, l, lam, m_batch))

    def _ridge(self, l, G, gamma, kappa, W, b):
        """Factor of κG + D and Θ_c D for layer l at its weights (W, b) (:func:`fenchel_cvx.blocks.mm.ridge_system`)."""
        return ridge_system(S.unpack_lower(G), kappa, Proximal(float(self.net.rho[l]), gamma, W, b, self.net.bias))

    # ---- one mini-batch ----------------------------------------------------------------
    def update(self, state: LiftedBCDState, idx: np.ndarray | None, schedule: Schedule) -> LiftedBCDState:
        """One batch (``idx``: global sample indices, in order); the same steps as the local executor."""
        cfg = schedule.cfg  # the phase in force
        L = self.L
        W_new, b_new = list(state.W), list(state.b)
        _, futs, _ = self.shards["train"]
        idx = np.asarray(idx)
        parts = self._parts("train", idx)
        m_batch = len(idx)
        W_pre, b_pre = state.W, state.b
        lam = np.asarray(schedule.lam, dtype=float)
        gamma = schedule.gamma
        n_it = [cfg.w_iters] * L + [cfg.last_w_iters]
        kappa = [self._kappa(l, lam, m_batch) for l in range(L + 1)]
        layered = bool(cfg.refresh) and L > 0   # refresh: W-steps in sequence; otherwise all layers at once
        opt = {"x_iters": cfg.x_iters, "x_weight": float(cfg.x_weight), "m_batch": m_batch,
               "layers": [0] if layered else list(range(L + 1))}
        hosts = [self.holders["train"][k] for k, _ in parts]
        states = [self._submit(S.batch_start, futs[k], loc, self.spec, W_pre, b_pre, lam, opt, tag="start", where=w)
                  for (k, loc), w in zip(parts, hosts)]
        reds = self._gather(states, hosts)
        if layered:
            for l in range(L + 1):
                G = fac = Theta = None
                for it in range(n_it[l]):
                    if it > 0:
                        states = [self._submit(S.mm_round, s, self.spec, {l: Theta}, lam, m_batch, tag="mm",
                                               where=w) for s, w in zip(states, hosts)]
                        reds = self._gather(states, hosts)
                    R, G = self._reduce(reds, l, G)
                    if fac is None:
                        fac = self._ridge(l, G, float(gamma[l]), kappa[l], W_new[l], b_new[l])
                    Theta = ridge_solve(fac[0], kappa[l] * R + fac[1])
                post = self._set_layer(l, Theta, cfg, state.mom, W_new, b_new)
                if l < L:
                    post = post if cfg.refresh_inertia else None
                    states = [self._submit(S.advance, s, self.spec, l, Theta, post, W_new[l + 1], b_new[l + 1],
                                           lam, m_batch, tag="advance", where=w) for s, w in zip(states, hosts)]
                    reds = self._gather(states, hosts)
        else:
            G, fac, Theta = [None] * (L + 1), [None] * (L + 1), [None] * (L + 1)
            for it in range(max(n_it)):
                active = [l for l in range(L + 1) if it < n_it[l]]
                if it > 0:
                    thetas = {l: Theta[l] for l in active}
                    states = [self._submit(S.mm_round, s, self.spec, thetas, lam, m_batch, tag="mm", where=w)
                              for s, w in zip(states, hosts)]
                    reds = self._gather(states, hosts)
                for l in active:
                    R, G[l] = self._reduce(reds, l, G[l])
                    if fac[l] is None:
                        fac[l] = self._ridge(l, G[l], float(gamma[l]), kappa[l], W_new[l], b_new[l])
                    Theta[l] = ridge_solve(fac[l][0], kappa[l] * R + fac[l][1])
            for l in range(L + 1):
                self._set_layer(l, Theta[l], cfg, state.mom, W_new, b_new)
        del states
        mom = state.mom
        if cfg.momentum > 0:
            mom = [(W_new[l] - W_pre[l], b_new[l] - b_pre[l]) for l in range(L + 1)]
        return dataclasses.replace(state, W=W_new, b=b_new, mom=mom)

    def _set_layer(self, l, Theta, cfg, mom, W, b):
        """W[l], b[l] ← Θ (+ inertia β(W^pre − W^prev-batch) from ``mom``); returns (W_l, b_l) if inertia moved
        them, else None."""
        Wl, bl = split_theta(Theta, self.net.bias)
        moved = None
        if cfg.momentum > 0 and mom[l] is not None:
            dW, db = mom[l]
            Wl, bl = Wl + cfg.momentum * dW, bl + cfg.momentum * db
            moved = (Wl, bl)
        W[l], b[l] = Wl, bl
        return moved

    # ---- evaluation ----------------------------------------------------------------------
    def _reduce_eval(self, name, idx, lifted, lam, cfg, W, b):
        _, futs, _ = self.shards[name]
        opt = {"lifted": lifted, "x_iters": cfg.x_iters}
        parts = self._parts(name, idx)
        fs = [self._submit(S.eval_shard, futs[k], loc, self.spec, list(W), list(b), lam, opt, tag="eval",
                           where=self.holders[name][k]) for k, loc in parts]
        out = self.client.gather(fs)
        self.comm["received"] += sum(8 * (3 + len(o.get("div", ()))) for o in out)  # a few float64 scalars
        self.comm["rounds"] += 1
        return out

    def evaluate(self, state: LiftedBCDState, schedule: Schedule, eval_idx: np.ndarray | None) -> dict:
        train_comm, self.comm = self.comm, _zero_comm()
        self._locate()  # once per epoch: where the shards are now
        lam = np.asarray(schedule.lam, dtype=float)
        net = self.net
        rec = {}
        cfg = schedule.cfg
        me_all = self.m if eval_idx is None else len(eval_idx)
        sub = eval_subset(me_all, cfg.eval_f_samples, cfg.seed + 1) if self.L else None
        W, b = state.W, state.b
        outs = self._reduce_eval("train", eval_idx, bool(self.L) and sub is None, lam, cfg, W, b)
        me = sum(o["m"] for o in outs)
        rec["J"] = sum(o["loss"] for o in outs) / me + net.regulariser(W)
        key = net.loss.metric
        rec[f"train_{key}"] = sum(o["score"] for o in outs) / me
        if self.L:
            if sub is not None:  # F_λ on the seeded subset of the evaluation samples (as the local executor)
                f_idx = sub if eval_idx is None else np.asarray(eval_idx)[sub]
                outs = self._reduce_eval("train", f_idx, True, lam, cfg, W, b)
                me = sum(o["m"] for o in outs)
            divs = [sum(o["div"][l] for o in outs) for l in range(self.L)]
            rec["F"] = net.lifted_from_sums(sum(o["F_loss"] for o in outs), divs, me, lam, W)
        else:
            rec["F"] = rec["J"]
        for name in ("test", "val"):
            if name in self.shards:
                outs = self._reduce_eval(name, None, False, lam, cfg, W, b)
                rec[f"{name}_{key}"] = sum(o["score"] for o in outs) / sum(o["m"] for o in outs)
        self.comm_history.append({"epoch": schedule.epoch, "train": train_comm, "eval": self.comm})
        self.comm = _zero_comm()
        return rec

    def close(self) -> None:
        """Drop the shard futures (the workers free the data)."""
        for _, futs, _ in self.shards.values():
            for f in futs:
                f.release()
        self.shards = {}


# =====================================================================================
# the entry point
# =====================================================================================
def check_scope(net: FenchelNetwork, cfg: BCDConfig) -> None:
    """Refuse what the distributed runner does not implement (ValueError naming the option) -- before connecting."""
    if getattr(net, "maps", None) is not None or type(net) is not FenchelNetwork:
        raise ValueError(f"net: the distributed runner trains dense FenchelNetworks only, got {type(net).__name__}")
    for name, allowed in SUPPORTED.items():
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"{name}: the distributed runner supports {name} in {allowed} only, "
                             f"got {getattr(cfg, name)!r} (use fenchel_cvx.train)")
    default = BCDConfig()
    for f in fields(BCDConfig):
        if f.name not in _HANDLED and getattr(cfg, f.name) != getattr(default, f.name):
            raise ValueError(f"{f.name}: not supported by the distributed runner (keep its default "
                             f"{getattr(default, f.name)!r}, got {getattr(cfg, f.name)!r})")
    for i, ph in enumerate(cfg.phases or ()):
        phase_cfg = cfg.at_epoch(ph["epoch"])
        for k in ph:
            if k in SUPPORTED and getattr(phase_cfg, k) not in SUPPORTED[k]:
                raise ValueError(f"phases[{i}]: the distributed runner supports {k} in {SUPPORTED[k]} only, "
                                 f"got {ph[k]!r}")
            if k != "epoch" and k not in _HANDLED:
                raise ValueError(f"phases[{i}]: {k!r} is not supported by the distributed runner")


def train_distributed(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
                      y_test: ArrayLike | None = None,
                      config: BCDConfig | dict | None = None, *, scheduler: Any = None, n_workers: int = 2,
                      n_shards: int | None = None, X_val: ArrayLike | None = None, y_val: ArrayLike | None = None,
                      callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
                      checkpoint: str | None = None, checkpoint_every: int = 1, resume: str | None = None,
                      force_resume: bool = False, connect_timeout: float = 5.0, **overrides: Any) -> TrainResult:
    """Train ``net`` by mini-batch lifted BCD on a Dask cluster (module docstring); returns a TrainResult.

    Same arguments and result as :func:`fenchel_cvx.train` (X is d x m, features x samples;
    y labels (m,) or targets k x m), plus

    scheduler : None or ``"local"`` (a LocalCluster of ``n_workers`` single-threaded worker
                processes, closed at the end), a scheduler address (``"tcp://host:8786"``), or a
                ``distributed.Client`` (used, not closed)
    n_workers : workers of the LocalCluster (ignored for an address or a Client)
    n_shards  : number of sample shards (default: the number of workers)
    connect_timeout : seconds (> 0) before an unreachable or silent scheduler address raises
                ``SchedulerUnreachable`` (a ``ConnectionError``)

    The result carries ``result.distributed``: scheduler address, workers, shards and, per epoch,
    the payload bytes sent/received by the driver and the round trips (``comm``).
    Everything (config, scope, data, output paths, connect_timeout) is validated before connecting.
    """
    cfg = resolve_config(net, config, overrides, "train_distributed")
    check_scope(net, cfg)
    check_number(connect_timeout, "connect_timeout", lo=0.0, strict=True)
    check_int(checkpoint_every, "checkpoint_every", 1)
    if checkpoint is not None:
        check_output_file(checkpoint, "checkpoint")
    if n_shards is not None and (isinstance(n_shards, bool) or not isinstance(n_shards, (int, np.integer))
                                 or n_shards < 1):
        raise ValueError(f"n_shards: expected a positive integer or None, got {n_shards!r}")
    data = prepare_data(net, X, y, X_test, y_test, X_val, y_val, cfg.val_fraction, cfg.seed)
    need_dask()
    from distributed import Client

    own = not isinstance(scheduler, Client)
    client = connect(scheduler, n_workers=n_workers, timeout=connect_timeout)
    executor = None
    try:
        executor = DaskExecutor(client, n_shards=n_shards)
        trainer = Trainer(net, data, cfg, executor=executor, callbacks=callbacks, verbose=verbose,
                          progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                          force_resume=force_resume)
        del data
        t0 = time.perf_counter()
        res = trainer.run()
        res.distributed = {"scheduler": client.scheduler.address, "n_workers": len(client.scheduler_info()["workers"]),
                           "n_shards": executor.P, "comm": executor.comm_history,
                           "wall": time.perf_counter() - t0}
        return res
    finally:
        if executor is not None and getattr(executor, "shards", None):
            try:
                executor.close()
            except Exception:  # noqa: BLE001 - best effort on shutdown
                pass
        if own:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        log.debug("distributed: closed")

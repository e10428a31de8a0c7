r"""The step executors: where the numerical work of training runs, with its state as a value.

The training loop (:class:`fenchel_cvx.training.loop.Trainer`) only schedules: epochs, batch order,
evaluation records, early stopping, checkpoints, callbacks. Everything that touches the data and the
weights is done by a :class:`StepExecutor`, in the style of jaxopt's and optax's ``init_state``/``update``
pair: the executor holds what never changes during a run (the data where it is placed, the network's
structure, the configuration), and the state that training changes is a value (an :class:`ExecutorState`
dataclass) that the loop passes in and receives back:

* ``state = executor.init_state(net, data, config)`` places the data (numpy/torch arrays on a device, or
  sample shards on Dask workers) and returns the initial state (the network's weights in the working
  backend and dtype, and the optimiser's arrays);
* ``state = executor.update(state, idx, schedule)`` runs one mini-batch on the training samples ``idx``
  (global indices, in order), or, with ``idx=None``, one full-batch sweep;
* ``executor.evaluate(state, schedule, eval_idx)`` returns the per-epoch record (J, F, scores);
* ``executor.schedule(state, epoch)`` gives the per-epoch parameters (:class:`Schedule`) and
  ``executor.start_phase(state)`` the state a new phase of the configuration starts from.

Every state has the working weights ``W`` and ``b`` (lists of L+1 arrays: W_l is n_{l+1} x n_l, b_l is
(n_{l+1},); conv layers: the kernel's shape). A checkpoint stores the weights as ``W{l}``/``b{l}`` and the
rest of the state field by field (:func:`flatten_state` / :func:`unflatten_state`): one format for every
executor. ``update`` may reuse the arrays of the state it is given (torch's optimisers step in place); the
state it returns is the one to keep.

Three executors implement the interface: :class:`fenchel_cvx.training.local.LocalExecutor` (lifted BCD in
one process, numpy or torch) and :class:`fenchel_cvx.training.dask.DaskExecutor` (lifted BCD on sample
shards of a Dask cluster), both through :class:`LiftedExecutor` (the λ/γ schedule of
:func:`fenchel_cvx.training.config.lifted_schedule`, one state class :class:`LiftedBCDState`, so a
checkpoint of one resumes under the other), and :class:`fenchel_cvx.training.backprop.BackpropExecutor`
(SGD or Adam in torch).
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import is_torch, to_numpy
from ..errors import FileFormatError
from ..validation import per_layer
from .config import lifted_schedule

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..network import FenchelNetwork
    from .config import BCDConfig

__all__ = ["StepExecutor", "LiftedExecutor", "Schedule", "ExecutorState", "LiftedBCDState", "flatten_state",
           "unflatten_state", "copy_array"]


@dataclass
class Schedule:
    """The per-epoch parameters a step needs: the configuration in force ``cfg`` (the run's config with the
    current phase applied, :meth:`BCDConfig.at_epoch`), the number of epochs completed ``epoch`` (0 during the
    first epoch; the record's epoch in :meth:`StepExecutor.evaluate`) and ``batches_per_epoch``. Lifted BCD
    adds λ (L,) and γ (L+1,) in use, the adaptive W-step sizes ``w_lr`` (L+1,) and the MM curvature scales
    ``w_curvature`` (L+1,); backprop leaves them None."""

    cfg: Any
    epoch: int = 0
    batches_per_epoch: int = 1
    lam: np.ndarray | None = None
    gamma: np.ndarray | None = None
    w_lr: np.ndarray | None = None
    w_curvature: np.ndarray | None = None


@dataclass
class ExecutorState:
    """The part of a run that training changes: the working weights ``W``, ``b`` (lists of L+1 arrays in the
    executor's backend and dtype); subclasses add the optimiser's arrays."""

    W: list
    b: list


@dataclass
class LiftedBCDState(ExecutorState):
    """The state of lifted BCD (local and Dask alike): the weights, the schedule's starting values ``lam0``
    (L,) and ``gamma0`` (L+1,), the inertia buffers ``mom`` (per layer None or (W_pre − W_prev-batch,
    b_pre − b_prev-batch)), the adaptive W-steps' moments ``adaptive`` (one
    :class:`~fenchel_cvx.blocks.adaptive.AdaptiveState` per layer) and the full-batch lifted state ``hidden``
    ([X_1..X_L], n_l x m; None for the mini-batch schedule)."""

    lam0: np.ndarray = None
    gamma0: np.ndarray = None
    mom: list = field(default_factory=list)
    adaptive: list = field(default_factory=list)
    hidden: list | None = None


class StepExecutor(abc.ABC):
    """Base class of the executors (module docstring). After :meth:`init_state`, ``m`` is the number of
    training samples and ``config`` the run's configuration (``epochs``, ``schedule``, ``batch_size``,
    ``seed``, ``shuffle``, ``eval_samples``, ``patience``, ``restore_best``, ``to_dict()``)."""

    #: the checkpoint kind: a checkpoint resumes only under an executor of the same kind
    kind: str = ""
    #: ``TrainResult.method``
    method: str = ""
    #: the progress bar's and the log lines' name
    label: str = ""
    #: what a diverged run should try (the TrainingDiverged message)
    diverged_hint: str = ""
    #: the record fields printed per epoch
    log_keys: tuple = ("J", "train_acc", "val_acc", "test_acc", "train_mse", "val_mse", "test_mse")
    #: the fields of the final record kept in ``TrainResult.final`` besides the scores
    final_keys: tuple = ("J",)
    m: int
    config: Any

    @abc.abstractmethod
    def init_state(self, net: FenchelNetwork, data: dict, config: Any) -> ExecutorState:
        """Place the data (dict of :func:`fenchel_cvx.training.batches.prepare_data`) and return the initial
        state (the network's weights in the working backend and dtype)."""

    @abc.abstractmethod
    def update(self, state: ExecutorState, idx: np.ndarray | None, schedule: Schedule) -> ExecutorState:
        """One mini-batch on the training samples ``idx`` (global indices, in order), or, with ``idx=None``
        (full-batch schedule), one sweep over all samples; returns the new state."""

    @abc.abstractmethod
    def evaluate(self, state: ExecutorState, schedule: Schedule, eval_idx: np.ndarray | None) -> dict:
        """The record of ``state``'s weights: J, F (None where the method has no lifted variables),
        train/test/val scores (``*_acc`` or ``*_mse``)."""

    @abc.abstractmethod
    def to_working(self, a: np.ndarray, path: str) -> Any:
        """The numpy array ``a`` of a checkpoint as a working array of this executor (backend, dtype, device);
        ``path`` names the state field it belongs to (``"W"``, ``"b"``, ``"mom.0.1"``, ...)."""

    def schedule(self, state: ExecutorState, epoch: int) -> Schedule:
        """The parameters of the epoch after ``epoch`` completed ones (the base: the configuration alone)."""
        return Schedule(self.config, epoch)

    def record_fields(self, schedule: Schedule) -> dict:
        """Fields a record adds after its timings (the lifted executors: λ, γ and the phase)."""
        return {}

    def start_phase(self, state: ExecutorState) -> ExecutorState:
        """The state a new phase of the configuration starts from (:attr:`BCDConfig.phases`; the base: the same)."""
        return state

    def resume_state(self, saved: ExecutorState, fresh: ExecutorState, changed: dict) -> ExecutorState:
        """The state to continue from: ``saved`` (read from a checkpoint) given the initial state ``fresh`` of
        this run and the configuration fields ``changed`` by a forced resume (the base: ``saved``)."""
        return saved

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """A context the executor's work runs in (the backprop executor: torch's intra-op threads)."""
        yield

    def synchronize(self) -> None:  # noqa: B027 - optional hook: most executors have nothing queued
        """Wait for queued device work (timings)."""

    def close(self) -> None:  # noqa: B027 - optional hook: most executors hold nothing to release
        """Release what the executor holds (workers' data)."""


class LiftedExecutor(StepExecutor):
    """The part of lifted BCD shared by the local and the Dask executor: the λ/γ schedule
    (:func:`~fenchel_cvx.training.config.lifted_schedule`), the record's λ/γ/phase fields, the phase reset of
    the optimiser state and the resume of the schedule's starting values."""

    kind = "lifted"
    method = "fenchel"
    label = "lifted BCD"
    diverged_hint = "try a larger gamma or smaller x_weight"
    log_keys = ("F",) + StepExecutor.log_keys
    final_keys = ("J", "F")

    def initial_state(self, net: FenchelNetwork, cfg: BCDConfig, W: list, b: list,
                      hidden: list | None = None) -> LiftedBCDState:
        """The state at the start of a run: the weights ``W``, ``b`` (working arrays), λ_0 (the config's, or the
        network's λ) and γ_0, no inertia, fresh adaptive moments, the full-batch lifted state ``hidden``."""
        from ..blocks.adaptive import AdaptiveState

        L = net.L
        lam0 = np.array(net.lam if cfg.lam is None else per_layer(cfg.lam, L, "lam"), dtype=float)
        gamma0 = np.array(per_layer(cfg.gamma, L + 1, "gamma"), dtype=float)
        return LiftedBCDState(W=W, b=b, lam0=lam0, gamma0=gamma0, mom=[None] * (L + 1),
                              adaptive=[AdaptiveState() for _ in range(L + 1)], hidden=hidden)

    def schedule(self, state: LiftedBCDState, epoch: int) -> Schedule:
        """λ, γ and the configuration of the epoch after ``epoch`` completed ones
        (:func:`~fenchel_cvx.training.config.lifted_schedule` from the state's λ_0, γ_0), with the per-layer
        ``w_lr`` and ``w_curvature`` (L+1,)."""
        cfg, lam, gamma = lifted_schedule(self.config, epoch, state.lam0, state.gamma0)
        n = len(state.gamma0)
        return Schedule(cfg, epoch, self.batches_per_epoch, lam=lam, gamma=gamma,
                        w_lr=np.asarray(per_layer(cfg.w_lr, n, "w_lr"), dtype=float),
                        w_curvature=np.asarray(per_layer(cfg.w_curvature, n, "w_curvature"), dtype=float))

    def record_fields(self, schedule: Schedule) -> dict:
        """λ (L,) and γ (L+1,) of the epoch as lists, and the phase index when the config has phases."""
        out = {"lam": schedule.lam.tolist(), "gamma": schedule.gamma.tolist()}
        if self.config.phases:
            out["phase"] = self.config.phase_index(max(schedule.epoch - 1, 0))
        return out

    def start_phase(self, state: LiftedBCDState) -> LiftedBCDState:
        """``state`` without inertia buffers and with fresh adaptive moments (a phase starts afresh)."""
        from ..blocks.adaptive import AdaptiveState

        n = len(state.W)
        return dataclasses.replace(state, mom=[None] * n, adaptive=[AdaptiveState() for _ in range(n)])

    def resume_state(self, saved: LiftedBCDState, fresh: LiftedBCDState, changed: dict) -> LiftedBCDState:
        """The checkpoint's state; a forced resume that changes ``lam``/``gamma`` starts the schedule from the
        new config's λ_0/γ_0."""
        if "lam" in changed:
            saved = dataclasses.replace(saved, lam0=fresh.lam0)
        if "gamma" in changed:
            saved = dataclasses.replace(saved, gamma0=fresh.gamma0)
        return saved

    @property
    def batches_per_epoch(self) -> int:
        """⌈m / batch size⌉ for the mini-batch schedule, 1 for full batch (the adaptive steps' warm-up unit)."""
        cfg = self.config
        if cfg.schedule != "minibatch":
            return 1
        bs = self.m if cfg.batch_size is None else min(cfg.batch_size, self.m)
        return -(-self.m // bs)


# ---- the state as checkpoint arrays -------------------------------------------------------------------
def copy_array(a: Any) -> Any:
    """A copy of a numpy array or torch tensor (detached from autograd)."""
    return a.detach().clone() if is_torch(a) else np.array(a, copy=True)


def flatten_state(state: ExecutorState, skip: tuple = ("W", "b")) -> tuple[dict, dict]:
    """``state`` as ``(tree, arrays)``: ``arrays`` maps a dotted path (``"mom.0.1"``) to a numpy array, and
    ``tree`` (JSON) describes the structure -- dataclasses by class name and fields, lists, tuples, dicts with
    string keys, None, numbers and strings -- with each array as ``{"array": path}``. The top-level fields in
    ``skip`` are left out (the checkpoint stores the weights as ``W{l}``/``b{l}``)."""
    arrays: dict = {}

    def walk(obj, path):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return {"value": obj}
        if isinstance(obj, (np.integer, np.floating)):
            return {"value": obj.item()}
        if isinstance(obj, np.ndarray) or is_torch(obj):
            arrays[path] = np.asarray(to_numpy(obj))
            return {"array": path}
        if dataclasses.is_dataclass(obj):
            return {"dataclass": type(obj).__name__,
                    "fields": {f.name: walk(getattr(obj, f.name), _join(path, f.name)) for f in dataclasses.fields(obj)
                               if not (path == "" and f.name in skip)}}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [walk(v, _join(path, str(i))) for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            return {"dict": {str(k): walk(v, _join(path, str(k))) for k, v in obj.items()}}
        raise TypeError(f"state: cannot store a {type(obj).__name__} at {path or 'the top'!r}")

    return walk(state, ""), arrays


def unflatten_state(tree: dict, arrays: dict, convert: Callable[[np.ndarray, str], Any], template: ExecutorState,
                    **top: Any) -> ExecutorState:
    """Inverse of :func:`flatten_state`: arrays go through ``convert(array, path)``; dataclass names are those
    found in ``template`` (a state of the executor that reads it); ``top`` gives the skipped top-level fields.
    A missing array or an unknown class raises :class:`~fenchel_cvx.errors.FileFormatError`."""
    types: dict = {}

    def collect(obj):
        if dataclasses.is_dataclass(obj):
            types[type(obj).__name__] = type(obj)
            for f in dataclasses.fields(obj):
                collect(getattr(obj, f.name))
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                collect(v)
        elif isinstance(obj, dict):
            for v in obj.values():
                collect(v)

    collect(template)

    def build(node, top_level=False):
        if not isinstance(node, dict) or len(node) not in (1, 2):
            raise FileFormatError(f"state: unreadable entry {node!r}")
        if "value" in node:
            return node["value"]
        if "array" in node:
            if node["array"] not in arrays:
                raise FileFormatError(f"state: missing array {node['array']!r}")
            return convert(arrays[node["array"]], node["array"])
        if "dataclass" in node:
            cls = types.get(node["dataclass"])
            if cls is None:
                raise FileFormatError(f"state: a {node['dataclass']!r} is not a state of this executor")
            kw = {k: build(v) for k, v in node["fields"].items()}
            if top_level:
                kw.update(top)
            return cls(**kw)
        if "list" in node:
            return [build(v) for v in node["list"]]
        if "tuple" in node:
            return tuple(build(v) for v in node["tuple"])
        if "dict" in node:
            return {k: build(v) for k, v in node["dict"].items()}
        raise FileFormatError(f"state: unreadable entry {node!r}")

    return build(tree, top_level=True)


def _join(path: str, name: str) -> str:
    return name if not path else f"{path}.{name}"

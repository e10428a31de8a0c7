r"""The backprop executor: the same network trained by SGD or Adam in torch, driven by the one training loop.

Same architecture, initialisation (the weights of the network passed in), data, validation split, batch
order (:func:`fenchel_cvx.training.batches.batch_order`), history format and checkpoints as lifted BCD:
:class:`~fenchel_cvx.training.loop.Trainer` drives :class:`BackpropExecutor` as it drives the lifted
executors. Shapes: data X is d x m (features x samples); torch's layers see the samples as rows (m x d).

The mini-batch objective is the standard one, J_B(W) = ℓ(Y_B, Z_B)/m_B + Σ_l ρ_l/2 ‖W_l‖² (ℓ summed over the
batch; cross-entropy or squared loss; ρ the network's weight decay), minimised by ``torch.optim.SGD``
(optional momentum) or ``torch.optim.Adam``. The state (:class:`BackpropState`) is the weights and the
optimiser's per-parameter state (Adam's moments and step count, SGD's momentum buffers); the torch optimiser
object only performs the step. The user-facing functions are in :mod:`fenchel_cvx.baselines`.

The first layer in a subspace (``BackpropConfig(w0_subspace=k)``, dense networks only; the backprop control of
the lifted ``BCDConfig(w0_subspace=k)``, :mod:`fenchel_cvx.training.subspace`). The first layer is parametrised

    W₀ = W₀_base + D E_kᵀ        (n₁ x d = n₁ x d + (n₁ x k)(k x d)),

E_k (d x k, orthonormal columns) the top-k principal directions of the training inputs the trainer is given
(:func:`~fenchel_cvx.training.subspace.principal_directions`, the lifted option's function and inputs; recomputed
on resume, not checkpointed), W₀_base the initial W₀ (fixed) and D (n₁ x k) trainable, starting at 0. The
optimiser steps D instead of W₀ (b₀ and the other layers as usual), so W₀ − W₀_base stays in span E_k. The
objective is unchanged: J_B with ρ₀/2 ‖W₀‖² on the effective W₀ (its gradient in D is ∇_{W₀}J_B E_k).
``state.W[0]`` holds the effective W₀ after every step (records, best epoch, export); ``state.sub`` holds D and
W₀_base (checkpointed: a resume continues bit-identically). Without ``w0_subspace`` nothing of this runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import ResumeMismatch
from ..log import get_logger
from ..validation import check_choice, check_int, check_number, check_seed, per_layer
from .executor import ExecutorState, Schedule, StepExecutor

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..network import FenchelNetwork

__all__ = ["METHODS", "BackpropConfig", "BackpropState", "BackpropExecutor"]

METHODS = ("sgd", "adam")

log = get_logger("training")


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - torch is in the `torch` extra
        raise ImportError("the backprop baselines need torch: pip install 'fenchel-cvx[torch]'") from e
    return torch


@dataclass
class BackpropConfig:
    """The settings of a backprop run: ``method`` ("sgd"/"adam"), learning rate ``lr``, ``epochs``,
    ``batch_size``, SGD ``momentum`` ∈ [0, 1), ``seed`` (batch order), torch ``device`` and ``dtype``,
    intra-op ``threads`` (None: torch's setting), ``eval_samples`` (the seeded training subset of the per-epoch
    J and train score), early stopping (``patience``, ``restore_best``), ``rho``, the network's weight decay
    recorded in the result (the run uses the network's ρ), and ``w0_subspace`` (None, or k in 1..d: the first
    layer's change restricted to the inputs' top-k principal directions, dense networks only; module docstring)."""

    method: str = "adam"
    lr: float = 1e-3
    epochs: int = 10
    batch_size: int = 500
    momentum: float = 0.0
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    eval_samples: int | None = 10000
    patience: int | None = None
    restore_best: bool = True
    shuffle: bool = True
    rho: list = field(default_factory=list)
    w0_subspace: int | None = None
    #: backprop has one schedule (mini-batches) and no phases
    schedule: ClassVar[str] = "minibatch"
    phases: ClassVar[None] = None

    def validate(self, net: Any = None) -> BackpropConfig:
        """Check every field (raises ValueError/TypeError naming it); returns self."""
        check_choice(self.method, "method", METHODS)
        check_number(self.lr, "lr", lo=0.0, strict=True)
        check_int(self.epochs, "epochs", 0)
        check_int(self.batch_size, "batch_size", 1)
        check_number(self.momentum, "momentum", lo=0.0)
        if self.momentum >= 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum!r}")
        check_choice(self.dtype, "dtype", ("float32", "float64"))
        check_seed(self.seed, allow_none=False)
        if self.eval_samples is not None:
            check_int(self.eval_samples, "eval_samples", 1)
        if self.patience is not None:
            check_int(self.patience, "patience", 1)
        if self.w0_subspace is not None:
            k = check_int(self.w0_subspace, "w0_subspace", 1)
            if net is not None and getattr(net, "maps", None) is not None:
                raise ValueError("w0_subspace: not supported for convolutional networks (dense networks only)")
            if net is not None and k > net.sizes[0]:
                raise ValueError(f"w0_subspace: expected 1 <= k <= d = {net.sizes[0]} (the input dimension), "
                                 f"got {k}")
        return self

    def to_dict(self) -> dict:
        """The run's settings (``TrainResult.config``; compared on resume: a changed ``w0_subspace`` needs a forced
        resume)."""
        return {"method": self.method, "lr": float(self.lr), "epochs": int(self.epochs),
                "batch_size": int(self.batch_size), "momentum": float(self.momentum),
                "rho": [float(r) for r in self.rho], "seed": int(self.seed), "device": str(self.device),
                "dtype": self.dtype, "threads": self.threads,
                "w0_subspace": None if self.w0_subspace is None else int(self.w0_subspace)}


@dataclass
class BackpropState(ExecutorState):
    """The weights ``W``, ``b`` (torch leaf tensors) and ``opt``, the optimiser's state of each trainable
    tensor (in the order W_0, b_0, W_1, ...; biases only when the network has them; D in place of W_0 with
    ``w0_subspace``): a dict of tensors (Adam: ``step``, ``exp_avg``, ``exp_avg_sq``; SGD with momentum:
    ``momentum_buffer``), empty before the first step; ``sub``: with ``w0_subspace``, ``{"D": n₁ x k (trained),
    "W0_base": n₁ x d}`` (W_0 = W0_base + D E_kᵀ, module docstring), else None."""

    opt: list = field(default_factory=list)
    sub: dict | None = None


class BackpropExecutor(StepExecutor):
    """SGD or Adam on the network's torch twin (module docstring); ``config`` is a :class:`BackpropConfig`."""

    diverged_hint = "try a smaller lr"
    final_keys = ("J",)

    # ---- placement -----------------------------------------------------------------------
    def init_state(self, net: FenchelNetwork, data: dict, cfg: BackpropConfig) -> BackpropState:
        torch = self.torch = _torch()
        self.net, self.config = net, cfg
        self.kind = self.method = self.label = cfg.method
        self.device, self.dtype = torch.device(cfg.device), getattr(torch, cfg.dtype)
        self.rho = per_layer(net.rho, net.L + 1, "rho")  # the network's weight decay (the one source of truth)
        rows = lambda a: None if a is None else torch.as_tensor(np.ascontiguousarray(np.asarray(a).T),  # noqa: E731
                                                                dtype=self.dtype, device=self.device)
        self.X, self.Y = rows(data["X"]), rows(data["Y"])
        self.Xte, self.Yte = rows(data["X_test"]), rows(data["Y_test"])
        self.Xva, self.Yva = rows(data["X_val"]), rows(data["Y_val"])
        self.m = self.X.shape[0]
        self.module, self.names = None, None
        if getattr(net, "maps", None) is not None:
            # a conv network (fenchel_cvx.conv): the network as torch.nn layers, called with the state's tensors
            self.module = net.torch_module(device=self.device, dtype=cfg.dtype)
            self.names = [(f"{i}.weight", None if mod.bias is None else f"{i}.bias")
                          for i, mod in enumerate(self.module) if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
            self.has_bias = [bn is not None for _, bn in self.names]
            W = [self.to_working(dict(self.module.named_parameters())[wn], "W") for wn, _ in self.names]
        else:
            self.has_bias = [bool(net.bias)] * (net.L + 1)
            W = [self.to_working(w, "W") for w in net.W]
        b = [self._bias(v, l) for l, v in enumerate(net.b)]
        sub, self.E = None, None
        if cfg.w0_subspace is not None:  # E_k of the training inputs (derived from the data, recomputed on resume)
            from .subspace import principal_directions

            self.E = self.to_working(principal_directions(self.X.T, int(cfg.w0_subspace)), "E")
            sub = self._fresh_sub(W[0])
        trainable = self._trainable(W, b, sub)
        if cfg.method == "adam":
            self.opt = torch.optim.Adam(trainable, lr=float(cfg.lr))
        else:
            self.opt = torch.optim.SGD(trainable, lr=float(cfg.lr), momentum=float(cfg.momentum))
        self.bound = trainable
        return BackpropState(W=W, b=b, opt=[{} for _ in trainable], sub=sub)

    def to_working(self, a: Any, path: str = "") -> Any:
        """``a`` as a tensor of the run: the optimiser's step counts as float32 on the CPU (torch's convention),
        everything else in the run's dtype and device; weights (``"W"``, ``"b"``) as fresh leaf tensors
        that require gradients (biases only when the layer has one), and so is ``"sub.D"`` (w0_subspace)."""
        torch = self.torch
        if path.endswith(".step"):
            return torch.as_tensor(np.asarray(a), dtype=torch.float32)
        if path == "sub.D":
            return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device).clone().requires_grad_(True)
        if path in ("W", "b"):
            t = a.detach() if torch.is_tensor(a) else torch.as_tensor(np.asarray(a))
            return t.to(dtype=self.dtype, device=self.device).clone().requires_grad_(path == "W" or
                                                                                     any(self.has_bias))
        return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    def _bias(self, v, l):
        t = self.to_working(v, "b")
        return t if self.has_bias[l] else t.detach()

    def _trainable(self, W, b, sub=None) -> list:
        out = []
        for l, (w, v) in enumerate(zip(W, b, strict=True)):
            out.append(w if (l or sub is None) else sub["D"])
            if self.has_bias[l]:
                out.append(v)
        return out

    # ---- w0_subspace: W_0 = W0_base + D E_kᵀ ---------------------------------------------------------
    def _fresh_sub(self, W0) -> dict:
        """D = 0 (n₁ x k, trainable) and W0_base = ``W0`` (a detached copy)."""
        torch = self.torch
        D = torch.zeros(W0.shape[0], self.E.shape[1], dtype=self.dtype, device=self.device).requires_grad_(True)
        return {"D": D, "W0_base": W0.detach().clone()}

    def _effective_w0(self, sub) -> Any:
        """W_0 = W0_base + D E_kᵀ (differentiable in D where autograd records)."""
        return sub["W0_base"] + sub["D"] @ self.E.T

    def resume_state(self, saved: BackpropState, fresh: BackpropState, changed: dict) -> BackpropState:
        """The checkpoint's state. With a ``w0_subspace`` other than the checkpoint's (a forced resume) or a basis
        that no longer gives the saved W_0 (other training inputs), the first layer starts afresh from the saved
        W_0: W0_base = W_0, D = 0 (or plain W_0), and its optimiser state empty (a warning says so). Raises
        ResumeMismatch for a checkpoint written before the option existed continued with one."""
        k = self.config.w0_subspace
        k_saved = None if saved.sub is None else int(saved.sub["D"].shape[1])
        if k != k_saved and "w0_subspace" not in changed:  # a checkpoint written before the option existed
            raise ResumeMismatch(f"w0_subspace: the checkpoint was written without it (an earlier version), now "
                                 f"{k}; start a new run from its network (fenchel_cvx.load)")
        if k == k_saved:
            if k is None:
                return saved
            with self.torch.no_grad():
                if bool(self.torch.allclose(self._effective_w0(saved.sub), saved.W[0])):
                    return saved
        log.warning("resume: w0_subspace %s in the checkpoint, %s now (or other training inputs): the first "
                    "layer continues from the saved W_0 with a fresh %s and optimiser state", k_saved, k,
                    "D = 0" if k is not None else "W_0")
        sub = None if k is None else self._fresh_sub(saved.W[0])
        return dataclasses.replace(saved, sub=sub, opt=[{}] + list(saved.opt[1:]))

    # ---- the model ---------------------------------------------------------------------------
    def logits(self, state: BackpropState, X: Any) -> Any:
        """Z = W_L φ(... φ(W_0 xᵀ + b_0) ...) + b_L for the rows of X (returns m x k).

        Conv networks: the rows are images flattened in C-order, reshaped to (m, C, H, W) for the
        ``torch.nn`` module of :meth:`fenchel_cvx.conv.ConvFenchelNetwork.torch_module`, called with the
        state's tensors (``torch.func.functional_call``).
        """
        if self.module is not None:
            params = {}
            for (wn, bn), w, v in zip(self.names, state.W, state.b, strict=True):
                params[wn] = w
                if bn is not None:
                    params[bn] = v
            Xi = X.reshape(X.shape[0], *self.net.input_shape)
            return self.torch.func.functional_call(self.module, params, (Xi,))
        H = X
        L = self.net.L
        for l in range(L + 1):
            H = H @ state.W[l].T + state.b[l]
            if l < L:
                H = self.net.activations[l].phi(H)
        return H

    def batch_loss(self, state: BackpropState, X: Any, Y: Any) -> Any:
        """J_B = ℓ(Y_B, Z_B)/m_B + Σ_l ρ_l/2 ‖W_l‖² on the rows X, Y of a batch (a torch scalar)."""
        Z = self.logits(state, X)
        torch = self.torch
        if self.net.loss.classification:
            data = (torch.logsumexp(Z, dim=1) - (Y * Z).sum(dim=1)).mean()
        else:
            data = 0.5 * ((Z - Y) ** 2).sum(dim=1).mean()
        reg = sum(0.5 * float(r) * (state.W[l] ** 2).sum() for l, r in enumerate(self.rho) if r > 0)
        return data + reg

    # ---- the step ------------------------------------------------------------------------------
    def update(self, state: BackpropState, idx: np.ndarray | None, schedule: Schedule) -> BackpropState:
        """One optimiser step on the batch ``idx`` from ``state`` (the optimiser steps the tensors in place)."""
        torch = self.torch
        trainable = self._trainable(state.W, state.b, state.sub)
        if len(trainable) != len(self.bound) or any(p is not q for p, q in zip(trainable, self.bound, strict=True)):
            self.opt.param_groups[0]["params"] = trainable
            self.bound = trainable
        self.opt.state = defaultdict(dict)
        for p, s in zip(trainable, state.opt, strict=True):
            self.opt.state[p] = s
        ii = torch.as_tensor(np.asarray(idx), device=self.device)
        at = state if state.sub is None else dataclasses.replace(state, W=[self._effective_w0(state.sub),
                                                                           *state.W[1:]])
        loss = self.batch_loss(at, self.X.index_select(0, ii), self.Y.index_select(0, ii))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if state.sub is None:
            return dataclasses.replace(state, opt=[self.opt.state[p] for p in trainable])
        with torch.no_grad():  # state.W[0]: the effective W_0 after the step
            W = [self._effective_w0(state.sub), *state.W[1:]]
        return dataclasses.replace(state, W=W, opt=[self.opt.state[p] for p in trainable])

    def evaluate(self, state: BackpropState, schedule: Schedule, eval_idx: np.ndarray | None) -> dict:
        """J on the training rows ``eval_idx`` (None: all), F = None (no lifted variables), the scores."""
        torch = self.torch
        key = self.net.loss.metric
        score = lambda Z, Y: self.net.loss.score(Y.T, Z.T)  # noqa: E731 - the loss's layout is features x samples
        rec = {}
        with torch.no_grad():
            if eval_idx is None:
                Xe, Ye = self.X, self.Y
            else:
                ii = torch.as_tensor(eval_idx, device=self.device)
                Xe, Ye = self.X.index_select(0, ii), self.Y.index_select(0, ii)
            rec["J"] = float(self.batch_loss(state, Xe, Ye))
            rec["F"] = None
            rec[f"train_{key}"] = score(self.logits(state, Xe), Ye)
            for name, Xa, Ya in (("test", self.Xte, self.Yte), ("val", self.Xva, self.Yva)):
                if Xa is not None:
                    rec[f"{name}_{key}"] = score(self.logits(state, Xa), Ya)
        return rec

    def record_fields(self, schedule: Schedule) -> dict:
        """The learning rate of the run (``lr``)."""
        return {"lr": float(self.config.lr)}

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """torch's intra-op threads set to ``threads`` while this run computes (restored in between, so two
        interleaved runs each keep their own setting)."""
        torch = self.torch
        old = torch.get_num_threads()
        if self.config.threads is not None:
            torch.set_num_threads(int(self.config.threads))
        try:
            yield
        finally:
            if self.config.threads is not None:
                torch.set_num_threads(old)

    def synchronize(self) -> None:
        """Wait for queued CUDA work (timings)."""
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

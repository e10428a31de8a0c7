r"""Training a Fenchel lifted network by block-coordinate descent (BCD).

Shapes follow the project convention: features x samples. The data ``X`` is d x m, the
targets are integer labels (m,) (cross-entropy) or a k x m array (squared loss), the hidden
activations are ``Xs = [X_1..X_L]`` with X_l of shape n_l x m.

The lifted objective (design notes, section 1)::

    F_λ(W, X) = (1/m)[ℓ(Y, W_L X_L + b_L 1ᵀ) + Σ_{l<L} λ_l Σ B_φl(W_l X_l + b_l 1ᵀ, X_{l+1})] + Σ_l ρ_l/2 ‖W_l‖²

is minimised over the blocks of :mod:`fenchel_cvx.blocks` (every block is convex).

Schedules (design notes, section 4)
-----------------------------------
``schedule="fullbatch"``: the X's live across sweeps (initialised once by a forward pass);
one sweep solves the X-blocks from last to first, then the W-blocks from first to last, each
on all m samples. A block's new value is accepted only if its block objective does not exceed
the one of the current value, so F_λ never rises (for a fixed λ), whatever the inner accuracy.

``schedule="minibatch"`` (the default): per batch B (m_B samples),

1. forward initialisation: U_l = W_l X_l + b_l 1ᵀ, X_{l+1} = φ_l(U_l) on the batch;
2. X-steps from X_L down to X_1 (the blocks ``last_x``/``hidden_x``), each warm-started at its
   forward value and solved inexactly with ``x_iters`` iterations: by :func:`apg_fixed` on the
   block's own composite model (``x_solver="apg"``, no certificate: the cheap mode) or by the
   block's certified FISTA ``solve_fast`` (``x_solver="block"``). The next-layer term is
   weighted by ``x_weight`` ≥ 1 (equivalently λ_{l−1} is divided by it in the X-step only) --
   ``x_weight = 1`` is the plain lifted block;
3. W-steps from W_0 up to W_L (``hidden_w``/``last_w``) with the proximal term
   γ_l/2 (‖W − W_l^pre‖² + ‖b − b_l^pre‖²) towards the weights before the batch;
   with ``refresh=True`` the input of the next W-step is re-forwarded with the new weights,
   X_{l+1} ← φ_l(W_l^new X_l + b_l^new 1ᵀ) (consistency with inference; not a descent step of F_λ);
4. optional inertia (``momentum`` β): W ← W^new + β (W^pre − W^prev-batch) (with ``refresh_inertia=True``
   the re-forward of step 3 uses these weights instead of W^new).

Convolutional networks (:class:`fenchel_cvx.conv.ConvFenchelNetwork`) train through the same
steps with layer l's affine map U = A_l(W_l, X) + B_l (``net._affine``), the conv X-blocks, and the
MM W-step on the im2col design matrix D = ``LinearMap.design(X)`` (A_l(W, X) = cols⁻¹(W_mat D): the
conv W-block is a dense W-block there); :func:`tuned_lenet5` is the LeNet-5 schedule.

Epoch e (0-based) uses λ = min(λ_0 · ``lam_growth``^e, ``lam_max``) and γ = γ_0 · ``gamma_growth``^e
(λ continuation: a larger λ tightens the relaxation, min F_λ ↑ min J). The returned network
carries the weights, the ρ used and the λ of the last epoch.

How the W-blocks are solved (``w_solver``)
------------------------------------------
``"mm"`` (default; :func:`mm_ridge_step`): majorise–minimise. With U_k = W_k X̃ the current
pre-activation, the block's data term H(U) (Fenchel–Young term λ/m Σ[f(U) − U∘Y] of an
activation with Lip(φ) = L_φ, or ℓ(Y, U)/m with Hessian ≼ c_ℓ I per sample) is majorised by
the quadratic H(U_k) + ⟨∇H(U_k), U − U_k⟩ + (κ/2)‖U − U_k‖² with κ = λL_φ/m (resp. c_ℓ/m), so
one step minimises the ridge regression

    κ/2 ‖Θ X̃ − T‖² + Σ_ic r_c/2 (Θ − Θ_c)²_ic,     T = U_k − ∇H(U_k)/κ,

(Θ = [W | b], X̃ = [X; 1ᵀ], r = ρ+γ on W, γ on b, centre Θ_c = [γ W^pre/(ρ+γ) | b^pre]) exactly.
Every step decreases the block objective (monotone), and T − U_k is exactly the "target
shift" of target propagation. When m < n_in + 1 (and γ > 0) the linear system is solved in sample space
(an m x m system S = κ X̃ᵀ D⁻¹ X̃ + I, factorised once per block and reused by all MM steps;
then U^new = T − R comes for free, R = (T − Θ_c X̃) S⁻¹); otherwise in weight space with the
(n_in+1)² matrix κ X̃X̃ᵀ + D. ``w_iters`` MM steps are taken per hidden block, ``last_w_iters``
per output block (for the squared loss one step is the exact ridge solution).

``"block"``: the W-block's own fast solver (``Block.solve_fast``: Newton-CG with a certificate)
with ``max_iter = w_iters`` / ``last_w_iters`` and tolerance ``tol``.

Backends: numpy or torch (``backend``, ``device``), float32 or float64 (``dtype``); every
numerical routine is written once against :func:`fenchel_cvx.backend.namespace`.

History: one record per epoch (epoch 0 = before training) with ``F`` (the lifted objective
at the current λ: for full batch the state's F_λ; for mini-batches F_λ(W, X̂) on the evaluation
set, X̂ = one pass of X-steps from the forward pass), ``J`` (standard objective), ``train_acc``,
``test_acc``, ``val_acc`` (classification) or ``train_mse``... , ``time`` (cumulative training
seconds, evaluation excluded), ``epoch_time``, ``eval_time`` and ``lam``.
Checkpoints (``checkpoint=path``): weights, optimiser state (epoch, λ, γ, inertia buffers,
early-stopping state), history and config in one ``.npz``; :func:`train` with ``resume=path``
continues the run exactly where it stopped (tested: interrupted + resumed == uninterrupted).
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .backend import is_torch, namespace, to_numpy
from .network import FenchelNetwork, _per_layer, check_array

__all__ = ["BCDConfig", "TrainResult", "LiftedTrainer", "train", "tuned", "TUNED", "mm_ridge_step", "apg_fixed",
           "load_checkpoint", "evaluate", "prepare_data", "BACKENDS", "DTYPES", "SCHEDULES", "W_SOLVERS", "X_SOLVERS"]

BACKENDS = ("numpy", "torch")
DTYPES = ("float32", "float64")
SCHEDULES = ("minibatch", "fullbatch")
W_SOLVERS = ("mm", "block")
X_SOLVERS = ("apg", "block")


# =====================================================================================
# configuration
# =====================================================================================
@dataclass
class BCDConfig:
    """Hyperparameters of lifted BCD training (see the module docstring for the schedule).

    lam, rho      : None (keep the network's), a scalar, or one value per layer (L / L+1)
    gamma         : proximal weights γ_l ≥ 0 of the W-steps, a scalar or L+1 values
    x_weight      : weight ≥ 1 of the next-layer term in the mini-batch X-steps (1 = plain block)
    lam_growth, lam_max, gamma_growth : per-epoch continuation factors of λ (capped) and γ
    momentum      : inertia β ∈ [0, 1) of the W's across batches (mini-batch)
    refresh       : re-forward X_{l+1} after the W_l step (mini-batch)
    refresh_inertia : re-forward with the weights after the inertia step (True) or with the W-step's
                    solution before it (False, the default)
    x_iters       : iterations per X-block (mini-batch); full batch: 50 x x_iters at most
    x_solver      : mini-batch X-steps by "apg" (fixed-budget accelerated proximal gradient on the block's
                    composite model, no certificate) or "block" (the block's certified FISTA, ``solve_fast``)
    w_solver      : "mm" (majorise–minimise ridge steps) or "block" (Newton-CG of the block)
    w_iters, last_w_iters : inner iterations of hidden / output W-steps
    tol           : relative tolerance of block solves (None: the blocks' default)
    val_fraction  : fraction of the training set held out for early stopping (0 = none)
    patience      : epochs without validation improvement before stopping (None = never)
    restore_best  : with early stopping, return the weights of the best validation epoch
    eval_samples  : training samples (seeded subset) used for the per-epoch F, J, train accuracy
    """

    schedule: str = "minibatch"
    epochs: int = 10
    batch_size: int = 500
    lam: object = None
    rho: object = None
    gamma: object = 0.1
    x_weight: float = 1.0
    lam_growth: float = 1.0
    lam_max: float = math.inf
    gamma_growth: float = 1.0
    momentum: float = 0.0
    refresh: bool = True
    refresh_inertia: bool = False
    x_iters: int = 20
    x_solver: str = "apg"
    w_solver: str = "mm"
    w_iters: int = 1
    last_w_iters: int = 10
    tol: float | None = None
    backend: str = "numpy"
    device: str = "cpu"
    dtype: str = "float64"
    seed: int = 0
    shuffle: bool = True
    val_fraction: float = 0.0
    patience: int | None = None
    restore_best: bool = True
    eval_samples: int | None = 10000

    def validate(self, net: FenchelNetwork | None = None) -> BCDConfig:
        """Check every field (raises ValueError/TypeError naming it); returns self."""
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {self.schedule!r}")
        _int(self.epochs, "epochs", 0)
        if self.batch_size is not None:
            _int(self.batch_size, "batch_size", 1)
        for name in ("x_iters", "w_iters", "last_w_iters"):
            _int(getattr(self, name), name, 1)
        if self.x_solver not in X_SOLVERS:
            raise ValueError(f"x_solver: expected one of {X_SOLVERS}, got {self.x_solver!r}")
        if self.w_solver not in W_SOLVERS:
            raise ValueError(f"w_solver: expected one of {W_SOLVERS}, got {self.w_solver!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {self.backend!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {DTYPES}, got {self.dtype!r}")
        if self.backend == "numpy" and str(self.device) != "cpu":
            raise ValueError(f"device: the numpy backend runs on the CPU only, got device={self.device!r}")
        _num(self.x_weight, "x_weight", lo=1.0)
        _num(self.lam_growth, "lam_growth", lo=1.0)
        _num(self.gamma_growth, "gamma_growth", lo=0.0, strict=True)
        if not (isinstance(self.lam_max, (int, float)) and self.lam_max > 0):
            raise ValueError(f"lam_max: expected a positive number, got {self.lam_max!r}")
        _num(self.momentum, "momentum", lo=0.0)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum}")
        if self.tol is not None:
            _num(self.tol, "tol", lo=0.0, strict=True)
        _num(self.val_fraction, "val_fraction", lo=0.0)
        if self.val_fraction >= 1.0:
            raise ValueError(f"val_fraction: expected a number in [0, 1), got {self.val_fraction}")
        if self.patience is not None:
            _int(self.patience, "patience", 1)
        if self.eval_samples is not None:
            _int(self.eval_samples, "eval_samples", 1)
        if net is not None:
            L = net.L
            if self.lam is not None:
                _per_layer(self.lam, L, "lam")
            if self.rho is not None:
                _per_layer(self.rho, L + 1, "rho")
            _per_layer(self.gamma, L + 1, "gamma")
            lam = net.lam if self.lam is None else _per_layer(self.lam, L, "lam")
            if L and np.any(lam <= 0):
                raise ValueError(f"lam: the X-blocks need λ_l > 0 on every layer, got {np.asarray(lam).tolist()}")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("lam", "rho", "gamma"):
            if isinstance(d[k], np.ndarray):
                d[k] = d[k].tolist()
            elif isinstance(d[k], tuple):
                d[k] = list(d[k])
        if d["lam_max"] == math.inf:
            d["lam_max"] = "inf"
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BCDConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"config: unknown fields {sorted(unknown)}")
        d = dict(d)
        if d.get("lam_max") == "inf":
            d["lam_max"] = math.inf
        return cls(**d)


def _int(v, name, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name}: expected an integer >= {lo}, got {v!r}")


def _num(v, name, lo=None, strict=False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v!r}")
    if lo is not None and (v < lo or (strict and v == lo)):
        raise ValueError(f"{name}: expected a number {'>' if strict else '>='} {lo}, got {v}")


def tuned(n_hidden: int = 1) -> dict:
    """The mini-batch schedule tuned on Fashion-MNIST 784-300-10 (ReLU, cross-entropy, batch 500).

    Chosen on a 90/10 train/validation split of the Fashion-MNIST training set (random search
    over λ, x_weight, γ per layer, momentum, refresh, inner iterations and continuation factors;
    see the README's training section):

    * λ_0 = 0.3 raised ×1.5 per epoch (continuation: loose relaxation early, tight late);
    * γ = 0.1·λ_0 on the hidden W-steps (a light proximal term: each hidden W-step is a nearly
      undamped ridge fit to the X-step targets), γ = 1 on the output layer, both ×1.2 per epoch;
    * one MM ridge step per hidden W-block, 5 on the output block, 5 FISTA iterations per X-block;
    * inertia 0.7 on the weights across batches; refresh (re-forward) before each next W-step
      (without refresh the validation accuracy drops by ~2 points).
    """
    return dict(schedule="minibatch", lam=0.3, gamma=[0.03] * n_hidden + [1.0], x_weight=1.0, lam_growth=1.5,
                gamma_growth=1.2, momentum=0.7, refresh=True, x_iters=5, x_solver="apg", w_solver="mm", w_iters=1,
                last_w_iters=5)


#: :func:`tuned` for one hidden layer
TUNED = tuned(1)


def tuned_conv(n_hidden: int = 4) -> dict:
    """The mini-batch schedule of the LeNet-5 benchmark (``benchmarks/lenet5.py``) for ``n_hidden`` hidden maps.

    LeNet-5 (:func:`tuned_lenet5`) has 4 hidden maps (two conv maps, two dense layers) + the output.

    The dense schedule of :func:`tuned` carried over to LeNet-5 without re-tuning, except for three
    choices made on mnist5k before the benchmark runs: the X-steps by the conv blocks' certified FISTA
    (``x_solver="block"``, 5 iterations), inertia 0.5, and the re-forward with the weights after inertia
    (``refresh_inertia=True``). λ_0 = 0.3 ×1.5 per epoch; γ = 0.03 on the hidden W-steps and 1 on the
    output W-step, ×1.2 per epoch; 1 MM ridge step per hidden W-block (on the im2col design matrix for
    conv layers), 5 on the output block; PyTorch backend in float32.
    """
    return dict(schedule="minibatch", lam=0.3, gamma=[0.03] * n_hidden + [1.0], x_weight=1.0, lam_growth=1.5,
                gamma_growth=1.2, momentum=0.5, refresh=True, refresh_inertia=True, x_iters=5, x_solver="block",
                w_solver="mm", w_iters=1, last_w_iters=5, backend="torch", dtype="float32")


def tuned_lenet5() -> dict:
    """:func:`tuned_conv` for the ``lenet5`` preset (4 hidden maps)."""
    return tuned_conv(4)


# =====================================================================================
# results, history and checkpoints
# =====================================================================================
@dataclass
class TrainResult:
    """What :func:`train` (and :func:`fenchel_cvx.baselines.train_backprop`) return.

    ``net`` holds the trained weights (numpy, the network's dtype); ``history`` one dict per
    epoch (epoch 0 = initial); ``final`` the last record's accuracies; ``times`` the total
    training seconds and mean seconds per epoch; ``state`` the optimiser state (checkpoints).
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

    def metrics(self) -> dict:
        """JSON-ready summary: method, config, history, final accuracies and times."""
        return {"method": self.method, "config": self.config, "history": self.history, "final": self.final,
                "times": self.times, "stopped_early": self.stopped_early, "best_epoch": self.best_epoch,
                "interrupted": self.interrupted}


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else (None if math.isnan(f) else ("inf" if f > 0 else "-inf"))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def save_checkpoint(path: str, net: FenchelNetwork, arrays: dict, meta: dict):
    """Write weights, optimiser arrays and JSON metadata to ``path`` (.npz, written atomically)."""
    payload = {f"W{l}": np.asarray(to_numpy(w)) for l, w in enumerate(net.W)}
    payload.update({f"b{l}": np.asarray(to_numpy(v)) for l, v in enumerate(net.b)})
    for k, v in arrays.items():
        payload[f"state_{k}"] = np.asarray(to_numpy(v))
    meta = dict(meta, net={"sizes": net.sizes, "activation": [a.name for a in net.activations],
                           "activation_params": [a.params for a in net.activations],
                           "loss": net.loss.name, "lam": net.lam.tolist(), "rho": net.rho.tolist(), "bias": net.bias})
    payload["meta"] = np.frombuffer(json.dumps(_json_safe(meta)).encode(), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **payload)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path: str):
    """Read a checkpoint: returns ``(W, b, arrays, meta)`` (numpy arrays, dict of arrays, dict)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: no such file {path!r}")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        n = len(meta["net"]["sizes"]) - 1
        W = [z[f"W{l}"].copy() for l in range(n)]
        b = [z[f"b{l}"].copy() for l in range(n)]
        arrays = {k[6:]: z[k].copy() for k in z.files if k.startswith("state_")}
    return W, b, arrays, meta


def _check_resume_net(net: FenchelNetwork, meta: dict, path: str):
    spec = meta["net"]
    if list(spec["sizes"]) != list(net.sizes) or spec["loss"] != net.loss.name or \
            spec["activation"] != [a.name for a in net.activations]:
        raise ValueError(f"resume: checkpoint {path!r} is for sizes={spec['sizes']}, activation={spec['activation']}, "
                         f"loss={spec['loss']}, not for {net!r}")


# =====================================================================================
# data preparation shared by the lifted trainer and the baselines
# =====================================================================================
def prepare_data(net: FenchelNetwork, X, y, X_test=None, y_test=None, X_val=None, y_val=None,
                 val_fraction: float = 0.0, seed: int = 0):
    """Validate the data against the network *before any work* and split off a validation set.

    Returns a dict of numpy arrays: X (d x m), Y (k x m targets), y (labels or targets as given),
    and the same for test/val (None when absent). Raises ValueError/TypeError naming the argument:
    first width ≠ number of features, NaN/inf in X, labels outside [0, k), mismatched sample counts.
    """
    def one(Xa, ya, name):
        if Xa is None and ya is None:
            return None, None, None
        if Xa is None or ya is None:
            raise ValueError(f"{name}: pass both X_{name} and y_{name} (or neither)")
        Xa = to_numpy(check_array(Xa, f"X_{name}" if name != "train" else "X", (None, None), finite=False))
        if Xa.ndim != 2 or Xa.shape[0] != net.sizes[0]:
            raise ValueError(f"{'X' if name == 'train' else 'X_' + name}: expected {net.sizes[0]} features "
                             f"(rows, the network's first width; data are features x samples), got shape {Xa.shape}")
        if not np.all(np.isfinite(Xa)):
            raise ValueError(f"{'X' if name == 'train' else 'X_' + name}: contains NaN or inf")
        ya_np = to_numpy(ya)
        Y = np.asarray(to_numpy(net.check_targets(ya_np, Xa.shape[1])), dtype=np.float64)
        return Xa, Y, ya_np

    X, Y, y = one(X, y, "train")
    if X.shape[1] == 0:
        raise ValueError("X: no training samples")
    Xt, Yt, _ = one(X_test, y_test, "test")
    Xv, Yv, _ = one(X_val, y_val, "val")
    if Xv is None and val_fraction > 0:
        from .data import stratified_split

        if net.loss.classification:
            tr, va = stratified_split(np.argmax(Y, axis=0), val_fraction, seed)
        else:
            perm = np.random.default_rng(seed).permutation(X.shape[1])
            n_va = int(round(val_fraction * X.shape[1]))
            tr, va = np.sort(perm[n_va:]), np.sort(perm[:n_va])
        if va.size == 0 or tr.size == 0:
            raise ValueError(f"val_fraction: {val_fraction} leaves an empty training or validation set")
        Xv, Yv = X[:, va], Y[:, va]
        X, Y, y = X[:, tr], Y[:, tr], (y[tr] if y.ndim == 1 else y[:, tr])
    return dict(X=X, Y=Y, y=y, X_test=Xt, Y_test=Yt, X_val=Xv, Y_val=Yv)


def _convert(a, backend: str, device: str, dtype: str):
    if a is None:
        return None
    if backend == "torch":
        import torch

        return torch.as_tensor(np.ascontiguousarray(to_numpy(a)), dtype=getattr(torch, dtype), device=device)
    return np.ascontiguousarray(to_numpy(a), dtype=np.dtype(dtype))


def _check_backend(backend: str, device: str):
    if backend == "torch":
        try:
            import torch
        except ImportError as e:
            raise ImportError("backend 'torch' needs torch: pip install 'fenchel-cvx[torch]'") from e
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ValueError(f"device: {device!r} is not a torch device ({e})") from e
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available")


def batch_order(m: int, epoch: int, seed: int, shuffle: bool = True) -> np.ndarray:
    """The sample order of ``epoch`` (a function of (seed, epoch) only, so resumed runs match)."""
    if not shuffle:
        return np.arange(m)
    return np.random.default_rng([int(seed), int(epoch)]).permutation(m)


def early_stop_update(best: dict, rec: dict, classification: bool, patience: int | None, snapshot) -> bool:
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


def _eval_subset(m: int, n: int | None, seed: int) -> np.ndarray | None:
    if n is None or n >= m:
        return None
    return np.sort(np.random.default_rng([int(seed), 7]).choice(m, size=n, replace=False))


def _score(net: FenchelNetwork, Z, Y) -> float:
    """Accuracy (classification) or mean squared error per sample (regression) of outputs Z."""
    xp = namespace(Z)
    if net.loss.classification:
        pred = to_numpy(net.loss.predict(Z))
        return float(np.mean(pred == np.argmax(to_numpy(Y), axis=0)))
    R = Z - Y
    return float(xp.sum(R * R)) / Z.shape[1]


# =====================================================================================
# the majorise-minimise W-step
# =====================================================================================
def _spd_factor(S):
    """Cholesky factor of a symmetric positive definite matrix (numpy or torch), for :func:`_spd_solve_rows`."""
    if is_torch(S):
        import torch

        L, info = torch.linalg.cholesky_ex(S)
        if int(info) != 0:
            raise FloatingPointError("mm_ridge_step: the ridge system is not positive definite (non-finite data?)")
        return L
    from scipy.linalg import LinAlgError, cho_factor

    try:
        return cho_factor(S, lower=True, check_finite=False)
    except LinAlgError as e:
        raise FloatingPointError("mm_ridge_step: the ridge system is not positive definite (non-finite data?)") from e


def _spd_solve_rows(F, B):
    """B S⁻¹ (rows of B solved against S = L Lᵀ given by :func:`_spd_factor`)."""
    if is_torch(B):
        import torch

        return torch.cholesky_solve(B.T, F).T
    from scipy.linalg import cho_solve

    return cho_solve(F, B.T, check_finite=False).T


def mm_ridge_step(X, Y, U, W_pre, b_pre, grad_fn, kappa: float, rho: float, gamma: float,
                  bias: bool = True, n_steps: int = 1, U_pre=None):
    r"""Majorise–minimise steps on a W-block (see the module docstring).

    Block:  P(W, b) = H(W X + b 1ᵀ) + ρ/2‖W‖² + γ/2(‖W − W_pre‖² + ‖b − b_pre‖²), where H has
    curvature ≤ κ in U (κ = λ Lip(φ)/m for ``hidden_w``, c_ℓ/m for ``last_w``) and
    ``grad_fn(U) = ∇H(U)`` (n_out x m). Starting at (W_pre, b_pre) whose pre-activation ``U``
    (= W_pre X + b_pre 1ᵀ) is given, each step minimises the quadratic majoriser
    κ/2‖ΘX̃ − T‖² + Σ r/2 (Θ − Θ_c)², T = U_k − ∇H(U_k)/κ, exactly; ``n_steps`` steps are taken
    (each never increases P). ``U_pre`` (optional) is unused by the computation and kept for
    symmetry of calls. Returns ``(W, b, U_new)`` with U_new = W X + b 1ᵀ.

    Shapes: X n_in x m, U n_out x m, W_pre n_out x n_in, b_pre (n_out,). Requires ρ + γ > 0.
    """
    xp = namespace(X)
    n_in, m = X.shape
    r_w = float(rho + gamma)
    if r_w <= 0:
        raise ValueError("mm_ridge_step: needs rho + gamma > 0 (a strongly convex majoriser)")
    if kappa <= 0:
        raise ValueError(f"mm_ridge_step: kappa must be > 0, got {kappa}")
    s = gamma / r_w
    # Θ_c X̃ = s W_pre X + b_pre 1ᵀ = s (U − b_pre) + b_pre  (U = W_pre X + b_pre)
    bcol = b_pre[:, None] if bias else 0.0
    C = s * (U - bcol) + bcol if bias else s * U
    r_b = float(gamma)
    n_aug = n_in + (1 if bias else 0)
    Uk = U
    if m < n_aug and (not bias or r_b > 0):
        # sample space: S = κ X̃ᵀ D⁻¹ X̃ + I,  R = (T − C) S⁻¹,  Θ = Θ_c + κ R X̃ᵀ D⁻¹,  U_new = T − R
        S = (kappa / r_w) * (X.T @ X)
        if bias:
            S = S + kappa / r_b
        S = S + _eye_like(m, X)
        F = _spd_factor(S)
        R = None
        for _ in range(n_steps):
            T = Uk - grad_fn(Uk) / kappa
            R = _spd_solve_rows(F, T - C)
            Uk = T - R
        W = s * W_pre + (kappa / r_w) * (R @ X.T)
        b = (b_pre + (kappa / r_b) * xp.sum(R, axis=1)) if bias else xp.zeros((W.shape[0],), like=X)
        return W, b, Uk
    # weight space: Θ (κ X̃X̃ᵀ + D) = κ T X̃ᵀ + Θ_c D, with X̃ = [X; 1ᵀ] (bias) or X
    Xa = augment(X, bias)
    F, Cd = mm_weight_system(Xa @ Xa.T, kappa, rho, gamma, W_pre, b_pre, bias)
    Theta = None
    for _ in range(n_steps):
        T = Uk - grad_fn(Uk) / kappa
        Theta = _spd_solve_rows(F, kappa * (T @ Xa.T) + Cd)
        Uk = Theta @ Xa
    return (*split_theta(Theta, bias), Uk)


def augment(X, bias: bool):
    """X̃ = [X; 1ᵀ] ((n_in+1) x m) with a bias, X itself without (numpy or torch)."""
    if not bias:
        return X
    xp = namespace(X)
    Xa = xp.zeros((X.shape[0] + 1, X.shape[1]), like=X)
    Xa[:-1] = X
    Xa[-1] = 1.0
    return Xa


def mm_weight_system(G, kappa: float, rho: float, gamma: float, W_pre, b_pre, bias: bool):
    r"""The weight-space ridge system of one MM step, from the Gram matrix G = X̃X̃ᵀ.

    Returns ``(F, Cd)``: F the Cholesky factor of M = κG + D (D = ρ+γ on the weight columns, γ on
    the bias column) and Cd = Θ_c D = [γ W_pre | γ b_pre]; the step is then
    Θ = :func:`_spd_solve_rows`(F, κ T X̃ᵀ + Cd). Only G and T X̃ᵀ depend on the samples, so a sharded
    run (:mod:`fenchel_cvx.distributed`) sums them over shards and calls this once.
    """
    r_w, r_b = float(rho + gamma), float(gamma)
    if r_w <= 0:
        raise ValueError("mm_ridge_step: needs rho + gamma > 0 (a strongly convex majoriser)")
    n_aug = G.shape[0]
    M = kappa * G + r_w * _eye_like(n_aug, G)
    if bias:
        n_in = n_aug - 1
        M[n_in, n_in] = M[n_in, n_in] + (r_b - r_w)
        Cd = namespace(G).zeros((W_pre.shape[0], n_aug), like=G)
        Cd[:, :n_in] = gamma * W_pre
        Cd[:, n_in] = r_b * b_pre
    else:
        Cd = gamma * W_pre
    return _spd_factor(M), Cd


def split_theta(Theta, bias: bool):
    """Θ = [W | b] → (W, b) (b = 0 without a bias)."""
    if bias:
        return Theta[:, :-1], Theta[:, -1]
    return Theta, namespace(Theta).zeros((Theta.shape[0],), like=Theta)


def w_block_model(l: int, L: int, activations, loss, lam_l: float, m: int, target):
    r"""Curvature bound κ and ∇H of W-block l (the data term H(U) that the MM step majorises).

    Hidden (l < L): H(U) = (λ_l/m) Σ [f_l(U) − U∘X_{l+1}], ∇H = (λ_l/m)(φ_l(U) − X_{l+1}),
    κ = λ_l Lip(φ_l)/m. Output (l = L): H(U) = ℓ(Y, U)/m, ∇H = ∇ℓ(Y, U)/m, κ = c_ℓ/m.
    ``target`` is X_{l+1} (n_{l+1} x m) or Y (k x m); ``m`` the number of samples of the batch.
    """
    if l < L:
        act, lam = activations[l], float(lam_l)
        kappa = lam * act.lip / m

        def grad(U):
            return (lam / m) * (act.phi(U) - target)
        return kappa, grad
    kappa = loss.hess_bound / m

    def grad(U):
        return loss.grad(target, U) / m
    return kappa, grad


def apg_fixed(prob, x0, n_iter: int):
    r"""``n_iter`` steps of accelerated proximal gradient on F = s(A x) + h(x), no certificate.

    ``prob`` is the block's :class:`fenchel_cvx.blocks.prox_grad.CompositeProblem` (A, Aᵀ, ∇s,
    prox of h, Lip(∇g) ≤ L, μ_h). Step t = 1/L, constant momentum β = (1 − √q)/(1 + √q) with
    q = tμ_h/(1 + tμ_h) (the strongly convex accelerated scheme):

        x⁺ = prox_{t h}(y − t Aᵀ∇s(A y)),   y⁺ = x⁺ + β (x⁺ − x).

    The cheap inexact mode of the mini-batch X-steps (each iteration: two products with W and
    a few elementwise passes); the block's ``solve_fast`` is the certified solver.
    """
    if prob.A is None:  # h alone: its prox with a huge step is the minimiser
        return prob.prox_h(x0, 1e12)
    L = max(prob.lipschitz, 1e-3 * (prob.mu_h + prob.mu_g))
    t = 1.0 / L
    q = min(1.0, t * prob.mu_h / (1.0 + t * prob.mu_h))
    beta = (1.0 - math.sqrt(q)) / (1.0 + math.sqrt(q))
    x = y = x0
    for _ in range(int(n_iter)):
        x_new = prob.prox_h(y - t * prob.At(prob.s_grad(prob.A(y))), t)
        y = x_new + beta * (x_new - x)
        x = x_new
    return x


def x_block(l: int, L: int, activations, loss, W, b, lam, Us, Xs, Y, lam_scale: float = 1.0, maps=None):
    r"""The X-block of X_l (1 ≤ l ≤ L) at a batch state, warm-started at ``Xs[l-1]``.

    ``Us`` = [U_0..U_{L−1}] pre-activations, ``Xs`` = [X_1..X_L], ``Y`` targets (k x m) of the batch;
    W, b, λ per layer; λ_{l−1} is divided by ``lam_scale`` (the next-layer weight of the mini-batch
    X-steps). Dense blocks (:mod:`fenchel_cvx.blocks.x_blocks`), or with ``maps`` (a conv network's
    LinearMaps) the conv blocks (:mod:`fenchel_cvx.blocks.conv_blocks`).
    """
    if maps is None:
        from .blocks.x_blocks import HiddenXBlock as Hidden
        from .blocks.x_blocks import LastXBlock as Last
        op = (W[l], b[l])
    else:
        from .blocks.conv_blocks import ConvHiddenXBlock as Hidden
        from .blocks.conv_blocks import ConvLastXBlock as Last
        op = (maps[l], W[l], b[l])
    act = activations[l - 1]
    lam_prev = float(lam[l - 1]) / lam_scale
    if l == L:
        return Last(Us[l - 1], *op, Y, lam=lam_prev, act=act, loss=loss, current=Xs[l - 1], layer=l)
    return Hidden(Us[l - 1], *op, Xs[l], lam=lam_prev, lam_next=float(lam[l]), act=act, act_next=activations[l],
                  current=Xs[l - 1], layer=l)


def _eye_like(n: int, ref):
    if is_torch(ref):
        import torch

        return torch.eye(n, dtype=ref.dtype, device=ref.device)
    return np.eye(n, dtype=ref.dtype)


# =====================================================================================
# the trainer
# =====================================================================================
class _Progress:
    def __init__(self, total: int, desc: str, enabled: bool):
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
            except ImportError:  # pragma: no cover - tqdm is a dependency
                self.bar = None

    def update(self, n=1, **post):
        if self.bar is not None:
            self.bar.update(n)
            if post:
                self.bar.set_postfix(post, refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class LiftedTrainer:
    """Lifted BCD on numpy or torch arrays (used through :func:`train`).

    Holds the working copies of the weights (backend arrays), the optimiser state and the
    history; ``run()`` trains until ``config.epochs``, early stopping, or a callback asks to stop.
    """

    def __init__(self, net: FenchelNetwork, data: dict, config: BCDConfig, callbacks=(), verbose: int = 1,
                 progress: bool | None = None, checkpoint: str | None = None, checkpoint_every: int = 1):
        self.net, self.cfg = net, config
        cfg = config
        self.L = net.L
        # conv networks (fenchel_cvx.conv.ConvFenchelNetwork) carry one LinearMap per layer; dense ones None
        self.maps = getattr(net, "maps", None)
        conv = lambda a: _convert(a, cfg.backend, cfg.device, cfg.dtype)  # noqa: E731
        # samples are stored as contiguous rows (m x d) and used through the transposed view (d x m):
        # gathering a mini-batch is then a copy of contiguous rows
        convT = lambda a: None if a is None else conv(np.asarray(a).T).T  # noqa: E731
        self.X, self.Y = convT(data["X"]), convT(data["Y"])
        self.Xte, self.Yte = convT(data["X_test"]), convT(data["Y_test"])
        self.Xva, self.Yva = convT(data["X_val"]), convT(data["Y_val"])
        self.m = self.X.shape[1]
        self.xp = namespace(self.X)
        if not is_torch(self.X):  # the numpy path factorises with scipy: import it before any timing
            import scipy.linalg  # noqa: F401
        self.W = [conv(w) for w in net.W]
        self.b = [conv(v) for v in net.b]
        self.lam0 = np.array(net.lam if cfg.lam is None else _per_layer(cfg.lam, self.L, "lam"), dtype=float)
        self.rho = np.array(net.rho if cfg.rho is None else _per_layer(cfg.rho, self.L + 1, "rho"), dtype=float)
        self.gamma0 = np.array(_per_layer(cfg.gamma, self.L + 1, "gamma"), dtype=float)
        self.lam, self.gamma = self.lam0.copy(), self.gamma0.copy()
        self.mom = [None] * (self.L + 1)   # inertia buffers: W_pre − W_prev-batch, b likewise
        self.epoch = 0
        self.history: list = []
        self.best = {"score": None, "epoch": None, "W": None, "b": None, "bad_epochs": 0}
        self.callbacks = list(callbacks)
        self.verbose = verbose
        self.progress = (verbose > 0 and sys.stderr.isatty()) if progress is None else bool(progress and verbose > 0)
        self.checkpoint, self.checkpoint_every = checkpoint, int(checkpoint_every)
        self.train_time = 0.0
        self.Xs_full = None  # full-batch state
        sub = _eval_subset(self.m, cfg.eval_samples if cfg.schedule == "minibatch" else None, cfg.seed)
        self.eval_idx = sub
        self.stopped_early = False
        self.interrupted = False
        if self.L and np.any(self.lam <= 0):
            raise ValueError(f"lam: the X-blocks need λ_l > 0, got {self.lam.tolist()}")
        if np.any(self.rho + self.gamma <= 0):
            raise ValueError(f"gamma, rho: the W-blocks need rho_l + gamma_l > 0 on every layer, got "
                             f"rho={self.rho.tolist()}, gamma={self.gamma.tolist()}")

    # ---- helpers -----------------------------------------------------------------------
    def _set_epoch_parameters(self, epoch: int):
        """λ and γ used during epoch ``epoch`` + 1: λ_0·growth^epoch (capped by lam_max), γ_0·growth^epoch."""
        cfg = self.cfg
        self.lam = np.minimum(self.lam0 * cfg.lam_growth ** epoch, np.maximum(cfg.lam_max, self.lam0))
        self.gamma = self.gamma0 * cfg.gamma_growth ** epoch

    def _cols(self, A, idx):
        """Columns ``idx`` of A (d x m, stored as the transpose of a row-major m x d array)."""
        if A is None:
            return None
        if idx is None:
            return A
        if is_torch(A):
            import torch

            return A.T.index_select(0, torch.as_tensor(idx, device=A.device)).T
        return A.T[idx].T

    def _affine(self, l, X):
        """U = A_l(W_l, X) + b_l 1ᵀ: W_l X + b_l 1ᵀ (dense), or the layer's LinearMap (conv/pooling/flatten)."""
        return self.net._affine(l, self.W[l], self.b[l], X)

    def _forward(self, X0):
        """Pre-activations Us = [U_0..U_{L-1}], activations Xs = [X_1..X_L], logits Z."""
        Us, Xs, X = [], [], X0
        for l in range(self.L):
            U = self._affine(l, X)
            X = self.net.activations[l].phi(U)
            Us.append(U)
            Xs.append(X)
        return Us, Xs, self._affine(self.L, X)

    def _kappa_grad(self, l, Xnext_or_Y, m):
        """Curvature bound κ and ∇H of W-block l (:func:`w_block_model`)."""
        lam_l = float(self.lam[l]) if l < self.L else 0.0
        return w_block_model(l, self.L, self.net.activations, self.net.loss, lam_l, m, Xnext_or_Y)

    # ---- X-steps -------------------------------------------------------------------------
    def _x_block(self, l, X0, Y, Us, Xs, lam_scale=1.0):
        """The block of X_l (1 ≤ l ≤ L) with λ_{l−1} divided by ``lam_scale`` (:func:`x_block`)."""
        return x_block(l, self.L, self.net.activations, self.net.loss, self.W, self.b, self.lam, Us, Xs, Y,
                       lam_scale=lam_scale, maps=self.maps)

    def _x_steps(self, X0, Y, Us, Xs, iters, lam_scale=1.0, tol=None, monotone=False, solver="block"):
        """X-steps from X_L down to X_1 (Us are the pre-activations of the current weights)."""
        Xs = list(Xs)
        for l in range(self.L, 0, -1):
            # U_{l-1} is still valid (X_{l-1} is updated after X_l); the block reads X_{l+1} from Xs
            blk = self._x_block(l, X0, Y, Us, Xs, lam_scale)
            if solver == "apg":
                Xs[l - 1] = apg_fixed(blk.composite(), Xs[l - 1], iters)
                continue
            res = blk.solve_fast(init=None, tol=tol, max_iter=iters)
            if monotone and not (res.objective <= blk.objective(Xs[l - 1])):
                continue
            Xs[l - 1] = res.solution
        return Xs

    # ---- W-steps -------------------------------------------------------------------------
    def _w_step(self, l, Xin, target, U, gamma, n_iters, monotone=False):
        """Solve/descend the W-block of layer l from the current weights; returns (W, b, U_new or None)."""
        cfg = self.cfg
        m = Xin.shape[1]
        rho = float(self.rho[l])
        if cfg.w_solver == "mm" and self.maps is not None:
            # a conv/pooled layer is a dense W-block on its design matrix D (LinearMap.design: im2col
            # columns, one per sample and output position), with targets and U in the same row layout
            mp = self.maps[l]
            D = mp.design(Xin)
            kappa, g = self._kappa_grad(l, target, m)  # ∇H is elementwise in U: apply it in the natural layout

            def grad(Ud, g=g, mp=mp):
                return mp.to_design_rows(g(mp.from_design_rows(Ud)))
            Wm = mp.weight_matrix(self.W[l])
            Ud = Wm @ D + self.b[l][:, None]
            Wn, bn, Un = mm_ridge_step(D, None, Ud, Wm, self.b[l], grad, kappa, rho, gamma, bias=self.net.bias,
                                       n_steps=n_iters)
            return mp.weight_from_matrix(Wn), bn, (mp.from_design_rows(Un) if l < self.L else None)
        if cfg.w_solver == "mm":
            kappa, grad = self._kappa_grad(l, target, m)
            return mm_ridge_step(Xin, target, U, self.W[l], self.b[l], grad, kappa, rho, gamma,
                                 bias=self.net.bias, n_steps=n_iters)
        blk = self._w_block(l, Xin, target, gamma)
        res = blk.solve_fast(init=None, tol=cfg.tol, max_iter=n_iters)
        W, b = res.solution
        if monotone and not (res.objective <= blk.objective((self.W[l], self.b[l]))):
            return self.W[l], self.b[l], None
        return W, b, None

    def _w_block(self, l, Xin, target, gamma):
        from .blocks.w_blocks import HiddenWBlock, LastWBlock

        if self.maps is not None:
            from .blocks.conv_blocks import ConvHiddenWBlock, ConvLastWBlock

            mp = self.maps[l]
            if l < self.L:
                return ConvHiddenWBlock(Xin, target, mp, self.net.activations[l], float(self.lam[l]),
                                        float(self.rho[l]), gamma=gamma, W=self.W[l], b=self.b[l], W_prev=self.W[l],
                                        b_prev=self.b[l], bias=self.net.bias, layer=l)
            return ConvLastWBlock(Xin, target, mp, self.net.loss, float(self.rho[l]), gamma=gamma, W=self.W[l],
                                  b=self.b[l], W_prev=self.W[l], b_prev=self.b[l], bias=self.net.bias, layer=l)
        if l < self.L:
            return HiddenWBlock(Xin, target, self.net.activations[l], float(self.lam[l]), float(self.rho[l]),
                                gamma=gamma, W=self.W[l], b=self.b[l], W_prev=self.W[l], b_prev=self.b[l],
                                bias=self.net.bias, layer=l)
        return LastWBlock(Xin, target, self.net.loss, float(self.rho[l]), gamma=gamma, W=self.W[l], b=self.b[l],
                          W_prev=self.W[l], b_prev=self.b[l], bias=self.net.bias, layer=l)

    # ---- one mini-batch ------------------------------------------------------------------------
    def _minibatch_step(self, X0, Y):
        cfg = self.cfg
        Us, Xs, _ = self._forward(X0)
        if self.L:
            Xs = self._x_steps(X0, Y, Us, Xs, cfg.x_iters, lam_scale=cfg.x_weight, tol=cfg.tol, solver=cfg.x_solver)
        W_pre, b_pre = list(self.W), list(self.b)
        Xin, U = X0, (Us[0] if self.L else None)
        for l in range(self.L + 1):
            target = Xs[l] if l < self.L else Y
            if l > 0 or U is None:
                U = self._affine(l, Xin)
            n_it = cfg.w_iters if l < self.L else cfg.last_w_iters
            W, b, Unew = self._w_step(l, Xin, target, U, float(self.gamma[l]), n_it)
            if cfg.momentum > 0 and self.mom[l] is not None:
                dW, db = self.mom[l]
                W, b = W + cfg.momentum * dW, b + cfg.momentum * db
                if cfg.refresh_inertia:
                    Unew = None
            self.W[l], self.b[l] = W, b
            if l < self.L:
                if cfg.refresh:
                    if Unew is None:
                        Unew = self._affine(l, Xin)
                    Xs[l] = self.net.activations[l].phi(Unew)
                Xin = Xs[l]
        if cfg.momentum > 0:
            self.mom = [(self.W[l] - W_pre[l], self.b[l] - b_pre[l]) for l in range(self.L + 1)]

    # ---- one full-batch sweep -----------------------------------------------------------------
    def _fullbatch_sweep(self):
        cfg = self.cfg
        X0, Y = self.X, self.Y
        if self.L:
            Us = [None] * self.L
            prev = [X0] + self.Xs_full
            for l in range(self.L):
                Us[l] = self._affine(l, prev[l])
            self.Xs_full = self._x_steps(X0, Y, Us, self.Xs_full, 50 * cfg.x_iters, tol=cfg.tol, monotone=True)
        prev = [X0] + list(self.Xs_full)
        for l in range(self.L + 1):
            target = self.Xs_full[l] if l < self.L else Y
            U = self._affine(l, prev[l])
            n_it = cfg.w_iters if l < self.L else cfg.last_w_iters
            gamma = float(self.gamma[l])
            W, b, _ = self._w_step(l, prev[l], target, U, gamma, n_it, monotone=True)
            self.W[l], self.b[l] = W, b

    # ---- evaluation ----------------------------------------------------------------------------
    def _lifted_value(self, X0, Y, Xs) -> float:
        """F_λ(W, X) at the working weights (current λ), data terms / m."""
        xp = self.xp
        m = X0.shape[1]
        prev = [X0] + list(Xs)
        total = 0.0
        for l in range(self.L):
            U = self._affine(l, prev[l])
            total += float(self.lam[l]) * float(xp.sum(self.net.activations[l].divergence(U, Xs[l]))) / m
        Z = self._affine(self.L, prev[self.L])
        total += float(self.net.loss.value(Y, Z)) / m
        return total + self._reg()

    def _reg(self) -> float:
        xp = self.xp
        return float(sum(0.5 * float(r) * float(xp.sum(w * w)) for r, w in zip(self.rho, self.W, strict=True)))

    def _evaluate(self) -> dict:
        xp = self.xp
        rec = {}
        Xe, Ye = self._cols(self.X, self.eval_idx), self._cols(self.Y, self.eval_idx)
        me = Xe.shape[1]
        Us, Xs, Z = self._forward(Xe)
        rec["J"] = float(self.net.loss.value(Ye, Z)) / me + self._reg()
        key = "acc" if self.net.loss.classification else "mse"
        rec[f"train_{key}"] = _score(self.net, Z, Ye)
        if self.cfg.schedule == "fullbatch" and self.Xs_full is not None:
            rec["F"] = self._lifted_value(self.X, self.Y, self.Xs_full)
        elif self.L:
            Xh = self._x_steps(Xe, Ye, Us, Xs, self.cfg.x_iters, tol=self.cfg.tol, solver=self.cfg.x_solver)
            rec["F"] = self._lifted_value(Xe, Ye, Xh)
        else:
            rec["F"] = rec["J"]
        for name, Xa, Ya in (("test", self.Xte, self.Yte), ("val", self.Xva, self.Yva)):
            if Xa is not None:
                rec[f"{name}_{key}"] = _score(self.net, self._forward(Xa)[2], Ya)
        if not all(math.isfinite(v) for v in rec.values()):
            raise FloatingPointError(f"training diverged at epoch {self.epoch}: {rec} (try a larger gamma or smaller x_weight)")
        del xp
        return rec

    def _record(self, epoch_time: float):
        t0 = time.perf_counter()
        rec = {"epoch": self.epoch, **self._evaluate()}
        rec["time"] = self.train_time
        rec["epoch_time"] = epoch_time
        rec["eval_time"] = time.perf_counter() - t0
        rec["lam"] = self.lam.tolist()
        rec["gamma"] = self.gamma.tolist()
        self.history.append(rec)
        return rec

    # ---- early stopping ------------------------------------------------------------------------
    def _early_stop(self, rec) -> bool:
        return early_stop_update(self.best, rec, self.net.loss.classification, self.cfg.patience,
                                 lambda: {"W": [self.xp.copy(w) for w in self.W], "b": [self.xp.copy(v) for v in self.b]})

    # ---- state, checkpoints -----------------------------------------------------------------
    def sync_net(self):
        """Copy the working weights into ``self.net`` (numpy, the network's dtype), with the λ and ρ in use."""
        self.net.W = [np.array(to_numpy(w), dtype=self.net.dtype) for w in self.W]
        self.net.b = [np.array(to_numpy(v), dtype=self.net.dtype) for v in self.b]
        self.net.lam = np.array(self.lam, dtype=float)
        self.net.rho = np.array(self.rho, dtype=float)

    def state_arrays(self) -> dict:
        arr = {"lam": self.lam, "gamma": self.gamma, "lam0": self.lam0, "gamma0": self.gamma0, "rho": self.rho}
        for l, mb in enumerate(self.mom):
            if mb is not None:
                arr[f"momW{l}"], arr[f"momb{l}"] = mb
        if self.Xs_full is not None:
            for l, X in enumerate(self.Xs_full):
                arr[f"X{l + 1}"] = X
        if self.best["W"] is not None:
            for l, (w, v) in enumerate(zip(self.best["W"], self.best["b"], strict=True)):
                arr[f"bestW{l}"], arr[f"bestb{l}"] = w, v
        return arr

    def save(self, path: str):
        self.sync_net()
        meta = {"kind": "lifted", "epoch": self.epoch, "config": self.cfg.to_dict(), "history": self.history,
                "train_time": self.train_time,
                "best": {k: self.best[k] for k in ("score", "epoch", "bad_epochs")}}
        # the network's parameters are saved in the working dtype (exact resume)
        W_net, b_net = self.net.W, self.net.b
        self.net.W = [np.asarray(to_numpy(w)) for w in self.W]
        self.net.b = [np.asarray(to_numpy(v)) for v in self.b]
        try:
            save_checkpoint(path, self.net, self.state_arrays(), meta)
        finally:
            self.net.W, self.net.b = W_net, b_net

    def restore(self, path: str):
        W, b, arrays, meta = load_checkpoint(path)
        if meta.get("kind") != "lifted":
            raise ValueError(f"resume: {path!r} is a {meta.get('kind')!r} checkpoint, not a lifted one")
        _check_resume_net(self.net, meta, path)
        conv = lambda a: _convert(a, self.cfg.backend, self.cfg.device, self.cfg.dtype)  # noqa: E731
        self.W, self.b = [conv(w) for w in W], [conv(v) for v in b]
        self.lam, self.gamma, self.lam0, self.gamma0, self.rho = (
            np.asarray(arrays[k], dtype=float) for k in ("lam", "gamma", "lam0", "gamma0", "rho"))
        self.mom = [((conv(arrays[f"momW{l}"]), conv(arrays[f"momb{l}"])) if f"momW{l}" in arrays else None)
                    for l in range(self.L + 1)]
        if "X1" in arrays:
            self.Xs_full = [conv(arrays[f"X{l + 1}"]) for l in range(self.L)]
        self.epoch = int(meta["epoch"])
        self.history = list(meta["history"])
        self.train_time = float(meta["train_time"])
        self.best.update(meta["best"])
        if "bestW0" in arrays:
            self.best["W"] = [conv(arrays[f"bestW{l}"]) for l in range(self.L + 1)]
            self.best["b"] = [conv(arrays[f"bestb{l}"]) for l in range(self.L + 1)]

    # ---- main loop ------------------------------------------------------------------------------
    def _sync_device(self):
        if is_torch(self.X) and self.X.is_cuda:
            import torch

            torch.cuda.synchronize()

    def run(self) -> TrainResult:
        cfg = self.cfg
        if cfg.schedule == "fullbatch" and self.Xs_full is None and self.L:
            self.Xs_full = self._forward(self.X)[1]
        if not self.history:
            rec = self._record(0.0)
            self._early_stop(rec)
            self._log(rec)
        bs = self.m if (cfg.schedule == "fullbatch" or cfg.batch_size is None) else min(cfg.batch_size, self.m)
        n_batches = math.ceil(self.m / bs) if cfg.schedule == "minibatch" else 1
        bar = _Progress(total=(cfg.epochs - self.epoch) * n_batches, desc="lifted BCD", enabled=self.progress)
        try:
            while self.epoch < cfg.epochs:
                self._set_epoch_parameters(self.epoch)
                t0 = time.perf_counter()
                if cfg.schedule == "fullbatch":
                    self._fullbatch_sweep()
                    bar.update(1)
                else:
                    order = batch_order(self.m, self.epoch, cfg.seed, cfg.shuffle)
                    for i in range(n_batches):
                        idx = order[i * bs:(i + 1) * bs]
                        self._minibatch_step(self._cols(self.X, idx), self._cols(self.Y, idx))
                        bar.update(1)
                self._sync_device()
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
                    break
        finally:
            bar.close()
        return self._result()

    def _result(self) -> TrainResult:
        if self.cfg.restore_best and self.best["W"] is not None and self.best["epoch"] is not None \
                and not self.interrupted:
            self.W, self.b = list(self.best["W"]), list(self.best["b"])
        self.sync_net()
        last = self.history[-1]
        final = {k: v for k, v in last.items() if k.endswith(("_acc", "_mse")) or k in ("J", "F")}
        if self.cfg.restore_best and self.best["epoch"] is not None and not self.interrupted:
            final = {k: v for k, v in self.history[self.best["epoch"]].items()
                     if k.endswith(("_acc", "_mse")) or k in ("J", "F")}
        n_ep = max(1, sum(1 for r in self.history if r["epoch"] > 0))
        times = {"train_total": self.train_time, "per_epoch": self.train_time / n_ep,
                 "eval_total": float(sum(r.get("eval_time", 0.0) for r in self.history))}
        return TrainResult(net=self.net, history=self.history, config=self.cfg.to_dict(), method="fenchel",
                           final=final, times=times, stopped_early=self.stopped_early,
                           best_epoch=self.best["epoch"], interrupted=self.interrupted)

    def _log(self, rec):
        if self.verbose <= 0:
            return
        parts = [f"epoch {rec['epoch']:3d}"]
        for k in ("F", "J", "train_acc", "val_acc", "test_acc", "train_mse", "val_mse", "test_mse"):
            if k in rec:
                parts.append(f"{k} {rec[k]:.4f}")
        parts.append(f"time {rec['time']:.1f}s")
        msg = "  ".join(parts)
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)


def resolve_config(net: FenchelNetwork, config, overrides: dict, who: str) -> BCDConfig:
    """A validated copy of ``config`` (BCDConfig, dict of its fields, or None) with ``overrides`` applied."""
    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    if config is None:
        cfg = BCDConfig()
    elif isinstance(config, BCDConfig):
        cfg = copy.deepcopy(config)
    elif isinstance(config, dict):
        cfg = BCDConfig.from_dict(config)
    else:
        raise TypeError(f"config: expected a BCDConfig, a dict or None, got {type(config).__name__}")
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise TypeError(f"{who}: unknown option {k!r} (fields of BCDConfig: {[f.name for f in fields(BCDConfig)]})")
        setattr(cfg, k, v)
    return cfg.validate(net)


def train(net: FenchelNetwork, X, y, X_test=None, y_test=None, config: BCDConfig | dict | None = None, *,
          X_val=None, y_val=None, callbacks: Sequence[Callable] = (), verbose: int = 1, progress: bool | None = None,
          checkpoint: str | None = None, checkpoint_every: int = 1, resume: str | None = None,
          **overrides) -> TrainResult:
    """Train ``net`` by lifted BCD (module docstring) and return a :class:`TrainResult`.

    Parameters
    ----------
    net : FenchelNetwork (its weights are the initialisation and receive the result)
    X : d x m training data (features x samples); y : labels (m,) or targets k x m
    X_test, y_test : optional test data (accuracy per epoch)
    config : BCDConfig, a dict of its fields, or None; ``**overrides`` set single fields
    X_val, y_val : explicit validation data (otherwise ``config.val_fraction`` of the training set)
    callbacks : callables ``cb(epoch, record, net)``; returning True stops training after that epoch
    verbose : 0 = quiet, 1 = one line per epoch (stderr); progress : tqdm bar (None: when stderr is a tty)
    checkpoint : path of a .npz written every ``checkpoint_every`` epochs and at the end
    resume : path of a checkpoint to continue from (same network, data and config)

    Everything (config, data shapes, label range, finiteness, backend) is validated before any
    training work starts.
    """
    cfg = resolve_config(net, config, overrides, "train")
    _check_backend(cfg.backend, cfg.device)
    data = prepare_data(net, X, y, X_test, y_test, X_val, y_val, cfg.val_fraction, cfg.seed)
    trainer = LiftedTrainer(net, data, cfg, callbacks=callbacks, verbose=verbose, progress=progress,
                            checkpoint=checkpoint, checkpoint_every=checkpoint_every)
    if resume is not None:
        trainer.restore(resume)
    return trainer.run()


def evaluate(net: FenchelNetwork, X, y) -> dict:
    """J and accuracy (or mean squared error) of the feed-forward network on (X, y)."""
    X = net.check_input(X)
    Y = net.check_targets(to_numpy(y), X.shape[1])
    _, Z = net.forward(X)
    Z = to_numpy(Z)
    out = {"J": float(net.loss.value(Y, Z)) / X.shape[1] + net.regulariser()}
    key = "acc" if net.loss.classification else "mse"
    out[key] = _score(net, Z, Y)
    return out

r"""The single-process step executor: lifted BCD on numpy or torch arrays (CPU or CUDA).

Shapes: features x samples. The samples are stored as contiguous rows (m x d) and used through the
transposed view (d x m), so gathering a mini-batch is a copy of contiguous rows.

One mini-batch B (:meth:`LocalExecutor.update`; the schedule of :mod:`fenchel_cvx.training`):

1. forward pass U_l = A_l(W_l, X_l) + b_l 1ᵀ, X_{l+1} = φ_l(U_l) on the batch (``net.forward_pass``);
2. X-steps from X_L down to X_1: the block of each layer (:func:`fenchel_cvx.blocks.x_block`) with
   λ_{l−1} divided by ``x_weight``, solved by its fixed-budget APG (``x_solver="apg"``) or its certified
   FISTA (``"block"``), ``x_iters`` iterations, warm-started at the forward value;
3. W-steps from W_0 up to W_L: the block of each layer (:func:`fenchel_cvx.blocks.w_block`) with the
   proximal term γ_l towards the weights before the step, solved by its MM ridge steps (``w_solver="mm"``,
   curvature scale ``w_curvature``), Newton-CG (``"block"``) or one Adam-metric step on the block gradient
   (``"adaptive"``, step ``w_lr``; the layer's moments persist across batches); with ``refresh`` the next
   W-step's input is re-forwarded,
   X_{l+1} ← φ_l(U_l^new) (with ``refresh_inertia`` after the inertia below);
4. inertia β: W ← W^new + β (W^pre − W^prev-batch).

With ``shuffle="batches"`` (a fixed partition into batches, their order permuted each epoch) the
executor keeps, per batch, its inputs and targets (contiguous copies) and the cache of the first
W-block's MM step (the eigendecomposition of the batch's Gram matrix;
:func:`fenchel_cvx.blocks.mm.mm_steps`): they do not change from one epoch to the next. The steps
are the same as without the cache, up to rounding.

A full-batch sweep keeps X_1..X_L across sweeps, solves the X-blocks (certified FISTA, 50·``x_iters``
iterations at most) and then the W-blocks on all samples, and accepts a block's new value only if its
block objective does not exceed the current one (F_λ never rises for a fixed λ).
"""

from __future__ import annotations

import numpy as np

from ..backend import is_torch, namespace, synchronize, to_backend, to_numpy
from ..blocks import LiftedState, w_block, x_block
from ..blocks.adaptive import AdaptiveState
from .data import eval_subset
from .executor import Schedule, StepExecutor

__all__ = ["LocalExecutor"]


class LocalExecutor(StepExecutor):
    """Lifted BCD in this process (module docstring). ``init_hidden``: initial X_1..X_L of the full-batch
    schedule (default: the forward pass)."""

    def __init__(self, init_hidden=None):
        self.init_hidden = init_hidden

    # ---- placement -----------------------------------------------------------------------
    def init_state(self, net, data: dict, cfg) -> None:
        self.net, self.cfg = net, cfg
        self.L = net.L
        conv = lambda a: to_backend(a, cfg.backend, cfg.device, cfg.dtype)  # noqa: E731
        # samples as contiguous rows (m x d), used through the transposed view (d x m)
        convT = lambda a: None if a is None else conv(np.asarray(a).T).T  # noqa: E731
        self.X, self.Y = convT(data["X"]), convT(data["Y"])
        self.Xte, self.Yte = convT(data["X_test"]), convT(data["Y_test"])
        self.Xva, self.Yva = convT(data["X_val"]), convT(data["Y_val"])
        self.m = self.X.shape[1]
        self.xp = namespace(self.X)
        if not is_torch(self.X):  # the numpy path factorises with scipy: import it before any timing
            import scipy.linalg  # noqa: F401
        self._conv = conv
        self.W = [conv(w) for w in net.W]
        self.b = [conv(v) for v in net.b]
        self.mom = [None] * (self.L + 1)   # inertia buffers: W_pre − W_prev-batch, b likewise
        self.adaptive = [AdaptiveState() for _ in range(self.L + 1)]  # Adam moments of the adaptive W-steps
        self.Xs_full = None                 # the full-batch lifted state
        # shuffle="batches": per batch (X0, Y, the first W-block's MM cache)
        self.batch_cache = {}
        if cfg.schedule == "fullbatch" and self.L:
            if self.init_hidden is not None:
                Xs = net.check_hidden([np.asarray(to_numpy(X)) for X in self.init_hidden], self.m)
                self.Xs_full = [conv(X) for X in Xs]
            else:
                self.Xs_full = self.net.forward_pass(self.W, self.b, self.X)[1]

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

    def _state(self, X0, Y, Xs, Us, lam):
        return LiftedState(self.net, self.W, self.b, lam, X0, Y, Xs, Us)

    # ---- the steps -------------------------------------------------------------------------
    def x_steps(self, state: LiftedState, iters: int, lam_scale: float = 1.0, tol=None, monotone: bool = False,
                solver: str = "block") -> list:
        """X-steps from X_L down to X_1 at ``state`` (its Us are the pre-activations of the current weights);
        returns the new [X_1..X_L] (``state.Xs`` is updated in place as the steps go)."""
        Xs = state.Xs
        for l in range(self.L, 0, -1):
            # U_{l-1} is still valid (X_{l-1} is updated after X_l); the block reads X_{l+1} from Xs
            blk = x_block(state, l, lam_scale)
            if solver == "apg":
                Xs[l - 1] = blk.solve_fixed(iters=iters).solution
                continue
            res = blk.solve_fast(init=None, tol=tol, max_iter=iters)
            if monotone and not (res.objective <= blk.objective(Xs[l - 1])):
                continue
            Xs[l - 1] = res.solution
        return Xs

    def w_step(self, state: LiftedState, l: int, sch: Schedule, n_iters: int, U=None,
               monotone: bool = False, cache: dict | None = None):
        """The W-step of layer l from the current weights (solver ``sch.cfg.w_solver``); returns
        (W, b, U_new or None). ``cache``: the MM step's cache for this layer's (fixed) input
        (:func:`fenchel_cvx.blocks.mm.mm_steps`)."""
        cfg = sch.cfg
        blk = w_block(state, l, gamma=float(sch.gamma[l]), U=U)
        if cfg.w_solver == "mm":
            res = blk.solve_fixed(iters=n_iters, curvature=float(sch.w_curvature[l]), cache=cache)
            W, b = res.solution
            return W, b, (res.info["U"] if l < self.L else None)
        if cfg.w_solver == "adaptive":
            res = blk.solve_adaptive(self.adaptive[l], float(sch.w_lr[l]),
                                     warmup_steps=cfg.w_lr_warmup * sch.batches_per_epoch)
            W, b = res.solution
            return W, b, None
        res = blk.solve_fast(init=None, tol=cfg.tol, max_iter=n_iters)
        W, b = res.solution
        if monotone and not (res.objective <= blk.objective((self.W[l], self.b[l]))):
            return self.W[l], self.b[l], None
        return W, b, None

    def start_phase(self) -> None:
        self.mom = [None] * (self.L + 1)
        self.adaptive = [AdaptiveState() for _ in range(self.L + 1)]

    def update(self, idx, schedule: Schedule) -> None:
        if schedule.cfg.schedule == "fullbatch":
            self._fullbatch_sweep(schedule)
        else:
            self._minibatch_step(*self._batch(idx, schedule.cfg.shuffle == "batches"), schedule)

    def _batch(self, idx, cached: bool):
        """(X0, Y, cache) of the batch ``idx`` (X0 is d x m_B, Y is k x m_B): gathered columns
        and no cache, or (``cached``: the batch recurs every epoch) the kept copies and the
        batch's MM cache of the first W-block."""
        if not cached:
            return self._cols(self.X, idx), self._cols(self.Y, idx), None
        key = np.asarray(idx).tobytes()
        entry = self.batch_cache.get(key)
        if entry is None:
            entry = self.batch_cache[key] = (self._cols(self.X, idx), self._cols(self.Y, idx), {})
        return entry

    def _minibatch_step(self, X0, Y, cache0, sch: Schedule):
        cfg, L = sch.cfg, self.L
        Us, Xs, _ = self.net.forward_pass(self.W, self.b, X0)
        state = self._state(X0, Y, list(Xs), Us, sch.lam)
        if L:
            self.x_steps(state, cfg.x_iters, lam_scale=cfg.x_weight, tol=cfg.tol, solver=cfg.x_solver)
        state.Us = None  # the W-steps change the weights: pre-activations are recomputed (U_0 is passed)
        W_pre, b_pre = list(self.W), list(self.b)
        U = Us[0] if L else None
        for l in range(L + 1):
            if l > 0 or U is None:
                U = self.net.affine(l, self.W[l], self.b[l], state.inputs(l))
            n_it = cfg.w_iters if l < L else cfg.last_w_iters
            W, b, Unew = self.w_step(state, l, sch, n_it, U=U, cache=cache0 if l == 0 else None)
            if cfg.momentum > 0 and self.mom[l] is not None:
                dW, db = self.mom[l]
                W, b = W + cfg.momentum * dW, b + cfg.momentum * db
                if cfg.refresh_inertia:
                    Unew = None
            self.W[l], self.b[l] = W, b
            if l < L and cfg.refresh:
                if Unew is None:
                    Unew = self.net.affine(l, W, b, state.inputs(l))
                state.Xs[l] = self.net.activations[l].phi(Unew)
        if cfg.momentum > 0:
            self.mom = [(self.W[l] - W_pre[l], self.b[l] - b_pre[l]) for l in range(L + 1)]

    def _fullbatch_sweep(self, sch: Schedule):
        cfg, L = sch.cfg, self.L
        X0, Y = self.X, self.Y
        if L:
            prev = [X0] + self.Xs_full
            Us = [self.net.affine(l, self.W[l], self.b[l], prev[l]) for l in range(L)]
            state = self._state(X0, Y, list(self.Xs_full), Us, sch.lam)
            self.Xs_full = self.x_steps(state, 50 * cfg.x_iters, tol=cfg.tol, monotone=True)
        state = self._state(X0, Y, list(self.Xs_full or []), None, sch.lam)
        for l in range(L + 1):
            U = self.net.affine(l, self.W[l], self.b[l], state.inputs(l))
            n_it = cfg.w_iters if l < L else cfg.last_w_iters
            W, b, _ = self.w_step(state, l, sch, n_it, U=U, monotone=True)
            self.W[l], self.b[l] = W, b

    # ---- evaluation --------------------------------------------------------------------------
    def lifted_value(self, X0, Y, Xs, lam) -> float:
        """F_λ(W, X) at the working weights (data terms / m): the network's one evaluator."""
        loss_sum, div_sums = self.net.lifted_sums(self.W, self.b, X0, Y, Xs)
        return self.net.lifted_value(loss_sum, div_sums, X0.shape[1], lam, self.W)

    def evaluate(self, schedule: Schedule, eval_idx) -> dict:
        """J and the training score on the columns ``eval_idx`` (None: all); F_λ on the seeded subset of
        ``eval_f_samples`` of them (full batch: on the kept lifted state, all samples); test/val scores."""
        cfg, net = schedule.cfg, self.net
        rec = {}
        Xe, Ye = self._cols(self.X, eval_idx), self._cols(self.Y, eval_idx)
        me = Xe.shape[1]
        Us, Xs, Z = net.forward_pass(self.W, self.b, Xe)
        rec["J"] = float(net.loss.value(Ye, Z)) / me + net.regulariser(self.W)
        key = net.loss.metric
        rec[f"train_{key}"] = net.loss.score(Ye, Z)
        if cfg.schedule == "fullbatch" and self.Xs_full is not None:
            rec["F"] = self.lifted_value(self.X, self.Y, self.Xs_full, schedule.lam)
        elif self.L:
            sub = eval_subset(me, cfg.eval_f_samples, cfg.seed + 1)
            if sub is not None:
                Xe, Ye = self._cols(Xe, sub), self._cols(Ye, sub)
                Us, Xs, _ = net.forward_pass(self.W, self.b, Xe)
            state = self._state(Xe, Ye, list(Xs), Us, schedule.lam)
            Xh = self.x_steps(state, cfg.x_iters, tol=cfg.tol, solver=cfg.x_solver)
            rec["F"] = self.lifted_value(Xe, Ye, Xh, schedule.lam)
        else:
            rec["F"] = rec["J"]
        for name, Xa, Ya in (("test", self.Xte, self.Yte), ("val", self.Xva, self.Yva)):
            if Xa is not None:
                rec[f"{name}_{key}"] = net.loss.score(Ya, net.forward_pass(self.W, self.b, Xa)[2])
        return rec

    # ---- weights and optimiser state -----------------------------------------------------------
    def weights(self):
        return self.W, self.b

    def set_weights(self, W, b) -> None:
        self.W = [self._conv(w) if not _same_kind(w, self.X) else w for w in W]
        self.b = [self._conv(v) if not _same_kind(v, self.X) else v for v in b]

    def state_arrays(self) -> dict:
        arr = {}
        for l, mb in enumerate(self.mom):
            if mb is not None:
                arr[f"momW{l}"], arr[f"momb{l}"] = mb
        for l, st in enumerate(self.adaptive):
            for k, a in st.arrays().items():
                arr[f"adam{k}{l}"] = a
            if st.t:
                arr[f"adamt{l}"] = np.array(st.t)
        if self.Xs_full is not None:
            for l, X in enumerate(self.Xs_full):
                arr[f"X{l + 1}"] = X
        return arr

    def load_state_arrays(self, arrays: dict) -> None:
        conv = self._conv
        self.mom = [((conv(arrays[f"momW{l}"]), conv(arrays[f"momb{l}"])) if f"momW{l}" in arrays else None)
                    for l in range(self.L + 1)]
        self.adaptive = [AdaptiveState() for _ in range(self.L + 1)]
        for l, st in enumerate(self.adaptive):
            if f"adammW{l}" in arrays:
                for k in ("mW", "vW", "mb", "vb"):
                    setattr(st, k, conv(arrays[f"adam{k}{l}"]))
                st.t = int(arrays[f"adamt{l}"])
        if "X1" in arrays:
            self.Xs_full = [conv(arrays[f"X{l + 1}"]) for l in range(self.L)]

    def hidden(self):
        """The full-batch lifted state [X_1..X_L] as numpy copies (None for the mini-batch schedule)."""
        if self.Xs_full is None:
            return None
        return [np.array(to_numpy(X)) for X in self.Xs_full]

    def synchronize(self) -> None:
        synchronize(self.X)


def _same_kind(a, ref) -> bool:
    """True when ``a`` is already an array of ``ref``'s backend and dtype (no conversion needed)."""
    if is_torch(ref):
        return is_torch(a) and a.dtype == ref.dtype and a.device == ref.device
    return isinstance(a, np.ndarray) and a.dtype == ref.dtype

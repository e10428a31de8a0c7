r"""The single-process step executor: lifted BCD on numpy or torch arrays (CPU or CUDA).

Shapes: features x samples. The samples are stored as contiguous rows (m x d) and used through the
transposed view (d x m), so gathering a mini-batch is a copy of contiguous rows.

One mini-batch B (:meth:`LocalExecutor.update`; the schedule of :mod:`fenchel_cvx.training`):

1. forward pass U_l = A_l(W_l, X_l) + b_l 1ᵀ, X_{l+1} = φ_l(U_l) on the batch (``net.forward_pass``);
2. X-steps from X_L down to X_1: the block of each layer (:func:`fenchel_cvx.blocks.x_block`) with
   λ_{l−1} divided by ``x_weight``, solved by its fixed-budget APG (``x_solver="apg"``) or its certified
   FISTA (``"block"``), ``x_iters`` iterations, warm-started at the forward value;
3. W-steps from W_0 up to W_L: the block of each layer (:func:`fenchel_cvx.blocks.w_block`) with the proximal term γ_l
   towards the weights before the step, solved by its MM ridge steps (``w_solver="mm"``, curvature scale
   ``w_curvature``), Newton-CG (``"block"``) or one Adam-metric step on the block gradient (``"adaptive"``, step
   ``w_lr``; the layer's moments persist across batches); with ``w0_subspace`` = k the first layer's MM step is
   restricted to the training inputs' top-k principal directions (:mod:`.subspace`); with ``refresh`` the next
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

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import is_torch, namespace, synchronize, to_backend, to_numpy
from ..blocks import LiftedState, w_block, x_block
from .batches import eval_subset
from .executor import LiftedBCDState, LiftedExecutor, Schedule
from .subspace import principal_directions, subspace_mm_steps

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..network import FenchelNetwork
    from .config import BCDConfig

__all__ = ["LocalExecutor"]


class LocalExecutor(LiftedExecutor):
    """Lifted BCD in this process (module docstring). ``init_hidden``: initial X_1..X_L of the full-batch
    schedule (default: the forward pass)."""

    def __init__(self, init_hidden=None):
        self.init_hidden = init_hidden

    # ---- placement -----------------------------------------------------------------------
    def init_state(self, net: FenchelNetwork, data: dict, cfg: BCDConfig) -> LiftedBCDState:
        self.net, self.config = net, cfg
        self.L = net.L
        # samples as contiguous rows (m x d), used through the transposed view (d x m)
        self.X, self.Y = self._columns(data["X"]), self._columns(data["Y"])
        self.Xte, self.Yte = self._columns(data["X_test"]), self._columns(data["Y_test"])
        self.Xva, self.Yva = self._columns(data["X_val"]), self._columns(data["Y_val"])
        self.m = self.X.shape[1]
        self.xp = namespace(self.X)
        if not is_torch(self.X):  # the numpy path factorises with scipy: import it before any timing
            import scipy.linalg  # noqa: F401
        W = [self.to_working(w, "W") for w in net.W]
        b = [self.to_working(v, "b") for v in net.b]
        hidden = None                      # the full-batch lifted state
        # shuffle="batches": per batch (X0, Y, the first W-block's MM cache); derived data, not state
        self.batch_cache = {}
        # per weight layer: the arrays the conv W-blocks' design matrices are written into (scratch, not state)
        self.workspaces = {}
        # w0_subspace: E_k of the training inputs (derived from the data, recomputed on resume; subspace.py)
        self.subspace = None
        if cfg.w0_subspace:
            self.subspace = self.to_working(principal_directions(self.X, cfg.w0_subspace))
        if cfg.schedule == "fullbatch" and self.L:
            if self.init_hidden is not None:
                Xs = net.check_hidden([np.asarray(to_numpy(X)) for X in self.init_hidden], self.m)
                hidden = [self.to_working(X, "hidden") for X in Xs]
            else:
                hidden = self.net.forward_pass(W, b, self.X)[1]
        return self.initial_state(net, cfg, W, b, hidden)

    def to_working(self, a: Any, path: str = "") -> Any:
        """``a`` (numpy or backend array) in the run's backend, dtype and device (no copy when it already is)."""
        cfg = self.config
        return to_backend(a, cfg.backend, cfg.device, cfg.dtype)

    def _columns(self, a):
        """d x m data stored as the transpose of a contiguous m x d working array (None stays None)."""
        return None if a is None else self.to_working(np.asarray(a).T).T

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

    def _lifted(self, W, b, X0, Y, Xs, Us, lam):
        return LiftedState(self.net, W, b, lam, X0, Y, Xs, Us)

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

    def w_step(self, state: LiftedState, l: int, sch: Schedule, n_iters: int, adaptive, U=None,
               monotone: bool = False, cache: dict | None = None, need_u: bool = True):
        """The W-step of layer l from the weights of ``state`` (solver ``sch.cfg.w_solver``; ``adaptive``: the
        layer's :class:`~fenchel_cvx.blocks.adaptive.AdaptiveState`, updated in place); returns
        (W, b, U_new or None). ``cache``: the MM step's cache for this layer's (fixed) input
        (:func:`fenchel_cvx.blocks.mm.mm_steps`); ``need_u=False``: the caller discards U_new, so the MM step
        may skip its last product (U_new is then None)."""
        cfg = sch.cfg
        # each layer's block is done with when the step returns: its design matrix's array is reused
        blk = w_block(state, l, gamma=float(sch.gamma[l]), U=U, workspace=self.workspaces.setdefault(l, {}))
        if l == 0 and self.subspace is not None:
            W, b, Unew = subspace_mm_steps(blk, self.subspace, n_iters, float(sch.w_curvature[0]), U=U, cache=cache)
            return W, b, (Unew if self.L else None)
        if cfg.w_solver == "mm":
            res = blk.solve_fixed(iters=n_iters, curvature=float(sch.w_curvature[l]), cache=cache,
                                  final_u=need_u and l < self.L)
            W, b = res.solution
            return W, b, (res.info["U"] if l < self.L else None)
        if cfg.w_solver == "adaptive":
            res = blk.solve_adaptive(adaptive, float(sch.w_lr[l]),
                                     warmup_steps=cfg.w_lr_warmup * sch.batches_per_epoch)
            W, b = res.solution
            return W, b, None
        res = blk.solve_fast(init=None, tol=cfg.tol, max_iter=n_iters)
        W, b = res.solution
        if monotone and not (res.objective <= blk.objective((state.W[l], state.b[l]))):
            return state.W[l], state.b[l], None
        return W, b, None

    def update(self, state: LiftedBCDState, idx, schedule: Schedule) -> LiftedBCDState:
        """One mini-batch on the columns ``idx`` or, full batch (``idx`` None), one sweep (module docstring);
        returns the new state (new lists of weights and inertia buffers; the adaptive W-steps' moments are updated
        in place, as torch's optimisers do: keep the returned state)."""
        if schedule.cfg.schedule == "fullbatch":
            return self._fullbatch_sweep(state, schedule)
        X0, Y, cache0 = self._batch(idx, schedule.cfg.shuffle == "batches")
        return self._minibatch_step(state, X0, Y, cache0, schedule)

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

    def _minibatch_step(self, st: LiftedBCDState, X0, Y, cache0, sch: Schedule) -> LiftedBCDState:
        cfg, L = sch.cfg, self.L
        W_new, b_new = list(st.W), list(st.b)
        # with the W-steps' workspaces: the first conv layer's im2col matrix is formed here and read again there
        Us, Xs, _ = self.net.forward_pass(W_new, b_new, X0, self.workspaces)
        state = self._lifted(W_new, b_new, X0, Y, list(Xs), Us, sch.lam)
        if L:
            self.x_steps(state, cfg.x_iters, lam_scale=cfg.x_weight, tol=cfg.tol, solver=cfg.x_solver)
        state.Us = None  # the W-steps change the weights: pre-activations are recomputed (U_0 is passed)
        U = Us[0] if L else None
        for l in range(L + 1):
            if l > 0 or U is None:
                U = self.net.affine(l, W_new[l], b_new[l], state.inputs(l))
            n_it = cfg.w_iters if l < L else cfg.last_w_iters
            inertia = cfg.momentum > 0 and st.mom[l] is not None
            # U at the W-step's result is read only by the refresh, and not after inertia with refresh_inertia
            need_u = l < L and cfg.refresh and not (inertia and cfg.refresh_inertia)
            W, b, Unew = self.w_step(state, l, sch, n_it, st.adaptive[l], U=U,
                                     cache=cache0 if l == 0 else None, need_u=need_u)
            if inertia:
                dW, db = st.mom[l]
                W, b = W + cfg.momentum * dW, b + cfg.momentum * db
                if cfg.refresh_inertia:
                    Unew = None
            W_new[l], b_new[l] = W, b   # the LiftedState shares these lists: the next block reads them
            if l < L and cfg.refresh:
                if Unew is None:
                    # (φ(U_new) only feeds layer l + 1: U_new in the cheaper storage order, the same values)
                    Unew = self.net.affine_any_order(l, W, b, state.inputs(l), self.workspaces.setdefault(l, {}))
                state.Xs[l] = self.net.activations[l].phi(Unew)
        mom = st.mom
        if cfg.momentum > 0:
            mom = [(W_new[l] - st.W[l], b_new[l] - st.b[l]) for l in range(L + 1)]
        return dataclasses.replace(st, W=W_new, b=b_new, mom=mom)

    def _fullbatch_sweep(self, st: LiftedBCDState, sch: Schedule) -> LiftedBCDState:
        cfg, L = sch.cfg, self.L
        X0, Y = self.X, self.Y
        W_new, b_new = list(st.W), list(st.b)
        hidden = st.hidden
        if L:
            prev = [X0] + hidden
            Us = [self.net.affine(l, W_new[l], b_new[l], prev[l]) for l in range(L)]
            state = self._lifted(W_new, b_new, X0, Y, list(hidden), Us, sch.lam)
            hidden = self.x_steps(state, 50 * cfg.x_iters, tol=cfg.tol, monotone=True)
        state = self._lifted(W_new, b_new, X0, Y, list(hidden or []), None, sch.lam)
        for l in range(L + 1):
            U = self.net.affine(l, W_new[l], b_new[l], state.inputs(l))
            n_it = cfg.w_iters if l < L else cfg.last_w_iters
            W_new[l], b_new[l], _ = self.w_step(state, l, sch, n_it, st.adaptive[l], U=U, monotone=True)
        return dataclasses.replace(st, W=W_new, b=b_new, hidden=hidden)

    # ---- evaluation --------------------------------------------------------------------------
    def lifted_objective(self, W, b, X0, Y, Xs, lam) -> float:
        """F_λ(W, X) at the weights (W, b) (data terms / m): the network's one evaluator
        (:meth:`fenchel_cvx.network.FenchelNetwork.lifted_from_sums`)."""
        loss_sum, div_sums = self.net.lifted_sums(W, b, X0, Y, Xs)
        return self.net.lifted_from_sums(loss_sum, div_sums, X0.shape[1], lam, W)

    def evaluate(self, st: LiftedBCDState, schedule: Schedule, eval_idx) -> dict:
        """J and the training score on the columns ``eval_idx`` (None: all); F_λ on the seeded subset of
        ``eval_f_samples`` of them (full batch: on the kept lifted state, all samples); test/val scores."""
        cfg, net = schedule.cfg, self.net
        W, b = st.W, st.b
        rec = {}
        Xe, Ye = self._cols(self.X, eval_idx), self._cols(self.Y, eval_idx)
        me = Xe.shape[1]
        Us, Xs, Z = net.forward_pass(W, b, Xe)
        rec["J"] = float(net.loss.value(Ye, Z)) / me + net.regulariser(W)
        key = net.loss.metric
        rec[f"train_{key}"] = net.loss.score(Ye, Z)
        if cfg.schedule == "fullbatch" and st.hidden is not None:
            rec["F"] = self.lifted_objective(W, b, self.X, self.Y, st.hidden, schedule.lam)
        elif self.L:
            sub = eval_subset(me, cfg.eval_f_samples, cfg.seed + 1)
            if sub is not None:
                Xe, Ye = self._cols(Xe, sub), self._cols(Ye, sub)
                Us, Xs, _ = net.forward_pass(W, b, Xe)
            state = self._lifted(W, b, Xe, Ye, list(Xs), Us, schedule.lam)
            Xh = self.x_steps(state, cfg.x_iters, tol=cfg.tol, solver=cfg.x_solver)
            rec["F"] = self.lifted_objective(W, b, Xe, Ye, Xh, schedule.lam)
        else:
            rec["F"] = rec["J"]
        for name, Xa, Ya in (("test", self.Xte, self.Yte), ("val", self.Xva, self.Yva)):
            if Xa is not None:
                rec[f"{name}_{key}"] = net.loss.score(Ya, net.forward_pass(W, b, Xa)[2])
        return rec

    def synchronize(self) -> None:
        """Wait for queued device work on the data's device (timings)."""
        synchronize(self.X)

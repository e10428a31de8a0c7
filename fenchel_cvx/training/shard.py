r"""The worker-side kernels of the Dask runner: pure functions of a data shard (module level, so that Dask
pickles them by reference), also used by ``benchmarks/dask_scaling.py`` to time one shard's work.

Shapes: features x samples. A shard is a dict ``{"X": m_k x d rows, "Y": m_k x k rows}`` (samples as
contiguous rows, used as d x m_k views); ``loc`` selects a batch's local columns (None = all). ``net`` is
the network without its parameters (:meth:`fenchel_cvx.network.FenchelNetwork.skeleton`): the activations,
the loss, the bias flag and the affine maps. A batch state (the dict returned by :func:`batch_start`) holds
the shard's X_0, Y, the lifted X_l after the X-steps, and per W-block l the augmented input X̃_l, the
pre-activation U_l and the reductions ``red[l] = (packed X̃X̃ᵀ or None, T X̃ᵀ)`` with
T = U − ∇H(U)/κ (:func:`target_shift`). Every block fact comes from :mod:`fenchel_cvx.blocks`; the forward
pass and the lifted-objective sums are the network's own (:meth:`~fenchel_cvx.network.FenchelNetwork.forward_pass`,
:meth:`~fenchel_cvx.network.FenchelNetwork.lifted_sums`), so each shard computes exactly its columns of the
single-process computation (to rounding).
"""

from __future__ import annotations

import math

import numpy as np

from ..blocks import LiftedState, x_block
from ..blocks.glm import DataTerm
from ..blocks.mm import augment
from ..blocks.w_blocks import data_term_of

__all__ = ["load_shard", "columns", "batch_start", "mm_round", "advance", "reductions", "eval_shard",
           "target_shift", "pack_lower", "unpack_lower", "payload_bytes", "warm_up"]


def load_shard(X_rows, Y_rows, dtype: str) -> dict:
    """A shard as stored on its worker: samples as contiguous rows (m_k x d, m_k x k), used as d x m_k views."""
    return {"X": np.ascontiguousarray(X_rows, dtype=np.dtype(dtype)),
            "Y": np.ascontiguousarray(Y_rows, dtype=np.dtype(dtype))}


def columns(rows, loc):
    """Columns ``loc`` (local indices, None = all) of a row-stored array, as a features x samples view."""
    return rows.T if loc is None else rows[loc].T


def x_steps(net, W, b, lam, X0, Y, Us, Xs, iters: int, lam_scale: float):
    """X-steps from X_L down to X_1 by the blocks' fixed-budget APG (``solve_fixed``) on this shard's columns.

    The APG iterates do not depend on the number of columns (step t = 1/L with L ∝ 1/m and ∇g ∝ 1/m; the
    prox step t' = tλ/m and the momentum depend on W, λ and φ only), so the shard's columns equal the
    single-process X-steps' columns."""
    state = LiftedState(net, W, b, lam, X0, Y, list(Xs), Us)
    for l in range(net.L, 0, -1):
        state.Xs[l - 1] = x_block(state, l, lam_scale).solve_fixed(iters=iters).solution
    return state.Xs


def target_shift(net, l: int, lam, m_batch: int, U, target):
    """T = U − ∇H(U)/κ of W-block l (the MM step's target; H = w·ℓ from
    :func:`~fenchel_cvx.blocks.w_blocks.data_term_of` with the batch's m, so that the shard's columns of T are
    the batch's)."""
    loss, weight = data_term_of(net, l, lam, m_batch)
    term = DataTerm(loss, target, weight)
    return U - term.grad(U) / term.kappa


def _prep_layer(net, state, l, W_l, b_l, Xin, U, lam, m_batch):
    """Set up W-block l on this shard: X̃, U_0 (= W_l X + b_l at the weights before the step), G = X̃X̃ᵀ, R = TX̃ᵀ."""
    target = state["Xs"][l] if l < net.L else state["Y"]
    if U is None:
        U = W_l @ Xin + b_l[:, None]
    Xa = augment(Xin, net.bias)
    T = target_shift(net, l, lam, m_batch, U, target)
    state["Xa"][l], state["U"][l] = Xa, U
    state["red"][l] = (pack_lower(Xa @ Xa.T), T @ Xa.T)


_TRIL: dict = {}


def _tril(n: int):
    if n not in _TRIL:
        _TRIL[n] = np.tril_indices(n)
    return _TRIL[n]


def pack_lower(G):
    """The lower triangle of a symmetric n x n matrix as a vector of n(n+1)/2 entries (half the bytes)."""
    return G[_tril(G.shape[0])]


def unpack_lower(g):
    """The symmetric matrix of a packed lower triangle (the Cholesky factorisation reads the lower triangle
    only, so the factor is the one of the full matrix the single-process code builds)."""
    n = int(round((math.sqrt(8 * g.size + 1) - 1) / 2))
    G = np.zeros((n, n), dtype=g.dtype)
    G[_tril(n)] = g
    return G + np.tril(G, -1).T


def _new_state(state):
    """A shallow copy (tasks never mutate their inputs: a recomputed task must see the same input)."""
    return {k: (dict(v) if isinstance(v, dict) else (list(v) if isinstance(v, list) else v)) for k, v in state.items()}


def batch_start(shard, loc, net, W, b, lam, opt):
    """Round 1 of a batch on one shard: forward pass, X-steps, the first reductions of the first W-block(s).

    ``opt``: ``x_iters``, ``x_weight``, ``m_batch`` (the batch's size) and ``layers`` (the W-blocks set up now)."""
    X0, Y = columns(shard["X"], loc), columns(shard["Y"], loc)
    Us, Xs, _ = net.forward_pass(W, b, X0)
    if net.L:
        Xs = x_steps(net, W, b, lam, X0, Y, Us, Xs, opt["x_iters"], opt["x_weight"])
    state = {"X0": X0, "Y": Y, "Xs": Xs, "Xa": {}, "U": {}, "red": {}}
    prev = [X0] + list(Xs)
    for l in opt["layers"]:
        _prep_layer(net, state, l, W[l], b[l], prev[l], Us[0] if (l == 0 and net.L) else None, lam, opt["m_batch"])
    return state


def mm_round(state, net, thetas, lam, m_batch):
    """One more MM step of the W-blocks in ``thetas`` (layer -> Θ): U_k = ΘX̃, R = T(U_k)X̃ᵀ."""
    state = _new_state(state)
    state["red"] = {}
    for l, Theta in thetas.items():
        Xa = state["Xa"][l]
        Uk = Theta @ Xa
        target = state["Xs"][l] if l < net.L else state["Y"]
        T = target_shift(net, l, lam, m_batch, Uk, target)
        state["U"][l] = Uk
        state["red"][l] = (None, T @ Xa.T)
    return state


def advance(state, net, l, Theta, post, W_next, b_next, lam, m_batch):
    """After W-block l (refresh schedule): X_{l+1} ← φ(ΘX̃) -- the W-step's own solution, as the blocks'
    ``solve_fixed`` returns it -- or φ(W_post X_l + b_post) when ``post`` = (W_post, b_post) is given
    (``refresh_inertia``); then set up W-block l+1 on the refreshed input."""
    state = _new_state(state)
    state["red"] = {}
    if post is not None:
        Xin = state["X0"] if l == 0 else state["Xs"][l - 1]
        Unew = post[0] @ Xin + post[1][:, None]
    else:
        Unew = Theta @ state["Xa"][l]
    state["Xs"][l] = net.activations[l].phi(Unew)
    state["Xa"].pop(l, None)  # X̃_l is not needed any more
    state["U"].pop(l, None)
    _prep_layer(net, state, l + 1, W_next, b_next, state["Xs"][l], None, lam, m_batch)
    return state


def reductions(state):
    """The reductions ``{l: (packed G or None, R)}`` of a batch state (what the driver gathers)."""
    return state["red"]


def eval_shard(shard, loc, net, W, b, lam, opt):
    """Sums over this shard's evaluation columns: ``m``, ``loss`` (ℓ of the forward pass), ``score``·m_k and,
    with ``opt["lifted"]``, the lifted sums after one pass of X-steps (``div`` per layer, ``F_loss``)."""
    X0, Y = columns(shard["X"], loc), columns(shard["Y"], loc)
    mk = X0.shape[1]
    if mk == 0:
        return {"m": 0, "loss": 0.0, "score": 0.0, "div": [0.0] * net.L, "F_loss": 0.0}
    Us, Xs, Z = net.forward_pass(W, b, X0)
    out = {"m": mk, "loss": float(net.loss.value(Y, Z)), "score": net.loss.score(Y, Z) * mk}
    if opt.get("lifted") and net.L:
        Xh = x_steps(net, W, b, lam, X0, Y, Us, Xs, opt["x_iters"], 1.0)
        out["F_loss"], out["div"] = net.lifted_sums(W, b, X0, Y, Xh)
    return out


def payload_bytes(obj) -> int:
    """The bytes of the numpy arrays inside ``obj`` (dicts, lists, tuples): the payload of a task or result."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(payload_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(payload_bytes(v) for v in obj)
    return 0


def warm_up() -> bool:
    """Import what the shard tasks use, on a worker, before the first timed batch."""
    from ..blocks import x_blocks  # noqa: F401

    return True

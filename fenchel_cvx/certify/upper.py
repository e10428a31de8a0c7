r"""Upper bounds on min J: the training objective of trained networks.

Any network gives an upper bound, ``min J ≤ J(W, b)``, with J evaluated by the network's
own :meth:`~fenchel_cvx.FenchelNetwork.objective` (the single judge). An *upper-bound
provider* is a callable ``provider(net, X0, y) -> list[UpperBound]``; :func:`certify`
takes a list of them, so that other trainers (lifted BCD) plug in beside the default
:func:`lbfgs_provider` (backprop gradients of J minimised by L-BFGS from several starts).

Shapes: X0 is d x m (one column per sample), W[l] is n_{l+1} x n_l, b[l] is (n_{l+1},).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ..validation import check_int
from .problem import copy_network, expand_multipliers, multipliers_kind

__all__ = ["UpperBound", "single_thread", "single_threaded", "objective_and_grad", "lbfgs_train", "lbfgs_polish",
           "lbfgs_provider",
           "lifted_objective_and_grad", "lifted_lbfgs", "relaxation_value", "divergences", "bcd_provider"]


@dataclass
class UpperBound:
    """``value`` = J(W, b) ≥ min J, as judged by ``FenchelNetwork.objective``; ``provenance`` says who found W."""

    value: float
    provenance: str
    W: list = field(repr=False, default_factory=list)
    b: list = field(repr=False, default_factory=list)
    info: dict = field(default_factory=dict)


def single_thread():
    """Context limiting BLAS to one thread (threadpoolctl, when installed): the problems here are tiny,
    and a multi-threaded BLAS on a loaded machine makes each L-BFGS step tens of times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def single_threaded(fn: Callable) -> Callable:
    """Decorator: run ``fn`` inside :func:`single_thread` (the previous BLAS thread count is restored after)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_thread():
            return fn(*args, **kwargs)

    return wrapper


def pack_params(W, b, bias):
    """The parameters (W_l, then b_l when ``bias``) flattened into one vector θ (the optimisers' variable)."""
    parts = [w.ravel() for w in W] + ([v.ravel() for v in b] if bias else [])
    return np.concatenate(parts)


def unpack_params(theta, sizes, bias):
    """Inverse of :func:`pack_params` for a network of widths ``sizes``: (W, b) lists (b = 0 without bias)."""
    W, b, i = [], [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        W.append(theta[i:i + n_in * n_out].reshape(n_out, n_in))
        i += n_in * n_out
    for n_out in sizes[1:]:
        if bias:
            b.append(theta[i:i + n_out].copy())
            i += n_out
        else:
            b.append(np.zeros(n_out))
    return W, b


def objective_and_grad(net, X0, Y, W, b):
    r"""J(W, b) and its gradient by backpropagation (numpy, float64).

    Forward U_l = W_l X_l + b_l 1ᵀ, X_{l+1} = φ_l(U_l), Z = W_L X_L + b_L 1ᵀ; backward
    dZ = ∇_Z ℓ(Y, Z)/m, dW_l = dU_l X_lᵀ + ρ_l W_l, db_l = dU_l 1, dX_l = W_lᵀ dU_l,
    dU_l = dX_{l+1} ∘ φ_l'(U_l) (φ' = 0 at the ReLU kink). ``Y`` is k x m.
    """
    m = X0.shape[1]
    Xs, Us, X = [X0], [], X0
    for l in range(net.L):
        U = W[l] @ X + b[l][:, None]
        X = net.activations[l].phi(U)
        Us.append(U)
        Xs.append(X)
    Z = W[-1] @ X + b[-1][:, None]
    J = float(net.loss.value(Y, Z)) / m + net.regulariser(W)
    dU = net.loss.grad(Y, Z) / m
    gW, gb = [None] * net.n_layers, [None] * net.n_layers
    for l in range(net.L, -1, -1):
        gW[l] = dU @ Xs[l].T + net.rho[l] * W[l]
        gb[l] = dU.sum(axis=1)
        if l > 0:
            dU = (W[l].T @ dU) * net.activations[l - 1].dphi(Us[l - 1])
    return J, gW, gb


def lbfgs_train(net, X0, y, seed: int = 0, maxiter: int = 20000, init_scale: float = 1.0,
                deadline: float | None = None):
    """Minimise J from the initialisation ``seed`` (``FenchelNetwork.init_params``, times ``init_scale``)
    by scipy's L-BFGS-B with exact backprop gradients. Returns ``(W, b, J, info)`` with J judged by
    ``net.objective``; ``deadline`` as in :func:`lbfgs_polish` (``info["message"]`` then says it stopped)."""
    work = copy_network(net)
    work.init_params(seed)
    W0 = [init_scale * w for w in work.W]
    W, b, J, res = lbfgs_polish(work, X0, y, W0, work.b, maxiter=maxiter, deadline=deadline)
    return W, b, J, {"iterations": int(res.nit), "message": str(res.message), "seed": seed}


def lbfgs_polish(net, X0, y, W, b, maxiter: int = 20000, deadline: float | None = None):
    """Minimise J by L-BFGS-B (exact backprop gradients) from the point (W, b). Returns ``(W, b, J, res)``
    with J judged by ``net.objective`` and ``res`` scipy's result. A local method: J is an upper bound.
    ``deadline``: a ``time.process_time()`` value (CPU seconds); past it the iterations stop (scipy's callback
    raises StopIteration; the last iterate is returned). ``None`` (default): no callback, scipy's run unchanged."""
    Y = np.asarray(net.check_targets(y, X0.shape[1]), dtype=np.float64)
    sizes, bias = net.sizes, net.bias

    def fun(theta):
        Wt, bt = unpack_params(theta, sizes, bias)
        J, gW, gb = objective_and_grad(net, X0, Y, Wt, bt)
        return J, pack_params(gW, gb, bias)

    def stop(intermediate_result):  # scipy >= 1.11: StopIteration ends the run with the current iterate
        if time.process_time() > deadline:
            raise StopIteration

    with single_thread():
        res = minimize(fun,
                       pack_params([np.asarray(w, dtype=float) for w in W], [np.asarray(v, dtype=float) for v in b],
                                  bias), jac=True, method="L-BFGS-B", callback=None if deadline is None else stop,
                       options={"maxiter": maxiter, "maxfun": 2 * maxiter, "ftol": 1e-15, "gtol": 1e-10})
    Wt, bt = unpack_params(res.x, sizes, bias)
    return Wt, bt, net.objective(X0, y, Wt, bt), res


def lbfgs_provider(starts: int = 5, seed: int = 0, init_scale: float = 1.0) -> Callable:
    """An upper-bound provider: L-BFGS on J (backprop) from ``starts`` random initialisations."""
    starts = check_int(starts, "starts", lo=1)

    def provide(net, X0, y):
        out = []
        for s in range(starts):
            W, b, J, info = lbfgs_train(net, X0, y, seed=seed + s, init_scale=init_scale)
            out.append(UpperBound(J, f"backprop L-BFGS, start {s}", W, b, info))
        return out

    provide.__name__ = f"lbfgs_provider(starts={starts})"
    return provide


def lifted_objective_and_grad(net, X0, Y, W, b, Xs, lam):
    r"""F_λ(W, b, X) and its gradient (numpy, float64; ``Xs`` = [X_1..X_L] inside dom f*).

    ``lam[l]`` is a scalar or an n_{l+1} x m array of multipliers (one per neuron and sample). With
    U_l = W_l X_l + b_l 1ᵀ: ∂B/∂u = φ(u) − v and ∂B/∂v = ∇f*(v) − u, so
    dU_l = (λ_l/m)∘(φ_l(U_l) − X_{l+1}), dW_l = dU_l X_lᵀ + ρ_l W_l, db_l = dU_l 1,
    dX_{l+1} = (λ_l/m)∘(∇f*_l(X_{l+1}) − U_l) + W_{l+1}ᵀ dU_{l+1}, and dU_L = ∇_Z ℓ / m.
    """
    m = X0.shape[1]
    prev = [X0] + list(Xs)
    gW, gb = [None] * net.n_layers, [None] * net.n_layers
    gX = [np.zeros_like(X) for X in Xs]
    F = net.regulariser(W)
    for l in range(net.L):
        act = net.activations[l]
        U = W[l] @ prev[l] + b[l][:, None]
        F += float(np.sum(lam[l] * act.divergence(U, Xs[l]))) / m
        dU = (lam[l] / m) * (act.phi(U) - Xs[l])
        gW[l] = dU @ prev[l].T + net.rho[l] * W[l]
        gb[l] = dU.sum(axis=1)
        if l > 0:
            gX[l - 1] += W[l].T @ dU
        gX[l] += (lam[l] / m) * (act.grad_fconj(Xs[l]) - U)
    Z = W[-1] @ prev[-1] + b[-1][:, None]
    F += float(net.loss.value(Y, Z)) / m
    dZ = net.loss.grad(Y, Z) / m
    gW[-1] = dZ @ prev[-1].T + net.rho[-1] * W[-1]
    gb[-1] = dZ.sum(axis=1)
    gX[-1] += W[-1].T @ dZ
    return F, gW, gb, gX


def divergences(net, X0, W, b, Xs) -> list:
    """B_φl(U_l, X_{l+1}) entrywise at a point: one n_{l+1} x m array per hidden layer (no multiplier, no 1/m),
    with U_l computed from the lifted X_l (``net.pre_activation``)."""
    prev = [np.asarray(X0, dtype=float)] + [np.asarray(X, dtype=float) for X in Xs]
    return [net.activations[l].divergence(net.pre_activation(l, prev[l], W, b), prev[l + 1]) for l in range(net.L)]


def relaxation_value(net, X0, y, W, b, Xs, lam) -> float:
    r"""F_μ(W, b, X) = ℓ/m + (1/m) Σ_l Σ_ij μ_l[i, j] B_l[i, j] + Σ_l ρ_l/2‖W_l‖² — the judge of the relaxation.

    ``lam``: anything :func:`~fenchel_cvx.certify.expand_multipliers` accepts. With one multiplier per layer
    this *is* ``net.lifted_objective`` (the network's single judge); with finer multipliers the network's
    loss and weight decay terms (``net.lifted_terms``) plus the weighted divergences of :func:`divergences`.
    """
    mu = expand_multipliers(net, np.shape(X0)[1], lam)
    if multipliers_kind(mu) in ("scalar", "per layer"):
        return net.lifted_objective(X0, y, Xs, W, b, lam=[float(a.flat[0]) for a in mu])
    terms = net.lifted_terms(X0, y, Xs, W, b, lam=np.zeros(net.L))
    divs = divergences(net, X0, W, b, Xs)
    return terms.loss + terms.reg + sum(float(np.sum(a * B)) for a, B in zip(mu, divs)) / np.shape(X0)[1]


def lifted_lbfgs(net, X0, y, W, b, Xs=None, lam=None, maxiter: int = 20000):
    """Locally minimise F_λ over (W, b, X) from (W, b, Xs) (Xs defaults to the forward pass) by
    L-BFGS-B, with X kept in dom f* by box constraints. ``lam``: the network's λ by default, else
    anything :func:`~fenchel_cvx.certify.expand_multipliers` accepts (per layer, sample, neuron or entry).
    Returns ``(W, b, Xs, F)``, F judged by :func:`relaxation_value`. A local method: F is an upper bound on
    min F_λ, nothing more."""
    mu = expand_multipliers(net, np.shape(X0)[1], net.lam if lam is None else lam)
    Y = np.asarray(net.check_targets(y, X0.shape[1]), dtype=np.float64)
    W = [np.array(w, dtype=float) for w in W]
    b = [np.array(v, dtype=float) for v in b]
    Xs = net.forward(X0, W, b)[0] if Xs is None else [np.array(X, dtype=float) for X in Xs]
    Xs = [a.project_domain(X) for a, X in zip(net.activations, Xs, strict=True)]
    sizes, bias = net.sizes, net.bias
    nP = sum(w.size for w in W) + (sum(v.size for v in b) if bias else 0)
    shapes = [X.shape for X in Xs]

    def split(theta):
        Wt, bt = unpack_params(theta[:nP], sizes, bias)
        out, i = [], nP
        for sh in shapes:
            out.append(theta[i:i + sh[0] * sh[1]].reshape(sh))
            i += sh[0] * sh[1]
        return Wt, bt, out

    def fun(theta):
        Wt, bt, Xt = split(theta)
        F, gW, gb, gX = lifted_objective_and_grad(net, X0, Y, Wt, bt, Xt, mu)
        return F, np.concatenate([pack_params(gW, gb, bias)] + [g.ravel() for g in gX])

    box = [(None, None)] * nP
    for act, sh in zip(net.activations, shapes, strict=True):
        lo, hi = act.domain
        box += [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)] * (sh[0] * sh[1])
    theta0 = np.concatenate([pack_params(W, b, bias)] + [X.ravel() for X in Xs])
    with single_thread():
        res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=box,
                       options={"maxiter": maxiter, "maxfun": 2 * maxiter, "ftol": 1e-15, "gtol": 1e-11})
    Wt, bt, Xt = split(res.x)
    Xt = [a.project_domain(X) for a, X in zip(net.activations, Xt, strict=True)]
    return Wt, bt, Xt, relaxation_value(net, X0, y, Wt, bt, Xt, mu)


def bcd_provider(starts: int = 3, epochs: int = 40, seed: int = 0) -> Callable:
    """An upper-bound provider: full-batch lifted BCD (``fenchel_cvx.train``, exact block solves,
    γ = 0) from ``starts`` random initialisations; each trained network's J is an upper bound on
    min J (the lifted variables are discarded: inference is the feed-forward network)."""
    starts, epochs = check_int(starts, "starts", lo=1), check_int(epochs, "epochs", lo=1)

    def provide(net, X0, y):
        import copy

        from ..training import train

        out = []
        for s in range(starts):
            trial = copy.deepcopy(net)
            trial.init_params(seed + s)
            train(trial, X0, y, schedule="fullbatch", epochs=epochs, gamma=0.0, seed=seed + s,
                  verbose=0, progress=False)
            J = trial.objective(X0, y)
            out.append(UpperBound(J, f"lifted BCD (full batch), start {s}", trial.W, trial.b, {"epochs": epochs}))
        return out

    provide.__name__ = f"bcd_provider(starts={starts})"
    return provide

"""Random small instances of the lifted problem that reach every branch.

Used by the tests, ``fenchel-cvx check-blocks`` and the benchmarks. An instance is a
network with random parameters plus data ``X0`` (d x m), targets ``y`` and hidden
activations ``Xs = [X_1..X_L]`` that are *not* on the activation graph: the
feed-forward activations are perturbed, a fraction of entries is put exactly on the
domain edges of f* (0 for relu, 0/1 for sigmoid, ±1 for tanh/hardtanh) and a fraction
of pre-activations lands near the kinks of φ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..activations import Activation
from ..arrays import ArrayLike
from ..backend import have_torch
from ..network import FenchelNetwork


def random_state(activation: str = "relu", loss: str = "cross_entropy", sizes: Sequence[int] = (6, 5, 4, 3),
                 m: int = 12, seed: int = 0, lam: ArrayLike | None = None, rho: ArrayLike | None = None,
                 edge_fraction: float = 0.25, backend: str = "numpy", dtype: str = "float64", device: str = "cpu",
                 X0: ArrayLike | None = None, y: ArrayLike | None = None, weight_scale: float = 2.0,
                 noise: float = 0.3) -> tuple:
    """Return ``(net, X0, y, Xs)`` for a random instance (see module docstring).

    ``backend`` is ``"numpy"`` or ``"torch"`` (then X0, Xs, y and the parameters are
    tensors of ``dtype`` on ``device``); λ and ρ default to random values in [0.5, 2]
    and [1e-3, 1e-1] per layer. Real data may be given as ``X0`` (d x m numpy) and ``y``;
    otherwise X0 is standard normal. The initial weights are multiplied by
    ``weight_scale`` and the hidden activations perturbed by ``noise``·N(0, 1).
    """
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m: expected a positive number of samples, got {m!r}")
    rng = np.random.default_rng(seed)
    sizes = list(sizes)
    L = len(sizes) - 2
    lam = rng.uniform(0.5, 2.0, size=L) if lam is None else lam
    rho = rng.uniform(1e-3, 1e-1, size=L + 1) if rho is None else rho
    net = FenchelNetwork(sizes, activation=activation, loss=loss, lam=lam, rho=rho, seed=seed)
    # larger weights than the default init, so that pre-activations spread over kinks and tails
    net.W = [weight_scale * w for w in net.W]
    if X0 is not None:
        X0 = np.asarray(X0, dtype=np.float64)
        if y is None:
            raise ValueError("random_state: give y together with X0")
    return complete_state(net, rng, m, X0=X0, y=y, noise=noise, edge_fraction=edge_fraction,
                          backend=backend, dtype=dtype, device=device)


def perturbed_on_domain(act: Activation, V: np.ndarray, rng: np.random.Generator, noise: float = 0.3,
                        edge_fraction: float = 0.25) -> np.ndarray:
    """Activations near ``V`` (numpy, any shape) that reach every branch of ``act``'s conjugate:
    P(V + ``noise``·N(0, 1)) with P the projection onto dom f*, then a fraction ``edge_fraction`` of the
    entries set to a finite domain edge (0 for relu; 0 or 1 for sigmoid; ±1 for tanh/hardtanh), drawn at
    random. Draws from ``rng`` in that order (normal, uniform, choice); returns a new array."""
    out = act.project_domain(V + noise * rng.normal(size=V.shape))
    edges = [e for e in act.domain if math.isfinite(e)]
    if edges:
        mask = rng.random(out.shape) < edge_fraction
        out[mask] = rng.choice(edges, size=int(mask.sum()))
    return out


def complete_state(net: FenchelNetwork, rng: np.random.Generator, m: int, X0: ArrayLike | None = None,
                   y: ArrayLike | None = None, noise: float = 0.3, edge_fraction: float = 0.25, backend: str = "numpy",
                   dtype: str = "float64", device: str = "cpu") -> tuple:
    """Data, targets and perturbed hidden activations for ``net`` (dense or conv), then conversion.

    X0 (d x m, standard normal unless given), y (random labels with every class present, or
    normal targets, unless given), and Xs = the forward activations + ``noise``·N(0, 1), projected
    onto dom f*, with a fraction ``edge_fraction`` of entries put on the domain edges. Converts
    everything (and the network's parameters) to ``backend``/``dtype``/``device``. Returns
    ``(net, X0, y, Xs)``; draws from ``rng`` in that order.
    """
    k = net.sizes[-1]
    if X0 is None:
        X0 = rng.normal(size=(net.sizes[0], m))
    m = X0.shape[1]
    if y is None and net.loss.classification:
        y = rng.integers(0, k, size=m)
        y[:k] = np.arange(min(k, m))  # every class present
    elif y is None:
        y = rng.normal(size=(k, m))
    fwd, _ = net.forward(X0)
    Xs = [perturbed_on_domain(act, X, rng, noise, edge_fraction) for X, act in zip(fwd, net.activations)]
    if backend == "torch":
        if not have_torch():
            raise ImportError("backend='torch' needs torch: pip install 'fenchel-cvx[torch]'")
        import torch

        tdt = getattr(torch, dtype)
        to_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=tdt, device=device)  # noqa: E731
        X0, Xs = to_tensor(X0), [to_tensor(X) for X in Xs]
        y = torch.as_tensor(y, device=device) if net.loss.classification else to_tensor(y)
        net.W = [to_tensor(w) for w in net.W]
        net.b = [to_tensor(v) for v in net.b]
    elif backend == "numpy":
        npdt = np.dtype(dtype)
        X0, Xs = X0.astype(npdt), [X.astype(npdt) for X in Xs]
        if not net.loss.classification:
            y = y.astype(npdt)
        net.W = [w.astype(npdt) for w in net.W]
        net.b = [v.astype(npdt) for v in net.b]
    else:
        raise ValueError(f"backend: expected 'numpy' or 'torch', got {backend!r}")
    return net, X0, y, Xs

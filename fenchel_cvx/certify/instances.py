"""Tiny regression instances for the certificates (tests, ``fenchel-cvx certify``, benchmarks).

Data X0 is d x m (one column per sample), targets y are 1 x m.
"""

from __future__ import annotations

import numpy as np

from ..network import FenchelNetwork

__all__ = ["tiny_regression"]


def tiny_regression(d: int = 1, hidden: int = 2, m: int = 8, rho=0.1, lam: float = 1.0, seed: int = 0,
                    noise: float = 0.1, teacher_width: int = 3):
    """Return ``(net, X0, y)``: a ReLU network ``[d, hidden, 1]`` (squared loss, weight decay ``rho`` on
    both layers, multiplier ``lam``) and data from a random ReLU teacher of width ``teacher_width``:
    x_j ~ N(0, I_d), y_j = Σ_k a_k (w_k·x_j + b_k)₊ + noise·ε_j, then y centred and scaled to unit
    standard deviation (so that objective values are comparable across instances)."""
    for name, val in (("d", d), ("hidden", hidden), ("m", m), ("teacher_width", teacher_width)):
        if not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name}: expected a positive integer, got {val!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise: expected a finite value >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(d, m))
    Wt = rng.normal(size=(teacher_width, d))
    bt = rng.normal(size=teacher_width) * 0.5
    at = rng.normal(size=teacher_width)
    y = at @ np.maximum(Wt @ X0 + bt[:, None], 0.0) + noise * rng.normal(size=m)
    y = y - y.mean()
    sd = y.std()
    y = (y / sd if sd > 0 else y)[None, :]
    net = FenchelNetwork([d, hidden, 1], activation="relu", loss="squared", lam=lam, rho=rho, seed=seed)
    return net, X0, y

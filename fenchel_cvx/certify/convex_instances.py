"""Two-dimensional classification data for the two-layer convex certificates (tests, benchmarks).

Data X0 is d x m (one column per sample, d = 2), labels y ∈ {0, 1} of shape (m,).
"""

from __future__ import annotations

import numpy as np

__all__ = ["classification_2d"]


def classification_2d(kind: str = "moons", m: int = 200, noise: float = 0.15, seed: int = 0):
    """``(X0, y)``: ``"moons"`` — two interleaved half circles (label 0: upper arc centred at (−0.5, 0.25),
    label 1: lower arc centred at (0.5, −0.25)), or ``"xor"`` — four Gaussian blobs at (±1, ±1) labelled
    by the sign of x₁x₂; plus N(0, noise²) noise. Labels are balanced in expectation."""
    if kind not in ("moons", "xor"):
        raise ValueError(f"kind: expected 'moons' or 'xor', got {kind!r}")
    if not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"m: expected an integer >= 2, got {m!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise: expected a finite value >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, m)
    y[:2] = (0, 1)  # both classes present
    if kind == "moons":
        t = rng.uniform(0, np.pi, m)
        X0 = np.vstack([np.cos(t) + y - 0.5, np.sin(t) * (1 - 2 * y) + 0.25 * (2 * y - 1)])
    else:
        s1 = rng.choice((-1.0, 1.0), m)
        s2 = np.where(y == 1, s1, -s1)
        X0 = np.vstack([s1, s2])
    return X0 + noise * rng.normal(size=(2, m)), y

"""Tiny instances for the certificates (tests, ``fenchel-cvx certify``, benchmarks, demos).

Data X0 is d x m (one column per sample); regression targets are k x m, class labels have shape (m,).
"""

from __future__ import annotations

import numpy as np

from ..network import FenchelNetwork

__all__ = ["tiny_regression", "tiny_classification", "tiny_problem", "parse_arch", "classification_2d"]


def _check_pos(**vals):
    for name, val in vals.items():
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name}: expected a positive integer, got {val!r}")


def tiny_regression(d: int = 1, hidden: int = 2, m: int = 8, rho=0.1, lam: float = 1.0, seed: int = 0,
                    noise: float = 0.1, teacher_width: int = 3, outputs: int = 1, sizes=None, activation="relu"):
    """Return ``(net, X0, y)``: a network ``[d, hidden, outputs]`` (or ``sizes``; squared loss, weight decay
    ``rho`` on every layer, multiplier ``lam``, hidden ``activation``) and data from a random ReLU teacher of
    width ``teacher_width``: x_j ~ N(0, I_d), y_j = A (W x_j + b)₊ + noise·ε_j (k outputs), then each output
    row centred and scaled to unit standard deviation (so that objective values are comparable)."""
    _check_pos(d=d, hidden=hidden, m=m, teacher_width=teacher_width, outputs=outputs)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise: expected a finite value >= 0, got {noise!r}")
    if sizes is not None:
        sizes = list(sizes)
        d, outputs = sizes[0], sizes[-1]
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(d, m))
    Wt = rng.normal(size=(teacher_width, d))
    bt = rng.normal(size=teacher_width) * 0.5
    at = rng.normal(size=(outputs, teacher_width))
    y = at @ np.maximum(Wt @ X0 + bt[:, None], 0.0) + noise * rng.normal(size=(outputs, m))
    y = y - y.mean(axis=1, keepdims=True)
    sd = y.std(axis=1, keepdims=True)
    y = np.where(sd > 0, y / np.where(sd > 0, sd, 1.0), y)
    net = FenchelNetwork(sizes or [d, hidden, outputs], activation=activation, loss="squared", lam=lam, rho=rho,
                         seed=seed)
    return net, X0, y


def tiny_classification(kind: str = "moons", m: int = 8, noise: float = 0.1, seed: int = 0, classes: int = 2):
    """Return ``(X0, labels)``: ``kind`` "moons" (two interleaved half circles), "xor" (the four quadrants,
    label = sign(x_1 x_2)) or "blobs" (``classes`` Gaussian clusters), m points in d = 2, each class as
    balanced as m allows, coordinates standardised. X0 is 2 x m, labels (m,) integers."""
    _check_pos(m=m, classes=classes)
    rng = np.random.default_rng(seed)
    lab = np.arange(m) % (2 if kind in ("moons", "xor") else classes)
    if kind == "moons":
        t = rng.uniform(0.0, np.pi, size=m)
        X = np.where(lab[None, :] == 0, np.vstack([np.cos(t), np.sin(t)]),
                     np.vstack([1.0 - np.cos(t), 0.5 - np.sin(t)]))
    elif kind == "xor":
        s1 = rng.choice([-1.0, 1.0], size=m)
        s2 = np.where(lab == 0, s1, -s1)
        X = np.vstack([s1, s2]) * rng.uniform(0.3, 1.0, size=(2, m))
    elif kind == "blobs":
        centres = np.vstack([np.cos(2 * np.pi * np.arange(classes) / classes),
                             np.sin(2 * np.pi * np.arange(classes) / classes)])
        X = centres[:, lab]
    else:
        raise ValueError(f"kind: expected 'moons', 'xor' or 'blobs', got {kind!r}")
    X = X + noise * rng.normal(size=X.shape)
    X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    return X, lab


def parse_arch(text: str) -> list:
    """Sizes from an architecture string ``"2-3-3-1"`` (also ``2,3,3,1`` or ``2x3x1``); a named conv preset
    (``lenet5``) or a conv layer string raises a ValueError saying only dense networks are certified."""
    parts = [p for p in str(text).replace(",", "-").replace("x", "-").split("-") if p.strip()]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--arch: expected dense layer sizes such as 2-3-3-1, got {text!r}; convolutional "
                         "architectures have no global model (only dense networks [d, n1, (n2,) k] are "
                         "certified)") from None
    if len(sizes) < 3 or any(s < 1 for s in sizes):
        raise ValueError(f"--arch: expected at least three positive sizes [d, n1, ..., k], got {text!r}")
    return sizes


def tiny_problem(arch="2-3-1", activation="relu", loss="squared", m: int = 8, rho=0.1, seed: int = 0,
                 data: str = "auto", noise: float = 0.1, a: float = 0.1):
    """Return ``(net, X0, y)`` for an architecture string or sizes, hidden ``activation`` (one name, or one per
    layer; leaky_relu takes slope ``a``) and ``loss`` ("squared", "cross_entropy", or "logistic" = the
    cross-entropy with two outputs). Data: ``"teacher"`` (regression, :func:`tiny_regression`) or
    "moons" / "xor" / "blobs" (:func:`tiny_classification`); ``"auto"`` picks teacher for the squared loss
    and moons (k = 2) or blobs (k > 2) for the cross-entropy."""
    from .. import activations

    sizes = parse_arch(arch) if isinstance(arch, str) else list(arch)
    if loss == "logistic":
        loss = "cross_entropy"
        if sizes[-1] != 2:
            raise ValueError(f"loss: 'logistic' is the cross-entropy with 2 outputs, got architecture {sizes}")
    names = activation if isinstance(activation, (list, tuple)) else [activation] * (len(sizes) - 2)

    def act_of(nm):
        nm = {"leaky": "leaky_relu", "leaky-relu": "leaky_relu"}.get(nm, nm)
        return activations.get(nm, a=a) if nm == "leaky_relu" else activations.get(nm)

    acts = [act_of(nm) for nm in names]
    if data == "auto":
        data = "teacher" if loss == "squared" else ("moons" if sizes[-1] == 2 else "blobs")
    if data == "teacher":
        if loss != "squared":
            raise ValueError("data: the teacher gives regression targets; use moons/xor/blobs for the cross-entropy")
        net, X0, y = tiny_regression(sizes=sizes, m=m, rho=rho, seed=seed, noise=noise, activation=acts)
        return net, X0, y
    if sizes[0] != 2:
        raise ValueError(f"data: {data!r} has d = 2 features, got architecture {sizes}")
    X0, lab = tiny_classification(data, m=m, noise=noise, seed=seed, classes=sizes[-1])
    if loss == "squared":
        y = np.eye(sizes[-1])[:, lab] if sizes[-1] > 1 else (2.0 * lab - 1.0)[None, :]
    else:
        y = lab
    net = FenchelNetwork(sizes, activation=acts, loss=loss, rho=rho, seed=seed)
    return net, X0, y


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

r"""Data for the trainers: validation against the network before any work, the validation split, batch order.

Shapes: features x samples (X is d x m; targets Y are k x m; labels (m,) for classification).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..arrays import ArrayLike
from ..backend import to_numpy
from ..validation import check_array

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..network import FenchelNetwork

__all__ = ["prepare_data", "batch_order", "eval_subset"]


def prepare_data(net: FenchelNetwork, X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
                 y_test: ArrayLike | None = None,
                 X_val: ArrayLike | None = None, y_val: ArrayLike | None = None, val_fraction: float = 0.0,
                 seed: int = 0) -> dict:
    """Validate the data against the network *before any work* and split off a validation set.

    Returns a dict of numpy arrays: X (d x m), Y (k x m targets), y (labels or targets as given),
    and the same for test/val (None when absent). Raises ValueError/TypeError naming the argument:
    first width ≠ number of features, NaN/inf in X, labels outside [0, k), mismatched sample counts, an empty
    training, test or validation set.
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
    for name, Xa in (("test", Xt), ("val", Xv)):
        if Xa is not None and Xa.shape[1] == 0:  # its accuracy would be NaN, not a number to report
            raise ValueError(f"X_{name}: an empty {name} set (0 samples); pass X_{name}=None, y_{name}=None to "
                             f"train without one")
    if Xv is None and val_fraction > 0:
        from ..data import stratified_split

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


def batch_order(m: int, epoch: int, seed: int, shuffle: bool | str = True,
                batch_size: int | None = None) -> np.ndarray:
    """The sample order of ``epoch`` (a function of (seed, epoch) only, so resumed runs match).

    ``shuffle=True``: a fresh permutation of the m samples every epoch; ``False``: 0..m−1;
    ``"batches"``: a fixed partition into batches of ``batch_size`` (the seeded permutation of
    epoch 0 cut into consecutive blocks) whose order, not contents, is permuted every epoch (a
    short last batch stays last), so per-batch quantities (the input batch, its Gram matrix and
    its eigendecomposition) can be cached.
    """
    if not shuffle:
        return np.arange(m)
    if shuffle == "batches":
        if batch_size is None or batch_size >= m:
            return np.random.default_rng([int(seed), 0]).permutation(m)
        perm = np.random.default_rng([int(seed), 0]).permutation(m)
        n_full = m // int(batch_size)
        blocks = perm[:n_full * batch_size].reshape(n_full, batch_size)
        order = np.random.default_rng([int(seed), int(epoch), 1]).permutation(n_full)
        return np.concatenate([blocks[order].reshape(-1), perm[n_full * batch_size:]])
    return np.random.default_rng([int(seed), int(epoch)]).permutation(m)


def eval_subset(m: int, n: int | None, seed: int) -> np.ndarray | None:
    """The seeded subset of ``n`` of the m training samples on which the per-epoch J, F and training
    score are evaluated (None: all of them)."""
    if n is None or n >= m:
        return None
    return np.sort(np.random.default_rng([int(seed), 7]).choice(m, size=n, replace=False))

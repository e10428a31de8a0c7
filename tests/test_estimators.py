"""Tests of the scikit-learn estimators (fenchel_cvx.estimators)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import RATIO

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from fenchel_cvx import data  # noqa: E402
from fenchel_cvx.estimators import FenchelLiftedClassifier, FenchelLiftedRegressor  # noqa: E402

FAST = dict(hidden_layer_sizes=(16,), epochs=3, batch_size=100, gamma=[0.03, 0.3], x_iters=5, last_w_iters=5)


@pytest.fixture(scope="module")
def digits_rows():
    d = data.load("digits").subset(300, 150, seed=0)
    return d.X_train.T, d.y_train, d.X_test.T, d.y_test  # scikit-learn layout: samples x features


def test_classifier_fit_predict_proba_score(digits_rows):
    X, y, Xt, yt = digits_rows
    names = np.array(list("abcdefghij"))  # any labels, mapped through classes_
    clf = FenchelLiftedClassifier(**FAST).fit(X, names[y])
    assert_array_equal(clf.classes_, names)
    assert clf.n_features_in_ == 64 and clf.n_iter_ == 3 and len(clf.history_) == 4
    P = clf.predict_proba(Xt)
    assert P.shape == (Xt.shape[0], 10)
    assert_allclose(P.sum(axis=1), 1.0, rtol=RATIO["rounding"])
    pred = clf.predict(Xt)
    assert_array_equal(pred, names[np.argmax(P, axis=1)])
    assert clf.score(Xt, names[yt]) == pytest.approx(np.mean(pred == names[yt]))
    assert clf.score(Xt, names[yt]) > 0.7  # chance is 0.1
    # the fitted network is the feed-forward one: same predictions from net_
    assert_array_equal(clf.net_.predict(Xt.T), np.argmax(P, axis=1))


def test_get_set_params_and_clone(digits_rows):
    clf = FenchelLiftedClassifier(lam=0.5, epochs=2)
    p = clf.get_params()
    assert p["lam"] == 0.5 and p["epochs"] == 2 and p["hidden_layer_sizes"] == (100,)
    clf.set_params(epochs=4, activation="tanh")
    assert clf.epochs == 4 and clf.activation == "tanh"
    c = clone(clf)
    assert c.get_params() == clf.get_params() and c is not clf
    X, y, _, _ = digits_rows
    clf2 = FenchelLiftedClassifier(**FAST).fit(X, y)
    c2 = clone(clf2)
    assert not hasattr(c2, "net_")
    with pytest.raises(ValueError, match="invalid parameter|Invalid parameter"):
        clf.set_params(not_a_param=1)


def test_grid_search(digits_rows):
    X, y, _, _ = digits_rows
    gs = GridSearchCV(FenchelLiftedClassifier(**dict(FAST, epochs=2)), {"lam": [0.3, 1.0]}, cv=2)
    gs.fit(X, y)
    assert gs.best_params_["lam"] in (0.3, 1.0)
    assert gs.best_score_ > 0.5
    assert gs.predict(X).shape == (X.shape[0],)


def test_backprop_method_through_the_estimator(digits_rows):
    pytest.importorskip("torch")
    X, y, Xt, yt = digits_rows
    clf = FenchelLiftedClassifier(hidden_layer_sizes=(16,), method="adam", lr=1e-2, epochs=4, batch_size=50).fit(X, y)
    assert clf.score(Xt, yt) > 0.6


def test_regressor_single_and_multi_output():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - X[:, 2]
    reg = FenchelLiftedRegressor(hidden_layer_sizes=(16,), epochs=6, batch_size=50, gamma=0.1, x_iters=5).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (200,)
    assert reg.score(X, y) > 0.5  # R² well above the constant predictor's 0
    Y2 = np.stack([y, -y], axis=1)
    reg2 = clone(reg).fit(X, Y2)
    assert reg2.predict(X).shape == (200, 2)


def test_estimator_errors(digits_rows):
    X, y, _, _ = digits_rows
    clf = FenchelLiftedClassifier(**FAST)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        clf.predict(X)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(Xn, y)
    with pytest.raises(ValueError, match="labels"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="method"):
        FenchelLiftedClassifier(method="lbfgs").fit(X, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])

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
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="method"):
        FenchelLiftedClassifier(method="lbfgs").fit(X, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])


# ---- scikit-learn conformance ----------------------------------------------------------------------------
def _failed(estimator):
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(estimator, on_fail=None)
    assert len(results) > 40
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    # the only skip: scikit-learn's array-API check, which runs only with SCIPY_ARRAY_API=1 set before import
    assert skipped <= {"check_array_api_input"}, skipped
    return [(r["check_name"], str(r["exception"])[:300]) for r in results if r["status"] == "failed"]


@pytest.mark.parametrize("cls", [FenchelLiftedClassifier, FenchelLiftedRegressor])
def test_check_estimator_passes(cls):
    """Every check of sklearn.utils.estimator_checks.check_estimator (small hidden layer: the checks fit ~100x)."""
    assert _failed(cls(hidden_layer_sizes=(16,))) == []


@pytest.mark.slow
@pytest.mark.parametrize("cls", [FenchelLiftedClassifier, FenchelLiftedRegressor])
def test_check_estimator_passes_with_the_defaults(cls):
    assert _failed(cls()) == []


def test_binary_classification_as_scikit_learn_does_it(digits_rows):
    from sklearn.model_selection import cross_val_score

    X, y, Xt, yt = digits_rows
    keep, keep_t = y < 2, yt < 2
    labels = np.array(["zero", "one"])
    clf = FenchelLiftedClassifier(**FAST).fit(X[keep], labels[y[keep]])
    d = clf.decision_function(Xt[keep_t])
    assert d.shape == (keep_t.sum(),)
    assert_array_equal(clf.predict(Xt[keep_t]), clf.classes_[(d > 0).astype(int)])  # classes_ = ["one", "zero"]
    P = clf.predict_proba(Xt[keep_t])
    # softmax of two logits = sigmoid of their difference
    assert_allclose(P[:, 1], 1.0 / (1.0 + np.exp(-d)), rtol=RATIO["rounding"])
    auc = cross_val_score(FenchelLiftedClassifier(**FAST), X[keep], y[keep], cv=2, scoring="roc_auc")
    assert auc.shape == (2,) and np.all(np.isfinite(auc)) and np.all(auc > 0.9)


@pytest.mark.parametrize("bad_y,match", [
    ("continuous", "Unknown label type"),
    ("nan", "NaN"),
])
def test_classifier_refuses_non_labels(digits_rows, bad_y, match):
    X, y, _, _ = digits_rows
    yy = y + 0.5 if bad_y == "continuous" else np.where(np.arange(y.size) == 3, np.nan, y.astype(float))
    with pytest.raises(ValueError, match=match):
        FenchelLiftedClassifier(**FAST).fit(X, yy)


def test_complex_and_sparse_X_are_refused(digits_rows):
    import scipy.sparse as sp

    X, y, _, _ = digits_rows
    with pytest.raises(ValueError, match="Complex data not supported"):
        FenchelLiftedClassifier(**FAST).fit(X + 1j, y)
    with pytest.raises(TypeError, match="Sparse data"):
        FenchelLiftedRegressor(**FAST).fit(sp.csr_matrix(X), y.astype(float))


def test_huge_labels_are_classes_not_widths(digits_rows):
    X, y, _, _ = digits_rows
    yy = np.where(y % 2 == 0, 10**9, -3)  # two classes, whatever their values
    clf = FenchelLiftedClassifier(**FAST).fit(X, yy)
    assert clf.net_.sizes[-1] == 2 and set(clf.predict(X)) <= {10**9, -3}

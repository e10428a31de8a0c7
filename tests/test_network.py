"""The lifted network model: J, F_λ and their relations (issue: foundations)."""

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import TOL

import fenchel_cvx as fc
from fenchel_cvx import activations, losses
from fenchel_cvx.blocks.instances import random_state

ARCHS = [(4, 3), (5, 6, 3), (3, 4, 5, 2), (6, 3, 3, 3, 4)]


@pytest.mark.parametrize("act", activations.names())
@pytest.mark.parametrize("loss", losses.names())
@pytest.mark.parametrize("sizes", ARCHS)
def test_lifted_equals_standard_on_forward_pass(act, loss, sizes):
    net, X0, y, _ = random_state(act, loss, sizes=sizes, m=9, seed=len(sizes))
    Xs, _ = net.forward(X0)
    J = net.objective(X0, y)
    F = net.lifted_objective(X0, y, Xs)
    assert_allclose(F, J, **TOL["identity"]["float64"])


@pytest.mark.parametrize("act", activations.names())
@pytest.mark.parametrize("loss", losses.names())
def test_lifted_bounds_and_monotone_in_lambda(act, loss):
    net, X0, y, Xs = random_state(act, loss, sizes=(5, 4, 4, 3), m=11, seed=3)
    terms = net.lifted_terms(X0, y, Xs)
    assert all(d >= 0 for d in terms.divergences)
    assert terms.total >= terms.loss + terms.reg
    assert any(d > 0 for d in terms.divergences)  # Xs is off the graph
    vals = [net.lifted_objective(X0, y, Xs, lam=[s, 2 * s]) for s in (0.0, 0.1, 1.0, 10.0)]
    assert np.all(np.diff(vals) >= 0) and vals[-1] > vals[0]
    # at λ = 0 only the loss of the last lifted layer and the regulariser remain
    assert_allclose(vals[0], terms.loss + terms.reg, **TOL["identity"]["float64"])


def test_lifted_terms_match_definition():
    """F_λ written out by hand with CVXPY atoms at the given point equals lifted_objective."""
    net, X0, y, Xs = random_state("sigmoid", "cross_entropy", sizes=(3, 4, 2), m=6, seed=1)
    m = X0.shape[1]
    (W0, W1), (b0, b1) = net.W, net.b
    U0 = W0 @ X0 + b0[:, None]
    Z = W1 @ Xs[0] + b1[:, None]
    Y = net.check_targets(y, m)
    expected = (cp.sum(cp.log_sum_exp(Z, axis=0)).value - np.sum(Y * Z)) / m \
        + net.lam[0] * (np.sum(cp.logistic(U0).value) + np.sum((-cp.entr(Xs[0]) - cp.entr(1 - Xs[0])).value)
                        - np.sum(U0 * Xs[0])) / m \
        + 0.5 * net.rho[0] * np.sum(W0**2) + 0.5 * net.rho[1] * np.sum(W1**2)
    assert_allclose(net.lifted_objective(X0, y, Xs), expected, **TOL["identity"]["float64"])


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_torch_matches_numpy(act, dtype):
    net, X0, y, Xs = random_state(act, "cross_entropy", sizes=(5, 4, 3), m=8, seed=2)
    tnet, tX0, ty, tXs = random_state(act, "cross_entropy", sizes=(5, 4, 3), m=8, seed=2, backend="torch", dtype=dtype)
    tol = TOL["backend"][dtype] if dtype == "float32" else TOL["identity"]["float64"]
    assert_allclose(tnet.objective(tX0, ty), net.objective(X0, y), **tol)
    assert_allclose(tnet.lifted_objective(tX0, ty, tXs), net.lifted_objective(X0, y, Xs), **tol)
    assert_allclose(np.asarray(tnet.predict(tX0)), net.predict(X0))


def test_init_is_seeded_and_shapes():
    a = fc.FenchelNetwork([64, 100, 10], seed=7)
    b = fc.FenchelNetwork([64, 100, 10], seed=7)
    c = fc.FenchelNetwork([64, 100, 10], seed=8)
    assert [w.shape for w in a.W] == [(100, 64), (10, 100)] and [v.shape for v in a.b] == [(100,), (10,)]
    assert all(np.array_equal(x, y) for x, y in zip(a.W, b.W))
    assert not np.array_equal(a.W[0], c.W[0])
    nb = fc.FenchelNetwork([4, 3, 2], bias=False)
    assert all(np.all(v == 0) for v in nb.b)
    assert a.L == 1 and len(a.lam) == 1 and len(a.rho) == 2


def test_digits_data_split():
    d = fc.data.load("digits", seed=0)
    assert d.X_train.shape[0] == 64 and d.X_train.shape[1] == d.y_train.size
    assert d.X_train.min() >= 0 and d.X_train.max() <= 1
    # stratified: every class in both splits in nearly the same proportion
    p_tr = np.bincount(d.y_train, minlength=10) / d.y_train.size
    p_te = np.bincount(d.y_test, minlength=10) / d.y_test.size
    assert np.max(np.abs(p_tr - p_te)) < 0.01
    d2 = fc.data.load("digits", seed=0)
    assert np.array_equal(d.y_test, d2.y_test)
    assert not np.array_equal(fc.data.load("digits", seed=1).y_test, d.y_test)
    with pytest.raises(ValueError, match="known datasets"):
        fc.data.load("cifar-1000")


# ---- bad input ------------------------------------------------------------------

def test_bad_construction():
    with pytest.raises(ValueError, match="sizes"):
        fc.FenchelNetwork([5])
    with pytest.raises(ValueError, match="sizes"):
        fc.FenchelNetwork([5, 0, 2])
    with pytest.raises(ValueError, match="lam"):
        fc.FenchelNetwork([5, 3, 2], lam=-1.0)
    with pytest.raises(ValueError, match="rho"):
        fc.FenchelNetwork([5, 3, 2], rho=[0.1, -0.1])
    with pytest.raises(ValueError, match="rho"):
        fc.FenchelNetwork([5, 3, 2], rho=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="lam"):
        fc.FenchelNetwork([5, 3, 2], lam=np.nan)
    with pytest.raises(ValueError, match="activation"):
        fc.FenchelNetwork([5, 3, 3, 2], activation=["relu"])
    with pytest.raises(ValueError, match="known activations"):
        fc.FenchelNetwork([5, 3, 2], activation="swish")
    with pytest.raises(ValueError, match="known losses"):
        fc.FenchelNetwork([5, 3, 2], loss="hinge")


def test_bad_evaluation_inputs():
    net, X0, y, Xs = random_state("sigmoid", "cross_entropy", sizes=(5, 4, 3), m=8, seed=0)
    with pytest.raises(ValueError, match="X0"):
        net.objective(X0[:4], y)
    bad = X0.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X0.*NaN"):
        net.objective(bad, y)
    with pytest.raises(ValueError, match="labels y"):
        net.objective(X0, np.full(8, 3))
    with pytest.raises(ValueError, match="samples"):
        net.objective(X0, y[:5])
    with pytest.raises(ValueError, match=r"X\[1\].*domain"):
        net.lifted_objective(X0, y, [Xs[0] + 2.0])
    with pytest.raises(ValueError, match=r"X\[1\]"):
        net.lifted_objective(X0, y, [Xs[0][:, :5]])
    with pytest.raises(ValueError, match="hidden"):
        net.lifted_objective(X0, y, [])
    with pytest.raises(ValueError, match="lam"):
        net.lifted_objective(X0, y, Xs, lam=[-1.0])
    with pytest.raises(TypeError, match="X0"):
        net.objective("not an array", y)
    with pytest.raises(ValueError, match=r"W\[0\]"):
        net.set_params([np.zeros((3, 5))] + net.W[1:], net.b)

"""Losses on numpy, torch and CVXPY, with gradients and conjugates (issue: foundations)."""

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import RATIO, TOL

from fenchel_cvx import losses


def sample(loss, rng, k=4, m=7):
    Z = rng.normal(scale=3.0, size=(k, m))
    if loss.classification:
        y = rng.integers(0, k, size=m)
    else:
        y = rng.normal(size=(k, m))
    return Z, loss.targets(y, k)


@pytest.mark.parametrize("name", losses.names())
def test_value_cvxpy_and_gradient(name):
    loss, rng = losses.get(name), np.random.default_rng(0)
    Z, Y = sample(loss, rng)
    val = float(loss.value(Y, Z))
    Zv = cp.Variable(Z.shape, value=Z)
    assert_allclose(loss.cvx(Y, Zv).value, val, **TOL["identity"]["float64"])
    assert_allclose(loss.cvx(Y, Zv, inner=cp.sum(cp.multiply(Y, Zv))).value, val, **TOL["identity"]["float64"])
    assert loss.cvx(Y, Zv).is_convex()
    h, G = 1e-6, np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        E = np.zeros_like(Z)
        E[idx] = h
        G[idx] = (loss.value(Y, Z + E) - loss.value(Y, Z - E)) / (2 * h)
    assert_allclose(loss.grad(Y, Z), G, **TOL["gradient"]["float64"])


@pytest.mark.parametrize("name", losses.names())
def test_conjugate_fenchel_young(name):
    """ℓ(Z) + ℓ*(G) ≥ ⟨G, Z⟩ for feasible G, with equality at G = ∇ℓ(Z)."""
    loss, rng = losses.get(name), np.random.default_rng(1)
    Z, Y = sample(loss, rng)
    G = loss.grad(Y, Z)
    assert_allclose(loss.value(Y, Z) + loss.conj(Y, G), np.sum(G * Z), **TOL["identity"]["float64"])
    Z2, _ = sample(loss, rng)
    assert loss.value(Y, Z2) + loss.conj(Y, G) >= np.sum(G * Z2) - RATIO["rounding"]


def test_cross_entropy_conj_outside_simplex_is_inf():
    loss = losses.get("cross_entropy")
    Y = loss.targets(np.array([0, 1]), 2)
    assert loss.conj(Y, np.array([[0.5, 0.0], [0.0, 0.0]])) == np.inf


def test_large_logits_are_stable():
    loss = losses.get("cross_entropy")
    Z = np.array([[1e4, -1e4], [-1e4, 1e4]])
    Y = loss.targets(np.array([0, 0]), 2)
    assert np.isfinite(loss.value(Y, Z)) and np.all(np.isfinite(loss.grad(Y, Z)))
    assert_allclose(loss.value(Y, Z), 2e4)


@pytest.mark.torch
@pytest.mark.parametrize("name", losses.names())
def test_torch_agrees(name):
    import torch

    loss, rng = losses.get(name), np.random.default_rng(2)
    Z, Y = sample(loss, rng)
    Zt, Yt = torch.from_numpy(Z), torch.from_numpy(Y)
    assert_allclose(float(loss.value(Yt, Zt)), float(loss.value(Y, Z)), **TOL["backend"]["float64"])
    assert_allclose(loss.grad(Yt, Zt).numpy(), loss.grad(Y, Z), **TOL["backend"]["float64"])
    if loss.classification:
        labels = torch.tensor([0, 1, 3])
        assert_allclose(loss.targets(labels, 4).numpy(), loss.targets(labels.numpy(), 4))


def test_targets_validation():
    ce = losses.get("cross_entropy")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        ce.targets(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="integer"):
        ce.targets(np.array([0.5, 1.0]), 3)
    with pytest.raises(ValueError, match="probability"):
        ce.targets(np.full((3, 2), 0.5), 3)
    sq = losses.get("squared")
    with pytest.raises(ValueError, match="2 x m"):
        sq.targets(np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match="NaN"):
        sq.targets(np.full((2, 4), np.nan), 2)
    with pytest.raises(ValueError, match="known losses"):
        losses.get("hinge")

"""Activations as conjugate pairs: the Fenchel divergence and its forms (issue: foundations)."""

import math

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import RATIO, TOL

from fenchel_cvx import activations as A

NAMES = A.names()


def make(name):
    return A.get(name, a=0.1) if name == "leaky_relu" else A.get(name)


def u_points(rng, n=400):
    """Random u plus the kinks (0, ±1), the tails (±1e4) and moderate values."""
    special = np.array([0.0, 1.0, -1.0, 1e-12, -1e-12, 1e4, -1e4, 1e3, -1e3, 40.0, -40.0, 0.5, -0.5])
    return np.concatenate([special, rng.normal(scale=3.0, size=n)])


def v_points(act, rng, n):
    """Points of dom f*, including its edges."""
    lo, hi = act.domain
    lo_f = lo if math.isfinite(lo) else -5.0
    hi_f = hi if math.isfinite(hi) else 5.0
    v = rng.uniform(lo_f, hi_f, size=n)
    edges = [e for e in (lo, hi) if math.isfinite(e)]
    if edges:
        v[: n // 5] = rng.choice(edges, size=n // 5)
    return v


def test_registry_lists_and_rejects():
    assert set(NAMES) >= {"relu", "leaky_relu", "sigmoid", "tanh", "hardtanh", "identity"}
    with pytest.raises(ValueError, match="relu"):
        A.get("softsign")
    with pytest.raises(ValueError, match="0 < a < 1"):
        A.get("leaky_relu", a=1.5)
    act = A.get("relu")
    assert A.get(act) is act
    assert A.get("leaky_relu", a=0.2) == A.get("leaky_relu", a=0.2) != A.get("leaky_relu", a=0.3)


@pytest.mark.parametrize("name", NAMES)
def test_divergence_nonnegative_and_zero_on_graph(name):
    act, rng = make(name), np.random.default_rng(0)
    u = u_points(rng)
    v = act.phi(u)
    assert act.in_domain(v)
    B0 = act.divergence(u, v)
    scale = 1.0 + np.abs(act.f(u)) + np.abs(u * v)
    assert np.all(np.isfinite(B0))
    assert np.all(np.abs(B0) <= RATIO["rounding"] * scale)
    # off the graph: B(u, v) >= (mu/2)(v - phi(u))^2 > 0 (B is the Bregman divergence of f*)
    uu = np.repeat(u[:60], 20)
    vv = v_points(act, rng, uu.size)
    B = act.divergence(uu, vv)
    d = vv - act.phi(uu)
    sc = 1.0 + np.abs(act.f(uu)) + np.abs(uu * vv)
    assert np.all(B >= 0.5 * act.mu_conj * d**2 - RATIO["rounding"] * sc)
    off = np.abs(d) > 1e-3
    assert np.all(B[off] > 0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_stable_for_large_u(name, dtype):
    act = make(name)
    u = np.array([-1e4, -1e3, -100.0, -30.0, 0.0, 30.0, 100.0, 1e3, 1e4], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        for val in (act.phi(u), act.f(u), act.divergence(u, act.phi(u))):
            assert np.all(np.isfinite(val)) and val.dtype == np.dtype(dtype)
    lo, hi = act.domain
    edges = np.array([e for e in (lo, hi) if math.isfinite(e)], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        assert np.all(np.isfinite(act.fconj(edges)))  # 0 log 0 = 0 on the edges


@pytest.mark.parametrize("name", NAMES)
def test_outside_domain_is_infinite(name):
    act = make(name)
    lo, hi = act.domain
    outside = [x for x in (lo - 0.5, hi + 0.5) if math.isfinite(x)]
    if not outside:
        pytest.skip("dom f* = R")
    assert np.all(np.isinf(act.fconj(np.array(outside))))
    assert not act.in_domain(np.array(outside))


@pytest.mark.parametrize("name", NAMES)
def test_fenchel_young_conjugacy(name):
    """f*(v) = sup_u u v − f(u): check f*(φ(u)) = u φ(u) − f(u) and f(u) + f*(v) ≥ u v."""
    act, rng = make(name), np.random.default_rng(1)
    u = rng.normal(scale=2.0, size=300)
    assert_allclose(act.fconj(act.phi(u)), u * act.phi(u) - act.f(u), **TOL["identity"]["float64"])
    # grad f* inverts phi on the interior
    lo, hi = act.domain
    v = v_points(act, rng, 300)
    inner = (v > lo + 1e-6) & (v < hi - 1e-6)
    assert_allclose(act.phi(act.grad_fconj(v[inner])), v[inner], **TOL["same_math"]["float64"])


@pytest.mark.parametrize("name", NAMES)
def test_cvxpy_value_equals_numpy(name):
    act, rng = make(name), np.random.default_rng(2)
    u = u_points(rng, 40)[4:]  # drop the ±1e4 tails: the CVXPY atoms are evaluated without stabilisation
    u = np.clip(u, -50, 50)
    v = v_points(act, rng, u.size)
    expected = float(np.sum(act.divergence(u, v)))
    V = cp.Variable(u.size, value=v)
    expr, cons = act.divergence_cvx(u, V)
    assert_allclose(expr.value, expected, **TOL["identity"]["float64"])
    assert all(c.value() for c in cons) if cons else True
    Uv = cp.Variable(u.size, value=u)
    expr_u, cons_u = act.divergence_cvx(Uv, v)
    assert cons_u == []
    assert_allclose(expr_u.value, expected, **TOL["identity"]["float64"])
    # f and f* separately
    assert_allclose(np.sum(act.f_cvx(Uv).value), np.sum(act.f(u)), **TOL["identity"]["float64"])
    assert_allclose(np.sum(act.fconj_cvx(V).value), np.sum(act.fconj(v)), **TOL["identity"]["float64"])


@pytest.mark.parametrize("name", NAMES)
def test_cvxpy_biconvex_dcp(name):
    act, rng = make(name), np.random.default_rng(3)
    u, v = rng.normal(size=5), act.project_domain(rng.normal(size=5))
    e_v, cons = act.divergence_cvx(u, cp.Variable(5))
    e_u, _ = act.divergence_cvx(cp.Variable(5), v)
    for e in (e_v, e_u):
        assert e.is_dcp() and e.is_convex()
    assert cp.Problem(cp.Minimize(e_v), cons).is_dcp()
    with pytest.raises(ValueError, match="jointly"):
        act.divergence_cvx(cp.Variable(5), cp.Variable(5))


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences(name):
    act, rng = make(name), np.random.default_rng(4)
    u = rng.normal(scale=2.0, size=200)
    u = u[(np.abs(u) > 1e-3) & (np.abs(np.abs(u) - 1) > 1e-3)]  # away from kinks
    lo, hi = act.domain
    v = v_points(act, rng, u.size)
    v = np.clip(v, lo + 0.05 if math.isfinite(lo) else -np.inf, hi - 0.05 if math.isfinite(hi) else np.inf)
    v = v[(np.abs(v) > 1e-3)] if name == "leaky_relu" else v
    u = u[: v.size]
    h = 1e-6
    gu = (act.divergence(u + h, v) - act.divergence(u - h, v)) / (2 * h)
    gv = (act.divergence(u, v + h) - act.divergence(u, v - h)) / (2 * h)
    assert_allclose(act.divergence_grad_u(u, v), gu, **TOL["gradient"]["float64"])
    assert_allclose(act.divergence_grad_v(u, v), gv, **TOL["gradient"]["float64"])
    gphi = (act.phi(u + h) - act.phi(u - h)) / (2 * h)
    assert_allclose(act.dphi(u), gphi, **TOL["gradient"]["float64"])


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_and_torch_agree(name, dtype):
    import torch

    act, rng = make(name), np.random.default_rng(5)
    u = u_points(rng, 200).astype(dtype)
    v = v_points(act, rng, u.size).astype(dtype)
    ut, vt = torch.from_numpy(u), torch.from_numpy(v)
    tol = TOL["backend"][dtype]
    for fn in ("phi", "dphi", "f", "fconj"):
        x, xt = (v, vt) if fn == "fconj" else (u, ut)
        a, b = getattr(act, fn)(x), getattr(act, fn)(xt)
        assert b.dtype == xt.dtype
        assert_allclose(b.numpy(), a, **tol)
    Bn, Bt = act.divergence(u, v), act.divergence(ut, vt)
    scale = 1.0 + np.abs(u * v)
    assert np.all(np.abs(Bt.numpy() - Bn) <= tol["rtol"] * 10 * scale)
    w = (rng.normal(scale=3, size=u.size)).astype(dtype)
    assert_allclose(act.prox_fconj(torch.from_numpy(w), 0.7).numpy(), act.prox_fconj(w, 0.7), **tol)


@pytest.mark.parametrize("name", NAMES)
def test_prox_fconj_optimality(name):
    """prox solves t ∇f*(v) + v = w (interior) and beats neighbouring points (everywhere)."""
    act, rng = make(name), np.random.default_rng(6)
    w = rng.normal(scale=4.0, size=500)
    t = rng.uniform(0.01, 10.0, size=500)
    v = act.prox_fconj(w, t)
    assert act.in_domain(v)
    obj = lambda x: t * act.fconj(x) + 0.5 * (x - w) ** 2  # noqa: E731
    for d in (1e-4, -1e-4):
        other = act.project_domain(v + d)
        assert np.all(obj(v) <= obj(other) + RATIO["rounding"])
    lo, hi = act.domain
    if math.isfinite(lo) and math.isfinite(hi):
        # the generic safeguarded Newton and the subclass (closed form or Newton) agree
        assert_allclose(A.Activation.prox_fconj(act, w, t), v, **TOL["same_math"]["float64"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_fconj_sum_equals_sum_of_fconj(name, backend):
    """Σ f*(v) (the X-blocks' h): the closed forms agree with the sum of f* on dom f*, +inf off it."""
    if backend == "torch":
        torch = pytest.importorskip("torch")
    act = make(name)
    v = v_points(act, np.random.default_rng(7), 300)
    arr = torch.as_tensor(v) if backend == "torch" else v
    assert math.isclose(act.fconj_sum(arr), float(np.sum(act.fconj(v))), **{
        "rel_tol": TOL["same_math"]["float64"]["rtol"], "abs_tol": TOL["same_math"]["float64"]["atol"]})
    lo, hi = act.domain
    outside = [x for x in (lo - 0.5, hi + 0.5) if math.isfinite(x)]
    if outside:
        w = np.concatenate([v, outside])
        assert act.fconj_sum(torch.as_tensor(w) if backend == "torch" else w) == math.inf

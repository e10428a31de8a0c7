"""Hyperplane arrangements and the exact dual oracle (fenchel_cvx.certify.twolayer.arrangement).

Properties over random data (features x samples): the sweep enumeration equals the LP enumeration;
the oracle's supremum is never below a brute-force search (dense w on the circle plus every
breakpoint direction, every breakpoint b) and agrees with it to the brute force's resolution; the
oracle's maximiser attains its value; exact zero sums are exact; facet rows describe the same cone.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import RATIO, TOL

from fenchel_cvx.certify.twolayer import exact_zero_sum
from fenchel_cvx.certify.twolayer.arrangement import (
    chambers_at,
    cone_facets,
    data_matrix,
    dual_oracle,
    enumerate_patterns_sweep,
)
from fenchel_cvx.certify.twolayer.reference import enumerate_patterns, max_chambers

BRUTE = TOL["oracle_vs_brute_rel"]


def _data(rng, d, m, dup=False, collinear=False):
    X = rng.normal(size=(d, m))
    if dup and m > 3:
        X[:, 2] = X[:, 1]
    if collinear and m > 4:
        X[:, 3] = X[:, 0] + 2.0 * (X[:, 1] - X[:, 0])
    return X


def _zero_sum(rng, m):
    return exact_zero_sum(rng.normal(size=m) * 10.0 ** rng.uniform(-3, 3))


def brute_force_sup(X, lam, bias, n=20000):
    """max(0, max |Σ_j λ_j (x_jᵀw + b)₊|) over w on a grid of the circle plus all breakpoint directions
    (orthogonal to x_i − x_j, resp. to x_j) and b at every breakpoint −x_kᵀw (d = 1: w = ±1)."""
    d, m = X.shape
    if d == 1:
        Wd = np.array([[1.0], [-1.0]])
    else:
        th = np.linspace(-np.pi, np.pi, n, endpoint=False)
        V = (X[:, :, None] - X[:, None, :]).reshape(2, -1) if bias else X
        V = V[:, np.any(V != 0, axis=0)]
        a = np.arctan2(V[1], V[0])
        th = np.concatenate([th, a + np.pi / 2, a - np.pi / 2])
        Wd = np.column_stack([np.cos(th), np.sin(th)])
    P = Wd @ X
    if not bias:
        return max(0.0, float(np.max(np.abs(np.maximum(P, 0.0) @ lam))))
    return max(0.0, max(float(np.max(np.abs(np.maximum(P - P[:, k:k + 1], 0.0) @ lam))) for k in range(m)))


@pytest.mark.parametrize("d,bias", [(1, True), (2, True), (1, False), (2, False)])
def test_sweep_enumeration_equals_lp_enumeration(d, bias):
    rng = np.random.default_rng(10 + d + 2 * bias)
    for m in (3, 7):
        for kind in ("generic", "dup", "collinear"):
            X = _data(rng, d, m, dup=kind == "dup", collinear=kind == "collinear")
            S = {tuple(r) for r in enumerate_patterns_sweep(X, bias)}
            L = {tuple(r) for r in enumerate_patterns(X, bias, max_patterns=10 ** 5)}
            assert S == L, (d, bias, m, kind)
            if kind == "generic":
                assert len(S) == max_chambers(m, d + bias)


def test_sweep_enumeration_covers_sampled_directions_and_refuses_d3():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 40))
    D = {tuple(r) for r in enumerate_patterns_sweep(X)}
    A = data_matrix(X, True)
    seen = {tuple(r) for r in (A @ rng.normal(size=(3, 20000)) > 0).T.astype(float)}
    assert seen <= D and len(D) == max_chambers(40, 3)
    with pytest.raises(ValueError, match="d in"):
        enumerate_patterns_sweep(rng.normal(size=(3, 5)))


@pytest.mark.parametrize("trial", range(24))
def test_oracle_is_never_below_brute_force_and_matches_it(trial):
    rng = np.random.default_rng(100 + trial)
    d, bias = 1 + trial % 2, bool((trial // 2) % 2)
    m = int(rng.integers(2, 22))
    X = _data(rng, d, m, dup=trial % 5 == 0, collinear=trial % 7 == 0)
    lam = _zero_sum(rng, m) if bias else rng.normal(size=m)
    res = dual_oracle(X, lam, bias)
    b = brute_force_sup(X, lam, bias)
    assert res.bound >= b  # certified: the bound covers every point the brute force tries
    assert res.value >= b * (1 - RATIO["rounding"])
    assert res.value <= b * (1 + BRUTE) + 1e-300  # and the brute force sees the same supremum
    # the first candidate attains the value
    w, bb = res.W[0], res.b[0]
    F = float(np.maximum(X.T @ w + bb, 0.0) @ lam)
    assert math.isclose(abs(F), res.value, rel_tol=RATIO["rounding"], abs_tol=1e-300) or res.value == 0.0
    assert res.allowance < RATIO["oracle_allowance"] * max(res.value, 1e-300) + 1e-300 or res.value == 0.0


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(0, 10 ** 6), st.booleans())
def test_oracle_bounds_every_unit_hypothesis(m, seed, bias):
    """S(λ) bounds |F_λ(w, b)| at random units with ‖w‖ ≤ 1 (d = 2), including units through samples."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, m))
    lam = _zero_sum(rng, m) if bias else rng.normal(size=m)
    res = dual_oracle(X, lam, bias)
    W = rng.normal(size=(500, 2))
    W /= np.maximum(1.0, np.linalg.norm(W, axis=1))[:, None]
    b = rng.normal(size=500) * 3 if bias else np.zeros(500)
    if bias:  # through a sample
        b[:100] = -np.einsum("ij,ij->i", X.T[rng.integers(0, m, 100)], W[:100])
    F = np.maximum(W @ X + b[:, None], 0.0) @ lam
    assert np.all(np.abs(F) <= res.bound)


def brute_force_sup_3d(X, lam, bias, n=40000, n_circle=720):
    """d = 3: max |h_k| over a Fibonacci grid of the sphere, every vertex ±(d_i × d_j)/‖·‖, and a dense
    grid of every great circle d_i^⊥ (where the kinks are), for every breakpoint b."""
    d, m = X.shape
    i = np.arange(n) + 0.5
    phi, th = np.arccos(1 - 2 * i / n), np.pi * (1 + 5 ** 0.5) * i
    S = np.column_stack([np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)])
    ang = np.linspace(0, 2 * np.pi, n_circle, endpoint=False)
    best = 0.0
    for k in (range(m) if bias else [None]):
        Dk = X.T - (X[:, k] if bias else 0.0)
        nz = Dk[np.linalg.norm(Dk, axis=1) > 0]
        V = np.cross(nz[:, None, :], nz[None, :, :]).reshape(-1, 3)
        V = V[np.linalg.norm(V, axis=1) > 1e-12]
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        circ = []
        for nv in nz:
            e1 = np.cross(nv, np.eye(3)[np.argmin(np.abs(nv))])
            e1 /= np.linalg.norm(e1)
            e2 = np.cross(nv / np.linalg.norm(nv), e1)
            circ.append(np.outer(np.cos(ang), e1) + np.outer(np.sin(ang), e2))
        C = np.vstack([S, V, -V] + circ)
        best = max(best, float(np.max(np.abs(np.maximum(C @ Dk.T, 0.0) @ lam))))
    return best


@pytest.mark.parametrize("trial", range(6))
def test_oracle_d3_is_never_below_brute_force(trial):
    rng = np.random.default_rng(500 + trial)
    bias, m = bool(trial % 2), int(rng.integers(3, 9))
    X = _data(rng, 3, m, dup=trial == 4, collinear=trial == 5)
    lam = _zero_sum(rng, m) if bias else rng.normal(size=m)
    res = dual_oracle(X, lam, bias)
    b = brute_force_sup_3d(X, lam, bias)
    assert res.bound >= b
    assert res.value <= b * (1 + TOL["oracle_vs_brute_3d_rel"])  # the grids resolve face interiors to ~(1e-2)²
    w, bb = res.W[0], res.b[0]
    assert math.isclose(abs(float(np.maximum(X.T @ w + bb, 0.0) @ lam)), res.value, rel_tol=RATIO["rounding"])


def test_oracle_input_checks():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 5))
    lam = rng.normal(size=5)
    with pytest.raises(ValueError, match="exactly"):
        dual_oracle(X, lam, True)
    with pytest.raises(ValueError, match="lam"):
        dual_oracle(X, lam[:4], False)
    with pytest.raises(ValueError, match="d in"):
        dual_oracle(rng.normal(size=(4, 5)), lam, False)
    with pytest.raises(ValueError, match="NaN"):
        dual_oracle(X, np.full(5, np.nan), False)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.integers(0, 10 ** 6), st.floats(-12, 12), st.booleans())
def test_exact_zero_sum_is_exact_and_close(m, seed, logscale, box):
    rng = np.random.default_rng(seed)
    if box:  # the logistic conjugate's box [-q, 1-q]
        q = rng.integers(0, 2, m).astype(float)
        if m > 1:
            q[0], q[1] = 0.0, 1.0
        lam = rng.uniform(-1, 1, m)
        z = exact_zero_sum(lam, -q, 1 - q)
        assert np.all(z >= -q) and np.all(z <= 1 - q)
    else:
        lam = rng.normal(size=m) * 10.0 ** logscale
        z = exact_zero_sum(lam)
        ref = lam - lam.mean()
        assert np.max(np.abs(z - ref)) <= RATIO["rounding"] * max(np.max(np.abs(lam)), 1e-300) * m
    assert math.fsum(z.tolist()) == 0.0


def test_chambers_at_contain_the_unit_and_facets_describe_the_cone():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 30))
    A = data_matrix(X, True)
    for _ in range(20):
        i, j = rng.choice(30, 2, replace=False)
        w = np.array([-(X[1, i] - X[1, j]), X[0, i] - X[0, j]])
        w /= np.linalg.norm(w)
        u = np.append(w, -X[:, i] @ w)  # a unit through samples i and j (a vertex of the arrangement)
        ch = chambers_at(A, u)
        assert 1 <= len(ch) <= 4
        for D, e in ch:
            G = (2.0 * D - 1.0)[:, None] * A
            assert np.all(G @ e > 0)  # e is interior
            assert np.all(G @ u >= -RATIO["rounding"])  # u in the closure
            f = cone_facets(G, e)
            # same cone: random points of the facet cone satisfy every row
            V = rng.normal(size=(4000, 3))
            inside = np.all(V @ G[f].T >= 0, axis=1)
            assert np.all(V[inside] @ G.T >= -RATIO["rounding"])
            assert len(f) >= 3

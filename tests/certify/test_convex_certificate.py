"""Certified brackets for two-layer ReLU networks (fenchel_cvx.certify.twolayer, convex.py).

Properties over random instances (features x samples), squared and logistic/cross-entropy losses,
with and without biases: the fast restricted solver agrees with its CVXPY twin; the certified lower
bound is ≤ J of every network the tests construct (L-BFGS from several starts, the recovered network,
random networks) and ≤ the CVXPY value of the full program — with NO tolerance (the float64 rounding
allowance is part of the bound); brackets never invert; brackets close when the width suffices; the
issue-13 regression no longer inverts.
"""

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from tolerances import RATIO, TOL

from fenchel_cvx import FenchelNetwork
from fenchel_cvx.certify import certify, lbfgs_provider, lbfgs_train, tiny_regression
from fenchel_cvx.certify.examples import classification_2d
from fenchel_cvx.certify.twolayer import (
    ConvexScopeError,
    LogisticTerms,
    PatternSet,
    SquaredTerms,
    TwoLayerProblem,
    certified_dual_bound,
    convex_certificate,
    dual_value,
    solve_restricted_cvxpy,
    solve_restricted_fast,
)
from fenchel_cvx.certify.twolayer.arrangement import enumerate_patterns_sweep
from fenchel_cvx.certify.twolayer.reference import convex_reference

TWIN = TOL["convex_twin_rel"]
CLOSED = TOL["convex_closed_rel"]
#: the relative gap the certificates are asked to close here (a solver setting, asserted where it must be met)
REQUESTED = 1e-9


def _regression(d, m, n, seed, bias=True, rho=(0.05, 0.2)):
    net, X0, y = tiny_regression(d=d, hidden=n, m=m, rho=list(rho), seed=seed)
    if not bias:
        net = FenchelNetwork([d, n, 1], "relu", "squared", rho=list(rho), bias=False, seed=seed)
    return net, X0, y


def _classifier(m, n, seed, kind="moons", rho=(0.02, 0.05), bias=True):
    X0, y = classification_2d(kind, m=m, noise=0.2, seed=seed)
    net = FenchelNetwork([2, n, 2], "relu", "cross_entropy", rho=list(rho), bias=bias, seed=seed)
    return net, X0, y


def _random_patterns(problem, n_units, seed):
    rng = np.random.default_rng(seed)
    pats = PatternSet(problem.A, problem.bias)
    while len(pats) < n_units:
        pats.add_unit(rng.normal(size=problem.A.shape[1]))
    return pats


# ---- the fast restricted solver and its CVXPY twin ------------------------------------------
@pytest.mark.parametrize("case", ["squared-d1", "squared-d2", "squared-nobias", "logistic-d2", "logistic-nobias"])
def test_fast_restricted_solver_agrees_with_cvxpy_twin(case):
    for seed in range(2):
        if case.startswith("squared"):
            d = 1 if case.endswith("d1") else 2
            net, X0, y = _regression(d, 14, 3, seed, bias=not case.endswith("nobias"))
        else:
            net, X0, y = _classifier(16, 3, seed, bias=not case.endswith("nobias"))
        pb = TwoLayerProblem.from_network(net, X0, y)
        pats = _random_patterns(pb, 6 + 3 * seed, seed)
        fast = solve_restricted_fast(pb, pats, tol=1e-10)
        ref = solve_restricted_cvxpy(pb, pats)
        assert fast.status.startswith("optimal"), fast.status
        assert abs(fast.value - ref.value) <= TWIN * (1 + abs(ref.value)), (fast.value, ref.value)
        assert fast.value <= ref.value + TWIN * (1 + abs(ref.value))  # never worse than the reference
        # the fast point is strictly inside every chamber's cone (all m rows, not only the facets)
        P = len(pats)
        G = (2.0 * pats.D - 1.0)
        for U in (fast.U[:P], fast.U[P:]):
            assert np.all(G * (U @ pb.A.T) > 0)


def test_column_generation_with_the_cvxpy_twin_cross_validates_the_fast_path():
    for case in ("squared", "ce"):
        net, X0, y = _regression(1, 8, 3, 5) if case == "squared" else _classifier(10, 3, 5)
        fast = convex_certificate(net, X0, y, tol=REQUESTED)
        ref = convex_certificate(net, X0, y, solver="cvxpy", tol=REQUESTED)
        assert fast.lower <= ref.upper and ref.lower <= fast.upper
        # CLARABEL's interior points spread neurons over blocks: where no recovered network fits the width, the
        # twin's upper comes from the width-n search (a local search, possibly worse), else the two agree
        if ref.width_upper is None:
            assert abs(fast.upper - ref.upper) <= TWIN * fast.upper
        else:
            assert fast.upper <= ref.upper + TWIN * fast.upper and ref.n_active <= ref.width
        assert fast.gap <= ref.gap or fast.gap <= REQUESTED  # CLARABEL's accuracy limits its own bracket


def test_restricted_objective_is_the_same_function_in_both_paths():
    """The CVXPY twin's objective at the fast point equals the numpy value (a modelling bug is not a solver bug)."""
    net, X0, y = _classifier(12, 3, 4)
    pb = TwoLayerProblem.from_network(net, X0, y)
    pats = _random_patterns(pb, 5, 4)
    fast = solve_restricted_fast(pb, pats, tol=1e-8)
    yhat = fast.yhat
    cvx_loss = float(pb.loss.cvx(yhat).value) / pb.m
    assert math.isclose(cvx_loss, float(np.sum(pb.loss.value(yhat))) / pb.m, rel_tol=RATIO["rounding"])


# ---- certified lower bounds below every network ---------------------------------------------
def _random_networks(net, X0, y, rng, k=40):
    """J of k random networks of the net's architecture (scaled inits)."""
    out = []
    for _ in range(k):
        W = [rng.normal(size=w.shape) * rng.uniform(0.1, 2) for w in net.W]
        b = [rng.normal(size=v.shape) if net.bias else np.zeros(v.shape) for v in net.b]
        out.append(net.objective(X0, y, W, b))
    return out


CASES = [("squared", 1, 8, 2, 0), ("squared", 2, 10, 3, 1), ("squared", 1, 7, 1, 2), ("squared-nobias", 2, 9, 2, 3),
         ("ce", 2, 12, 3, 0), ("ce", 2, 14, 2, 1), ("ce-xor", 2, 12, 4, 2), ("ce-nobias", 2, 10, 3, 3)]


@pytest.mark.parametrize("case,d,m,n,seed", CASES, ids=[f"{c[0]}-m{c[2]}-s{c[4]}" for c in CASES])
def test_certified_lower_bound_is_below_every_network_and_the_full_program(case, d, m, n, seed):
    if case.startswith("squared"):
        net, X0, y = _regression(d, m, n, seed, bias=not case.endswith("nobias"))
    else:
        net, X0, y = _classifier(m, n, seed, kind="xor" if "xor" in case else "moons", bias=not case.endswith("nobias"))
    res = convex_certificate(net, X0, y, tol=REQUESTED)
    lo = res.lower
    assert lo <= res.upper  # the bracket never inverts
    assert res.gap >= 0
    assert math.isclose(net.objective(X0, y, res.W, res.b) if res.exact else res.upper, res.upper,
                        rel_tol=RATIO["rounding"]) \
        or not res.exact
    # L-BFGS networks of the problem's width from several starts
    Js = [lbfgs_train(net, X0, y, seed=s)[2] for s in range(3)]
    assert all(lo <= J for J in Js), (lo, Js)
    # random networks
    assert all(lo <= J for J in _random_networks(net, X0, y, np.random.default_rng(seed)))
    # the full program (every activation pattern) solved by CVXPY: its value is ≥ P* ≥ lower
    pb = TwoLayerProblem.from_network(net, X0, y)
    full = PatternSet(pb.A, pb.bias)
    D = enumerate_patterns_sweep(X0, pb.bias).astype(bool)
    for row in D:
        if row.any() and not (pb.bias and row.all()):
            full.add(row, _interior(pb.A, row))
    ref = solve_restricted_cvxpy(pb, full)
    assert lo <= ref.value
    # and the bracket is tight: the fast value and CLARABEL's agree with the bracket
    assert ref.value <= res.upper * (1 + TWIN)
    if res.exact and res.converged:
        assert res.gap <= REQUESTED


def _interior(A, D):
    """An interior point of the chamber with pattern D (LP: max s s.t. (2D−1)∘(Au) ≥ s, |u| ≤ 1)."""
    from scipy.optimize import linprog

    G = (2.0 * D - 1.0)[:, None] * A
    p = A.shape[1]
    res = linprog(np.r_[np.zeros(p), -1.0], A_ub=np.hstack([-G, np.ones((len(G), 1))]), b_ub=np.zeros(len(G)),
                  bounds=[(-1, 1)] * p + [(None, 1)], method="highs")
    return res.x[:p] / np.linalg.norm(res.x[:p])


@pytest.mark.parametrize("seed,d,m,bias", [(0, 1, 6, True), (3, 2, 7, True), (5, 1, 9, True), (2, 2, 8, True),
                                           (1, 2, 8, False), (4, 1, 7, False)])
def test_bracket_closes_when_the_width_suffices(seed, d, m, bias):
    """n = m + 1 ≥ r (Carathéodory): the recovered network attains the convex optimum, so [lower, upper]
    brackets min J and closes."""
    n = m + 1
    net, X0, y = _regression(d, m, n, seed, bias=bias)
    res = convex_certificate(net, X0, y, tol=1e-10)
    assert res.exact, (res.n_active, n)
    assert 0 <= res.gap <= CLOSED
    # no trained network beats the certified bound; the best one meets the bracket
    Js = [lbfgs_train(net, X0, y, seed=s)[2] for s in range(4)]
    assert min(Js) >= res.lower
    assert res.W[0].shape[0] <= n or res.exact


@pytest.mark.parametrize("m,seed,bias", [(7, 0, True), (12, 1, True), (9, 2, False)])
def test_three_features_certified_and_closed(m, seed, bias):
    """d = 3 (exact oracle over the great circles of S², small m): bound below every trained network,
    bracket closed when the width suffices, and the CVXPY reference's certified bound agrees."""
    net, X0, y = _regression(3, m, m + 1, seed, bias=bias)
    res = convex_certificate(net, X0, y, tol=1e-9)
    assert res.exact and 0 <= res.gap <= CLOSED
    assert min(lbfgs_train(net, X0, y, seed=s)[2] for s in range(3)) >= res.lower
    if bias and m <= 7:
        cres = convex_reference(net, X0, y, allow_large=True)
        assert cres.lower is not None and cres.lower <= res.upper and res.lower <= cres.J_recovered


def test_issue13_regression_bracket_no_longer_inverts():
    """`fenchel-cvx certify -d 1 --hidden 2 -m 5 --seed 3`: the convex bound sat 1.5e-8 above min J."""
    net, X0, y = tiny_regression(d=1, hidden=2, m=5, seed=3, rho=0.1)
    cres = convex_reference(net, X0, y)
    Js = [lbfgs_train(net, X0, y, seed=s)[2] for s in range(5)]
    assert cres.lower is not None and cres.lower <= min(Js) <= cres.J_recovered
    assert cres.value > min(Js)  # the solver's primal value still overshoots: it is not used as a bound
    rep = certify(net, X0, y, lams=(), upper_providers=[lbfgs_provider(5, seed=3)], standard=False, seed=3)
    assert rep.consistent(rtol=0.0) and rep.rel_gap >= 0
    assert rep.best_lower.value == cres.lower or rep.best_lower.value <= min(Js)
    res = convex_certificate(net, X0, y)
    assert res.lower <= min(Js) and res.lower <= res.upper


@pytest.mark.parametrize("d,m,seed", [(1, 6, 0), (2, 7, 1), (2, 9, 2)])
def test_convex_reference_lower_is_certified(d, m, seed):
    net, X0, y = tiny_regression(d=d, hidden=2, m=m, rho=[0.05, 0.2], seed=seed)
    cres = convex_reference(net, X0, y)
    assert cres.lower <= cres.J_recovered
    assert cres.lower <= min(lbfgs_train(net, X0, y, seed=s)[2] for s in range(3))
    assert cres.value - cres.lower <= TWIN * abs(cres.value)  # and tight, to CLARABEL's accuracy


def test_certificate_from_arbitrary_candidates_is_still_valid():
    """Any λ (garbage included) gives a valid bound: feasibility is made, not assumed."""
    rng = np.random.default_rng(7)
    for case in ("squared", "ce"):
        net, X0, y = _regression(2, 12, 3, 1) if case == "squared" else _classifier(12, 3, 1)
        pb = TwoLayerProblem.from_network(net, X0, y)
        Jmin = min(lbfgs_train(net, X0, y, seed=s)[2] for s in range(2))
        for scale in (1e-3, 1.0, 1e3):
            cert = certified_dual_bound(pb, rng.normal(size=pb.m) * scale)
            assert cert.lower <= Jmin
            assert cert.sup_bound <= cert.level
            assert math.fsum(cert.lam.tolist()) == 0.0


# ---- losses: conjugates, rounding allowance, the two-output cross-entropy ------------------
def test_dual_value_allowance_covers_the_exact_evaluation():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = int(rng.integers(1, 300))
        y = rng.normal(size=m) * 10.0 ** rng.uniform(-3, 3)
        lam = rng.normal(size=m) * 10.0 ** rng.uniform(-3, 3)
        v, a = dual_value(SquaredTerms(y), lam)
        exact = -sum(Fraction(float(l)) ** 2 / 2 + Fraction(float(l)) * Fraction(float(t)) for l, t in zip(lam, y)) / m
        assert Fraction(v) - Fraction(a) <= exact <= Fraction(v) + Fraction(a)
        q = rng.integers(0, 2, m).astype(float)
        lamq = rng.uniform(0, 1, m) * np.where(q == 1, -1.0, 1.0)
        k = m // 5  # p = λ + q on and next to the domain's edges
        lamq[:k] = np.where(q[:k] == 1, -1.0, 1.0) * np.where(np.arange(k) % 2, 1.0, np.nextafter(1.0, 0.0))
        v, a = dual_value(LogisticTerms(q), lamq)
        with mpmath.workdps(60):
            ex = mpmath.mpf(0)
            for l, qq in zip(lamq, q):
                p = mpmath.mpf(float(l)) + mpmath.mpf(float(qq))
                ex += (p * mpmath.log(p) if p > 0 else 0) + ((1 - p) * mpmath.log(1 - p) if p < 1 else 0)
            ex = -ex / m
            assert mpmath.mpf(v) - mpmath.mpf(a) <= ex <= mpmath.mpf(v) + mpmath.mpf(a)


def test_two_output_cross_entropy_is_logistic_with_half_the_output_decay():
    rng = np.random.default_rng(3)
    X0, y = classification_2d("moons", m=20, seed=3)
    rho0, rho1 = 0.03, 0.08
    net2 = FenchelNetwork([2, 4, 2], "relu", "cross_entropy", rho=[rho0, rho1], seed=0)
    pb2 = TwoLayerProblem.from_network(net2, X0, y)
    # class 0 is the positive class of z = z_0 − z_1: logistic targets q = 1 − y
    pb1 = TwoLayerProblem.from_arrays(X0, 1 - y, (rho0, rho1 / 2), loss="logistic", width=4)
    assert pb1.beta == pb2.beta  # the same float64 operations (halving ρ_1 is exact)
    for _ in range(5):
        W0, b0, a, c = rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=4), float(rng.normal())
        z = a @ np.maximum(W0 @ X0 + b0[:, None], 0) + c
        q = 1.0 - y
        J1 = float(np.mean(np.logaddexp(0, z) - q * z)) + rho0 / 2 * np.sum(W0 ** 2) + rho1 / 4 * np.sum(a ** 2)
        assert math.isclose(pb2.judge(W0, b0, a, c), J1, rel_tol=RATIO["rounding"])
        assert math.isclose(pb1.judge(W0, b0, a, c), J1, rel_tol=RATIO["rounding"])
    r1, r2 = convex_certificate(problem=pb1, tol=REQUESTED), convex_certificate(problem=pb2, tol=REQUESTED)
    # both brackets contain the same P*, so their lower bounds differ by at most the wider bracket
    assert r1.gap <= REQUESTED and r2.gap <= REQUESTED
    assert abs(r1.lower - r2.lower) <= max(r1.upper - r1.lower, r2.upper - r2.lower)
    # a two-output network trained by backprop never beats the bound
    assert min(lbfgs_train(net2, X0, y, seed=s)[2] for s in range(3)) >= r2.lower


# ---- scope -----------------------------------------------------------------------------------
def test_out_of_scope_inputs_raise_clear_errors():
    rng = np.random.default_rng(0)
    X4 = rng.normal(size=(4, 6))
    with pytest.raises(ConvexScopeError, match="d in"):
        convex_certificate(FenchelNetwork([4, 2, 1], "relu", "squared", rho=0.1), X4, rng.normal(size=(1, 6)),
                           oracle="exact")
    with pytest.raises(ConvexScopeError, match="allow_large"):
        TwoLayerProblem.from_arrays(rng.normal(size=(3, 61)), rng.normal(size=61), 0.1, oracle="exact")
    # beyond the exact oracle's reach, "auto" picks the SCIP-bounded oracle (any d)
    assert TwoLayerProblem.from_arrays(rng.normal(size=(3, 61)), rng.normal(size=61), 0.1).oracle == "scip"
    with pytest.raises(ValueError, match="oracle"):
        TwoLayerProblem.from_arrays(X4, rng.normal(size=6), 0.1, oracle="best")
    X0 = rng.normal(size=(2, 6))
    with pytest.raises(ConvexScopeError, match="supported"):
        convex_certificate(FenchelNetwork([2, 2, 3], "relu", "cross_entropy", rho=0.1), X0, np.arange(6) % 3)
    with pytest.raises(ConvexScopeError, match="supported"):
        convex_certificate(FenchelNetwork([2, 2, 1], "tanh", "squared", rho=0.1), X0, rng.normal(size=(1, 6)))
    with pytest.raises(ConvexScopeError, match="supported"):
        convex_certificate(FenchelNetwork([2, 2, 2, 1], "relu", "squared", rho=0.1), X0, rng.normal(size=(1, 6)))
    with pytest.raises(ConvexScopeError, match="rho"):
        convex_certificate(FenchelNetwork([2, 2, 1], "relu", "squared", rho=[0.1, 0.0]), X0, rng.normal(size=(1, 6)))
    with pytest.raises(ValueError, match="same class"):
        TwoLayerProblem.from_arrays(X0, np.ones(6), 0.1, loss="logistic")
    with pytest.raises(ConvexScopeError, match="loss"):
        TwoLayerProblem.from_arrays(X0, np.ones(6), 0.1, loss="hinge")
    with pytest.raises(ConvexScopeError, match="allow_large"):
        TwoLayerProblem.from_arrays(rng.normal(size=(2, 1001)), rng.normal(size=1001), 0.1)
    with pytest.raises(TypeError, match="net"):
        convex_certificate("net", X0, np.zeros(6))


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_m200_brackets_close_within_a_minute(loss):
    """The issue's target: d = 2, m = 200, bracket ≤ 1e-6 relative in < 60 s on one core (convex_certificate
    limits BLAS to one thread itself)."""
    import time

    if loss == "squared":
        net, X0, y = tiny_regression(d=2, hidden=60, m=200, rho=0.01, seed=0)
        pb = TwoLayerProblem.from_network(net, X0, y)
    else:
        X0, y = classification_2d("moons", m=200, seed=0)
        pb = TwoLayerProblem.from_arrays(X0, y, 0.01, loss="logistic", width=60)
    t0 = time.process_time()  # CPU seconds of this single-threaded process (the machine may be shared)
    res = convex_certificate(problem=pb, tol=1e-7)
    assert time.process_time() - t0 < 60
    assert res.converged and res.gap <= TOL["convex_target_rel"] and res.lower <= res.upper and res.exact

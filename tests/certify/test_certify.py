"""Tests of the lower-bound certificates (fenchel_cvx.certify): brackets, global solves, convex reference."""

import math
import sys

import numpy as np
import pytest
from conftest import HAVE_SCIP
from numpy.testing import assert_allclose
from tolerances import RATIO, TOL

from fenchel_cvx import FenchelNetwork, activations
from fenchel_cvx.certify import (
    NoLowerBoundError,
    ScopeError,
    UpperBound,
    certify,
    check_problem,
    lbfgs_train,
    solve_relaxation,
    solve_standard,
    tiny_regression,
)
from fenchel_cvx.certify.problem import require_scip
from fenchel_cvx.certify.scip.boxes import unit_bounds
from fenchel_cvx.certify.scip.solve import canonical_units
from fenchel_cvx.certify.scip.unit_model import from_units, to_units
from fenchel_cvx.certify.twolayer.reference import (
    convex_reference,
    enumerate_patterns,
    max_chambers,
)
from fenchel_cvx.certify.upper import lifted_lbfgs, lifted_objective_and_grad, objective_and_grad

#: a test that needs SCIP: the `scip` marker (skipped without PySCIPOpt, tests/conftest.py)
scip = pytest.mark.scip


ID = TOL["identity"]["float64"]
# SCIP's certificates hold up to its feasibility tolerance (1e-8 here, ~1e-4 relative on τ = √energy,
# see fenchel_cvx.certify.scip.solve); the convex reference is exact up to CLARABEL's accuracy (~1e-8).
#: SCIP's relative gap limit in these solves (a solver setting): upper bounds are optimal to it
GAP = 1e-3
SLACK = TOL["block_objective_rel"]["float32"]  # 1e-4 relative

INSTANCES = [dict(d=1, hidden=1, m=5, seed=0), dict(d=1, hidden=2, m=4, seed=1), dict(d=2, hidden=1, m=5, seed=2)]


@pytest.fixture(scope="module", params=range(len(INSTANCES)), ids=lambda i: f"inst{i}")
def report(request):
    if not HAVE_SCIP:
        pytest.skip("pyscipopt not installed")
    net, X0, y = tiny_regression(rho=0.1, **INSTANCES[request.param])
    rep = certify(net, X0, y, lams=(0.1, 1.0, 10.0, 100.0), time_limit=30, gap=GAP)
    return net, X0, y, rep


# ---- the model pieces (no SCIP) -------------------------------------------------------
def test_relu_divergence_as_min_over_s():
    """½(s − v)² + v·(s − u) = ½s² + ½v² − uv; over s ≥ max(u, 0) its minimum is at s = u₊ and equals B(u, v)."""
    rng = np.random.default_rng(0)
    u, v = 3 * rng.normal(size=2000), np.abs(2 * rng.normal(size=2000))
    v[::7] = 0.0
    relu = activations.get("relu")
    model = lambda s: 0.5 * (s - v) ** 2 + v * (s - u)  # noqa: E731
    sp = np.maximum(u, 0.0)
    assert_allclose(model(sp), relu.divergence(u, v), **ID)
    for shift in (1e-3, 0.5, 3.0):  # any feasible s > u₊ is worse
        assert np.all(model(sp + shift) > relu.divergence(u, v))
    # at the optimum s·g = 0 (the SOS1 cut of the model)
    assert np.all(sp * (sp - u) == 0)


def test_gradients_match_finite_differences():
    net, X0, y = tiny_regression(d=2, hidden=3, m=6, rho=[0.05, 0.2], seed=3)
    Y = net.check_targets(y, 6)
    rng = np.random.default_rng(1)
    W = [rng.normal(size=w.shape) for w in net.W]
    b = [rng.normal(size=v.shape) for v in net.b]
    Xs = [np.abs(rng.normal(size=(3, 6)))]
    J, gW, gb = objective_and_grad(net, X0, Y, W, b)
    F, fW, fb, fX = lifted_objective_and_grad(net, X0, Y, W, b, Xs, [2.0])
    assert_allclose(J, net.objective(X0, y, W, b), **ID)
    assert_allclose(F, net.lifted_objective(X0, y, Xs, W, b, lam=2.0), **ID)
    h, g = 1e-6, TOL["gradient"]["float64"]
    for (arr, gJ, gF) in [(W[0], gW[0], fW[0]), (b[0], gb[0], fb[0]), (W[1], gW[1], fW[1]), (Xs[0], None, fX[0])]:
        for idx in [tuple(i) for i in np.argwhere(np.ones(arr.shape, bool))[:4]]:
            old = arr[idx]
            arr[idx] = old + h
            Jp, Fp = net.objective(X0, y, W, b), net.lifted_objective(X0, y, Xs, W, b, lam=2.0)
            arr[idx] = old - h
            Jm, Fm = net.objective(X0, y, W, b), net.lifted_objective(X0, y, Xs, W, b, lam=2.0)
            arr[idx] = old
            if gJ is not None:
                assert_allclose(gJ[idx], (Jp - Jm) / (2 * h), **g)
            assert_allclose(gF[idx], (Fp - Fm) / (2 * h), **g)


def test_unit_scaling_roundtrip_and_bounds():
    """to_units/from_units: the unit-scaled objective never exceeds J, the mapped-back network attains it,
    and canonical points of trained networks lie in the perspective boxes of unit_bounds."""
    net, X0, y = tiny_regression(d=2, hidden=3, m=7, rho=0.1, seed=4)
    problem = check_problem(net, X0, y)
    for seed in range(4):
        W, b, J, _ = lbfgs_train(net, X0, y, seed=seed)
        signs, u = to_units(problem, W, b)
        signs, u, _ = canonical_units(problem, signs, u, relaxed=False)
        z = signs @ u["V"] + u["c"]
        model = 0.5 * np.mean((z - problem.Y[0]) ** 2) + u["tau"].sum()
        assert model <= J + RATIO["rounding"]
        W2, b2, _ = from_units(problem, signs, u)
        assert_allclose(net.objective(X0, y, W2, b2), model, **ID)
        bnd = unit_bounds(problem, J, relaxed=False)
        tau = u["tau"]
        U = u["w"] @ X0 + u["b"][:, None]
        eps = RATIO["box_membership"]
        assert np.all(np.linalg.norm(u["w"], axis=1) <= bnd.w * tau + eps)
        assert np.all(u["b"] <= bnd.b_hi * tau + eps) and np.all(u["b"] >= bnd.b_lo * tau - eps)
        assert np.all(U <= bnd.u_hi * tau[:, None] + eps) and np.all(U >= bnd.u_lo * tau[:, None] - eps)
        assert np.all(u["V"] <= bnd.v_hi * tau[:, None] + eps)
        assert tau.sum() <= bnd.tau_hi + eps
        # the relaxation's boxes hold at stationary points of F_λ (local minima from the trained network)
        for lam in (0.5, 20.0):
            Wl, bl, Xl, Fl = lifted_lbfgs(net, X0, y, W, b, lam=lam)
            sg, ul = to_units(problem, Wl, bl, Xl, lam)
            sg, ul, _ = canonical_units(problem, sg, ul, relaxed=True)
            bf = unit_bounds(problem, Fl * (1 + RATIO["lbfgs_incumbent"]), relaxed=True, lam=lam)
            t = ul["tau"]
            Ul = ul["w"] @ X0 + ul["b"][:, None]
            tol = RATIO["lbfgs_box"] * (1 + t.max())
            assert np.all(ul["b"] <= bf.b_hi * t + tol) and np.all(ul["b"] >= bf.b_lo * t - tol)
            assert np.all(Ul <= bf.u_hi * t[:, None] + tol) and np.all(ul["V"] <= bf.v_hi * t[:, None] + tol)


# ---- convex reference (CVXPY only) ----------------------------------------------------------
def test_pattern_enumeration_is_exact():
    rng = np.random.default_rng(0)
    for d, m in [(1, 6), (2, 7), (3, 6)]:
        X0 = rng.normal(size=(d, m))
        D = enumerate_patterns(X0)
        assert len({tuple(r) for r in D}) == len(D) == max_chambers(m, d + 1)  # general position
        # every sampled direction's pattern is among them
        A = np.vstack([X0, np.ones((1, m))]).T
        seen = {tuple(r) for r in (A @ rng.normal(size=(d + 1, 4000)) > 0).T.astype(float)}
        assert seen <= {tuple(r) for r in D}


@pytest.mark.parametrize("seed,d,m,n", [(0, 1, 6, 2), (3, 2, 7, 3), (5, 1, 9, 1)])
def test_convex_reference_recovered_network_attains_optimum(seed, d, m, n):
    net, X0, y = tiny_regression(d=d, hidden=n, m=m, rho=[0.05, 0.2], seed=seed)
    res = convex_reference(net, X0, y)
    assert_allclose(res.J_recovered, res.value, rtol=TOL["convex_twin_rel"])  # CLARABEL's accuracy
    assert res.W[0].shape[0] == max(n, res.n_active)
    # a lower bound on min J of width n: no trained network goes below it
    for s in range(3):
        assert lbfgs_train(net, X0, y, seed=s)[2] >= res.value - TOL["convex_twin_rel"] * res.value


# ---- global solves (SCIP) ------------------------------------------------------------------
@scip
def test_every_lower_bound_below_every_upper_bound(report):
    _, _, _, rep = report
    up = min(b.value for b in rep.upper)
    for b in rep.lower:
        assert b.value <= up * (1 + RATIO["bound_vs_upper"]), (b, up)
    assert rep.consistent(rtol=RATIO["bound_vs_upper"])
    assert len(rep.upper) >= 5 and any(b.provenance.startswith("SCIP") for b in rep.lower)
    # the default providers include lifted BCD (full batch), checked against the same lower bounds
    assert any(b.provenance.startswith("lifted BCD") for b in rep.upper)


@scip
def test_relaxation_below_standard_and_monotone_in_lam(report):
    _, _, _, rep = report
    std = rep.standard
    assert std.solved
    sw = rep.sweep
    assert [s.lam for s in sw] == sorted(s.lam for s in sw)
    for s in sw:
        assert s.status == "optimal"
        assert s.lower <= s.upper * (1 + RATIO["bound_vs_upper"])
        assert s.lower <= std.judged * (1 + RATIO["bound_vs_upper"])  # certified: min F_λ ≤ min J
        assert s.upper <= std.judged * (1 + GAP)  # min F_λ (to the gap) ≤ min J
    for s1, s2 in zip(sw, sw[1:], strict=False):
        assert s1.lower <= s2.upper * (1 + RATIO["bound_vs_upper"])  # certified consequence of min F_λ1 ≤ min F_λ2
        assert s1.upper <= s2.upper * (1 + GAP)  # non-decreasing in λ, up to the gap
    # the relaxation tightens: the largest λ is within a few per cent of min J, the smallest far below
    assert sw[-1].upper >= 0.9 * std.dual
    assert sw[0].upper < sw[-1].upper


@scip
def test_scip_points_are_judged_by_the_network(report):
    net, X0, y, rep = report
    std = rep.standard
    assert_allclose(net.objective(X0, y, std.W, std.b), std.judged, **ID)
    for s in rep.sweep:
        r = s.result
        assert_allclose(net.lifted_objective(X0, y, r.Xs, r.W, r.b, lam=s.lam), r.judged, **ID)
        assert r.judged <= r.Fbar * (1 + RATIO["rounding"])


@scip
def test_convex_optimum_matches_scip_when_width_suffices(report):
    net, X0, y, rep = report
    cert, std = rep.convex_certificate, rep.standard
    # always: the certified convex bound ≤ min J (width n) ≤ SCIP's best point -- no tolerance
    assert cert.lower <= std.judged
    if cert.exact:  # width n ≥ active units: both brackets are on min J and they meet
        assert_allclose(std.judged, cert.upper, rtol=SLACK)
        assert std.dual <= cert.upper * (1 + SLACK)  # SCIP's dual bound holds up to its feasibility tolerance


@scip
def test_convex_reference_is_a_strict_lower_bound_when_too_narrow():
    """Instance whose convex solution needs more units than the width: J's optimum stays above it."""
    net, X0, y = tiny_regression(d=2, hidden=1, m=5, rho=0.1, seed=2)
    cres = convex_reference(net, X0, y)
    assert not cres.exact
    std = solve_standard(net, X0, y, time_limit=30)
    assert std.solved
    assert std.dual > cres.value * (1 + GAP)  # certified, beyond SCIP's gap: width 1 cannot reach the convex optimum


@scip
def test_upper_bound_providers_are_pluggable_and_checked():
    net, X0, y = tiny_regression(d=1, hidden=1, m=4, seed=5)
    W, b, J, _ = lbfgs_train(net, X0, y, seed=0)
    calls = []

    def provider(net_, X0_, y_):
        calls.append(1)
        return [UpperBound(-123.0, "mislabelled", W, b)]  # value is re-judged by the network

    rep = certify(net, X0, y, lams=(), upper_providers=[provider], standard=False, convex=False)
    assert calls and rep.upper[0].value == pytest.approx(J, rel=RATIO["rounding"])
    with pytest.raises(TypeError, match="UpperBound"):
        certify(net, X0, y, lams=(), upper_providers=[lambda *a: [J]], standard=False, convex=False)


@scip
def test_cli_prints_table_and_saves_plot(tmp_path, capsys):
    from fenchel_cvx.cli import main

    png, js = tmp_path / "bounds.png", tmp_path / "bounds.json"
    rc = main(["certify", "--samples", "4", "--hidden", "1", "--lams", "1", "100", "--time-limit", "10",
               "--starts", "2", "--plot", str(png), "--json", str(js), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "bracket" in out and "min F_λ" in out and "SCIP" in out
    assert png.stat().st_size > 1000 and js.stat().st_size > 100


# ---- bad input --------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors(monkeypatch):
    net, X0, y = tiny_regression(d=1, hidden=2, m=5)
    with pytest.raises(ScopeError, match="no global model for activation.*sigmoid.*no finite box"):
        check_problem(FenchelNetwork([1, 2, 1], "sigmoid", "squared", rho=0.1), X0, y)
    with pytest.raises(NoLowerBoundError, match="rho_l > 0"):
        check_problem(FenchelNetwork([1, 2, 1], "relu", "squared", rho=[0.0, 0.1]), X0, y)
    with pytest.raises(ScopeError, match="too large.*allow_large"):
        check_problem(FenchelNetwork([1, 9, 1], "relu", "squared", rho=0.1), X0, y)
    with pytest.raises(ValueError, match="too large for exact pattern enumeration"):
        enumerate_patterns(np.random.default_rng(0).normal(size=(4, 40)))
    with pytest.raises(ValueError, match="convex reference supports"):
        convex_reference(FenchelNetwork([1, 2, 2], "relu", "squared", rho=0.1), X0, np.zeros((2, 5)))
    with pytest.raises(NoLowerBoundError, match=r"classes \[2\] never occur"):
        check_problem(FenchelNetwork([1, 2, 3], "relu", "cross_entropy", rho=0.1), X0, np.array([0, 1, 0, 1, 0]))
    with pytest.raises(ScopeError, match="one or two hidden layers"):
        check_problem(FenchelNetwork([1, 2, 2, 2, 1], "relu", "squared", rho=0.1), X0, y)
    with pytest.raises(TypeError, match="FenchelNetwork"):
        check_problem("net", X0, y)
    monkeypatch.setitem(sys.modules, "pyscipopt", None)
    with pytest.raises(ImportError, match=r"pip install 'fenchel-cvx\[global\]'"):
        require_scip()


@scip
def test_bad_inputs_of_the_global_solvers():
    net, X0, y = tiny_regression(d=1, hidden=2, m=5)
    with pytest.raises(ScopeError, match="one or two hidden layers"):
        solve_standard(FenchelNetwork([1, 2, 2, 2, 1], "relu", "squared", rho=0.1), X0, y)
    with pytest.raises(ScopeError, match="k >= 2 outputs"):
        solve_relaxation(FenchelNetwork([1, 2, 1], "relu", "cross_entropy", rho=0.1), X0, np.array([0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="too large"):
        solve_relaxation(FenchelNetwork([1, 2, 1], "relu", "squared", rho=0.1), np.zeros((1, 40)), np.zeros(40))
    with pytest.raises(ValueError, match="lam"):
        solve_relaxation(net, X0, y, lam=0.0)
    with pytest.raises(ValueError, match="time_limit"):
        solve_standard(net, X0, y, time_limit=-1)
    with pytest.raises(ValueError, match="lams"):
        certify(net, X0, y, lams=(1.0, -1.0))
    assert math.isfinite(unit_bounds(check_problem(net, X0, y), 1.0, relaxed=True, lam=1.0).c_hi)

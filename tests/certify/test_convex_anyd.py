"""The two-layer convex certificate for any input dimension d (issue 21 item 1) and inputs without any activation
pattern (issue 22 item 1).

* the heuristic search never reports more than the exact supremum S(λ) (d = 2, 3) and SCIP's bound is never below it;
* property: on random instances of d = 4, 5 (squared and logistic, with and without biases) the certified lower bound
  is ≤ J of networks trained by L-BFGS from many starts at widths n and 10n, and ≤ the certificate's own upper bound —
  with NO tolerance; the provenance is printed;
* one sample, identical samples, X0 = 0: a clear answer in seconds, within the time limit.
"""

import subprocess
import sys
import time

import numpy as np
import pytest
from tolerances import RATIO, TOL

from fenchel_cvx import FenchelNetwork
from fenchel_cvx.certify import lbfgs_train
from fenchel_cvx.certify.twolayer import TwoLayerProblem, convex_certificate, exact_zero_sum
from fenchel_cvx.certify.twolayer.arrangement import dual_oracle
from fenchel_cvx.certify.twolayer.search import search_oracle, unit_values


@pytest.mark.parametrize("d", [2, 3])
def test_search_oracle_is_a_lower_estimate_of_the_exact_supremum(d):
    rng = np.random.default_rng(d)
    for seed in range(3):
        X0 = rng.normal(size=(d, 25))
        lam = exact_zero_sum(rng.normal(size=25))
        ex = dual_oracle(X0, lam, True)
        se = search_oracle(X0, lam, True, seed=seed)
        assert se.kind == "search" and se.bound == np.inf
        assert se.value <= ex.bound
        # its values are F_λ at the units it returns
        np.testing.assert_allclose(
            se.F, unit_values(X0, lam, se.W, se.b), **TOL["same_math"]["float64"]
        )
        # and it finds the supremum up to a few percent (the exact value is its target)
        assert se.value >= ex.value * (1 - RATIO["search_vs_exact"])


@pytest.mark.scip
@pytest.mark.parametrize("d, bias", [(2, True), (3, True), (2, False)])
def test_scip_oracle_bound_is_above_the_exact_supremum(d, bias):
    from fenchel_cvx.certify.twolayer.mipbound import scip_oracle_bound

    rng = np.random.default_rng(10 + d)
    X0 = rng.normal(size=(d, 15))
    lam = exact_zero_sum(rng.normal(size=15)) if bias else rng.normal(size=15)
    ex = dual_oracle(X0, lam, bias)
    res = scip_oracle_bound(X0, lam, bias, time_limit=30)
    assert res.proven
    assert res.bound >= ex.value  # an upper bound, no tolerance
    assert res.bound <= ex.bound * (
        1 + RATIO["scip_oracle_bound"]
    )  # and a tight one when SCIP finishes


def test_big_m_covers_every_breakpoint_unit_and_is_tighter():
    from fenchel_cvx.certify.twolayer.mipbound import big_m

    rng = np.random.default_rng(5)
    X0 = rng.normal(size=(3, 30))
    X0[:, 0] *= 8.0  # an outlier: max_k ||x_j - x_k|| is far below ||x_j|| + max_k ||x_k||
    norms = np.linalg.norm(X0, axis=0)
    for bias in (True, False):
        M = big_m(X0, bias)
        W = rng.normal(size=(2000, 3))
        W /= np.linalg.norm(W, axis=1, keepdims=True)
        P = W @ X0  # (units, m): x_j^T w
        if bias:  # every breakpoint b = -x_k^T w: |x_j^T w + b| = |P_j - P_k|
            A = np.abs(P[:, :, None] - P[:, None, :]).max(axis=(0, 2))
            assert np.all(M <= (norms + norms.max()) * (1 + RATIO["triangle_rounding"]) + 1e-300)
            assert np.sum(M < 0.9 * (norms + norms.max())) >= 10  # tighter for most samples
        else:
            A = np.abs(P).max(axis=0)
        assert np.all(A <= M)


@pytest.mark.scip
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scip_oracle_bound_with_tight_big_m_is_above_the_exact_supremum_outliers(seed):
    """The tighter big-M (max_k ||x_j - x_k||) keeps SCIP's bound >= the exact S(lambda), also on
    data with far outliers (where it is tightest)."""
    from fenchel_cvx.certify.twolayer.mipbound import scip_oracle_bound

    rng = np.random.default_rng(100 + seed)
    X0 = rng.normal(size=(2, 18))
    X0[:, :2] *= 6.0
    lam = exact_zero_sum(rng.normal(size=18))
    ex = dual_oracle(X0, lam, True)
    res = scip_oracle_bound(X0, lam, True, time_limit=30)
    assert res.proven
    assert res.bound >= ex.value
    assert res.bound <= ex.bound * (1 + RATIO["scip_oracle_bound"])
    # with a level above S, SCIP proves that nothing reaches it: the bound is the level
    lv = scip_oracle_bound(X0, lam, True, level=1.5 * ex.bound, time_limit=30)
    assert lv.proven and lv.bound >= ex.value
    assert lv.bound <= 1.5 * ex.bound * (1 + RATIO["scip_oracle_bound"]) + RATIO["scip_oracle_abs"]


def _instance(d, m, seed, loss, bias):
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(d, m))
    if loss == "squared":
        y = np.tanh(rng.normal(size=d) @ X0) + 0.1 * rng.normal(size=m)
        return (
            FenchelNetwork([d, 2, 1], "relu", "squared", rho=[0.05, 0.1], bias=bias, seed=seed),
            X0,
            y[None, :],
        )
    labels = (rng.normal(size=d) @ X0 + 0.5 * rng.normal(size=m) > 0).astype(int)
    return (
        FenchelNetwork([d, 2, 2], "relu", "cross_entropy", rho=[0.05, 0.1], bias=bias, seed=seed),
        X0,
        labels,
    )


@pytest.mark.scip
@pytest.mark.slow
@pytest.mark.parametrize(
    "d, loss, bias",
    [
        (4, "squared", True),
        (4, "logistic", True),
        (5, "squared", True),
        (5, "logistic", True),
        (4, "squared", False),
    ],
)
def test_any_d_lower_bound_below_every_trained_network(d, loss, bias):
    """Every lower bound ≤ every upper bound: networks of width n = 2 and 10n = 20 trained by L-BFGS from several starts
    never go below the certified bound (no tolerance)."""
    for seed in range(2):
        net, X0, y = _instance(d, 14, seed, loss, bias)
        res = convex_certificate(net, X0, y, tol=1e-7, time_limit=60)
        print(
            f"d={d} {loss} bias={bias} seed={seed}: [{res.lower:.10g}, {res.upper:.10g}] "
            f"{res.status}; "
            f"lower: {res.lower_provenance}; oracle: {res.oracle}"
        )
        # S̄ is the smaller of SCIP's bound and (when SCIP did not close its search) the SDP's; the provenance
        # names what ran
        assert res.dual.oracle_kind in ("sdp", "scip") and res.dual.certified
        assert "SCIP bound" in res.lower_provenance
        assert ("SDP (Shor + RLT) bound" in res.lower_provenance) or ("SDP not run" in res.lower_provenance)
        assert res.lower <= res.upper
        for width in (2, 20):
            wide = FenchelNetwork(
                [d, width, net.sizes[-1]],
                "relu",
                net.loss.name,
                rho=list(net.rho),
                bias=bias,
                seed=seed,
            )
            for s in range(4):
                J = lbfgs_train(wide, X0, y, seed=s)[2]
                assert res.lower <= J, (width, s, J, res.lower)


@pytest.mark.parametrize(
    "case", ["one sample", "identical samples", "zeros without bias", "zeros with bias"]
)
def test_no_activation_pattern_returns_at_once(case):
    """Before the fix, convex_certificate looped forever drawing random units (issue 22 item 1)."""
    X0 = {
        "one sample": np.array(
            [
                [
                    0.3,
                ],
                [1.2],
            ]
        ),
        "identical samples": np.ones((1, 5)),
        "zeros without bias": np.zeros((2, 4)),
        "zeros with bias": np.zeros((2, 4)),
    }[case]
    m = X0.shape[1]
    y = np.arange(m, dtype=float)
    pb = TwoLayerProblem.from_arrays(X0, y, 0.1, width=2, bias=case != "zeros without bias")
    t0 = time.perf_counter()
    res = convex_certificate(problem=pb, time_limit=5)
    assert time.perf_counter() - t0 < 5
    assert res.status == "no activation pattern" and "no activation pattern exists" in res.notes[0]
    assert res.lower <= res.upper and res.gap <= RATIO["rounding"]
    # min J = min_c mean ½(c − y)² (c = 0 without a bias): the upper bound is that value
    best = 0.5 * np.mean((y - (y.mean() if pb.bias else 0.0)) ** 2)
    assert abs(res.upper - best) <= RATIO["rounding"] * (1 + best)


def test_certify_cli_with_one_sample_answers(tmp_path):
    """`fenchel-cvx certify --data` with m = 1 returned nothing (hang) before the fix."""
    path = tmp_path / "one.npz"
    np.savez(path, X0=np.array([[0.5], [1.0]]), y=np.array([2.0]))
    cmd = [
        sys.executable,
        "-m",
        "fenchel_cvx.cli",
        "certify",
        "--data",
        str(path),
        "--hidden",
        "2",
        "--time-limit",
        "20",
        "--no-plot",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "no activation pattern" in out.stdout


@pytest.mark.slow
def test_width_n_upper_bound_when_the_convex_optimum_needs_more_units():
    """Issue 21 item 4: d = 1, m = 120, n = 5 — the convex optimum needs r > 5 units. The certificate's upper bound is a
    width-5 network (pruned convex solution polished by L-BFGS), at least as good as plain L-BFGS at width 5 from
    several starts, and the note names the width, not the solver."""
    from fenchel_cvx.certify import tiny_regression

    net, X0, y = tiny_regression(d=1, hidden=5, m=120, rho=0.01, seed=0)
    res = convex_certificate(net, X0, y, time_limit=120)
    assert res.width_upper is not None and res.from_width_search and res.n_active <= 5
    assert not res.exact  # the convex optimum itself needs more units
    assert res.lower <= res.upper
    assert any("cost of the width" in n for n in res.notes)
    assert not any("restricted solver's accuracy" in n for n in res.notes)
    best_lbfgs = min(lbfgs_train(net, X0, y, seed=s)[2] for s in range(3))
    assert res.upper <= best_lbfgs

"""The semidefinite (Shor + RLT) upper bound on the dual oracle S(λ) (fenchel_cvx.certify.twolayer.sdpbound).

* the rigorous bound is ≥ the exact supremum (d = 2, with and without a bias) and ≥ the heuristic search's value
  (d = 4 … 6) — with NO tolerance — and not vacuous (within RATIO["sdp_oracle_tightness"] of S at d = 2);
* it is valid for *any* multipliers: made indefinite on purpose, the slack matrix's eigenvalue correction is used and
  the bound still holds;
* argument errors.
"""

import numpy as np
import pytest
from tolerances import RATIO

from fenchel_cvx.certify.twolayer import exact_zero_sum
from fenchel_cvx.certify.twolayer.arrangement import dual_oracle
from fenchel_cvx.certify.twolayer.sdpbound import (
    SdpMultipliers,
    _scaled_data,
    _solve_dual,
    sdp_oracle_bound,
    sdp_sign_bound,
)
from fenchel_cvx.certify.twolayer.search import search_oracle


def _instance(d, m, seed, bias=True):
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(d, m))
    lam = exact_zero_sum(rng.normal(size=m)) if bias else rng.normal(size=m)
    return X0, lam


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("pairs", ["all", "opposite"])
def test_sdp_bound_is_above_the_exact_supremum(bias, pairs):
    for seed in range(3):
        X0, lam = _instance(2, 12, seed, bias)
        ex = dual_oracle(X0, lam, bias)
        res = sdp_oracle_bound(X0, lam, bias, eps=1e-7, pairs=pairs)
        print(f"seed {seed}: exact {ex.value:.8g}, SDP {res.bound:.8g}, "
              f"{ {k: (v['status'], v['correction']) for k, v in res.signs.items()} }")
        assert res.bound >= ex.value  # a rigorous upper bound: no tolerance
        assert res.bound <= ex.value * (1 + RATIO["sdp_oracle_tightness"])  # and not a vacuous one


@pytest.mark.parametrize("d", [4, 5, 6])
def test_sdp_bound_is_above_the_search(d):
    X0, lam = _instance(d, 14, 100 + d)
    se = search_oracle(X0, lam, True)
    res = sdp_oracle_bound(X0, lam, True, eps=1e-6)
    M = np.linalg.norm(X0, axis=0) + np.linalg.norm(X0, axis=0).max()
    trivial = max(np.maximum(lam, 0) @ M, np.maximum(-lam, 0) @ M)  # Σ_{λ_j > 0} λ_j (‖x_j‖ + B) for each sign
    print(f"d = {d}: search {se.value:.8g}, SDP {res.bound:.8g}, trivial {trivial:.8g}")
    assert res.bound >= se.value
    assert res.bound < trivial


def test_indefinite_slack_uses_the_correction_and_stays_valid():
    X0, lam = _instance(2, 10, 7)
    ex = dual_oracle(X0, lam, True)
    Ahat, M, c, T, dropped = _scaled_data(X0, lam, True)
    assert dropped == 0.0
    mult, val, status = _solve_dual(Ahat, M, c, True, 1e-8, 60.0, 100000)
    assert status == "optimal"
    good = sdp_sign_bound(Ahat, M, c, mult, T, True)
    assert good["bound"] >= ex.value
    assert abs(good["dual_objective"] - val) <= RATIO["sdp_dual_vs_solver"] * (1 + abs(val))
    # lowering y₀ makes S_00 — hence λ_min(S) — negative: the dual objective falls, the correction pays for it
    for shift in (1e-3, 0.1, 1.0):
        bad = SdpMultipliers(**{**mult.__dict__, "y0": mult.y0 - shift})
        r = sdp_sign_bound(Ahat, M, c, bad, T, True)
        assert r["lam_min"] < 0 and r["correction"] > 0
        assert r["correction"] == min(r["correction_trace"], r["correction_box"])
        assert r["dual_objective"] < good["dual_objective"]
        assert r["bound"] >= ex.value, (shift, r)
    # multipliers of the wrong sign are clipped, and random ones still give a valid (poor) bound
    rng = np.random.default_rng(0)
    m = c.size
    junk = SdpMultipliers(y0=0.0, mu_w=-1.0, mu_b=0.5, eta=rng.normal(size=m), alpha=rng.normal(size=m),
                          beta=rng.normal(size=m), gamma=rng.normal(size=m), Gamma=rng.normal(size=(m, m)))
    r = sdp_sign_bound(Ahat, M, c, junk, T, True)
    assert r["correction"] > 0 and r["bound"] >= ex.value


def test_zero_data_and_zero_lambda():
    X0 = np.zeros((4, 6))
    assert sdp_oracle_bound(X0, np.zeros(6), True).bound == 0.0
    X0, _ = _instance(4, 6, 1)
    res = sdp_oracle_bound(X0, np.zeros(6), True)
    assert res.bound == 0.0 and res.status == {"+": "no sample", "-": "no sample"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lam=np.ones(5)), "expected 6 finite entries"),
        (dict(lam=np.array([1.0, -1, 0, 0, 0, np.nan])), "expected 6 finite entries"),
        (dict(lam=np.array([1.0, 0, 0, 0, 0, 0])), "1ᵀλ = 0"),
        (dict(time_limit=0.0), "time_limit"),
        (dict(eps=0.0), "eps"),
        (dict(pairs="some"), "pairs"),
        (dict(X0=np.full((3, 6), np.nan)), "X0"),
    ],
)
def test_argument_errors(kwargs, match):
    X0, lam = _instance(3, 6, 0)
    args = dict(X0=X0, lam=lam)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sdp_oracle_bound(**args)


@pytest.mark.scip
def test_certificate_uses_the_smaller_bound_and_skips_large_sdps(monkeypatch):
    """dual._scip_certificate: SCIP first; when it proves S ≤ level or closes its search, no SDP; otherwise the SDP
    bound too, and S̄ = the smaller (here SCIP is made to stop with a loose bound: the SDP's is used, certified, and
    the resulting λ is feasible for the exact oracle); the SDP is skipped beyond SDP_MAX_ENTRIES (then SCIP alone,
    and the provenance says why)."""
    import dataclasses

    import fenchel_cvx.certify.twolayer.dual as dual
    from fenchel_cvx.certify.twolayer import TwoLayerProblem, certified_dual_bound

    rng = np.random.default_rng(3)
    X0, y = rng.normal(size=(4, 16)), rng.normal(size=16)
    pb = TwoLayerProblem.from_arrays(X0, y, 0.01, oracle="scip")
    lam0 = pb.loss.grad(np.full(16, 0.1))
    c = certified_dual_bound(pb, lam0, time_limit=30)
    assert c.certified and c.oracle_kind == "scip" and c.sup_bound <= c.level
    assert "SCIP bound" in c.provenance and "SDP not run (SCIP's search closed)" in c.provenance
    real = dual.scip_oracle_bound

    def loose(*args, **kwargs):  # SCIP at its time limit with a weak bound (as at d = 10)
        r = real(*args, **kwargs)
        return dataclasses.replace(r, bound=1e3 * pb.beta_m_safe, proven=False)

    monkeypatch.setattr(dual, "scip_oracle_bound", loose)
    c1 = certified_dual_bound(pb, lam0, time_limit=30)
    assert c1.certified and c1.oracle_kind == "sdp" and c1.sup_bound <= c1.level
    assert "SDP (Shor + RLT) bound" in c1.provenance and "the bound used: the SDP's" in c1.provenance
    S = search_oracle(X0, c1.lam, True).value  # no unit the search finds violates the certified λ
    assert S <= c1.level
    monkeypatch.setattr(dual, "scip_oracle_bound", real)
    monkeypatch.setattr(dual, "SDP_MAX_ENTRIES", 0)
    c2 = certified_dual_bound(pb, lam0, time_limit=30)
    assert c2.oracle_kind == "scip" and "no SDP bound" in c2.provenance and c2.sup_bound <= c2.level

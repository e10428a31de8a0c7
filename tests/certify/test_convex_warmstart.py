"""Warm start of convex_certificate from L-BFGS-trained width-n networks (issue 21 item 2;
fenchel_cvx/certify/twolayer/warmstart.py).

The trained networks' alive units seed the first patterns; their J is an upper-bound candidate (a width-n
network: never below a certified lower bound), and the best one's dual point a lower-bound candidate.
``warm_starts=0`` is the constant-model start alone.
"""

import time

import numpy as np
import pytest
from tolerances import RATIO, TOL

from fenchel_cvx.certify.examples import classification_2d
from fenchel_cvx.certify.twolayer import TwoLayerProblem, convex_certificate
from fenchel_cvx.certify.twolayer import certificate as certificate_module
from fenchel_cvx.certify.twolayer.restricted import PatternSet
from fenchel_cvx.certify.twolayer.warmstart import (
    ALIVE_TOL,
    CHAMBER_TOL,
    WARM_PROVENANCE,
    one_output_units,
    seed_patterns,
    train_width_n,
)


def _moons(m, width, seed=0):
    X0, y = classification_2d("moons", m=m, noise=0.2, seed=seed)
    return TwoLayerProblem.from_arrays(X0, y, 0.01, loss="logistic", width=width)


def test_warm_start_closes_a_moons_instance():
    """m = 200 moons, logistic, ρ = 0.01, width 40: the bracket closes to the issue's target; the round-0
    record is the warm start's (the trained network's J and its certified dual point)."""
    pb = _moons(200, 40)
    res = convex_certificate(problem=pb, tol=1e-7)
    assert res.converged and res.gap <= TOL["convex_target_rel"] and res.lower <= res.upper and res.exact
    assert [h["round"] for h in res.history] == list(range(res.rounds + 1))
    assert "warm_start" in res.timings and res.timings["warm_start"] > 0
    assert any("seeded from 1 L-BFGS-trained width-40 network" in n for n in res.notes)
    warm = res.history[0]
    assert warm["certified"] and warm["lower"] <= res.lower and warm["upper"] >= res.upper
    # the judged network of the bound is the one returned
    J = res.network.objective(pb.X0, pb.targets)
    assert abs(J - res.upper) <= RATIO["rounding"] * (1 + abs(res.upper))


def test_warm_starts_zero_is_the_constant_model_start(monkeypatch):
    """warm_starts=0 trains nothing, and its result is the constant-model start's: no round-0 record, no note,
    no timing; the rounds it needs are more than the warm start's."""

    def refuse(*args, **kwargs):
        raise AssertionError("warm_starts=0 must not train a network")

    pb = _moons(100, 30)
    warm = convex_certificate(problem=pb, tol=1e-7)
    monkeypatch.setattr(certificate_module, "train_width_n", refuse)
    cold = convex_certificate(problem=pb, tol=1e-7, warm_starts=0)
    assert "warm_start" not in cold.timings and all(h["round"] >= 1 for h in cold.history)
    assert not any("warm start" in n for n in cold.notes) and not cold.from_warm_start
    assert cold.lower <= warm.upper and warm.lower <= cold.upper  # both brackets hold the same min J
    assert cold.rounds > warm.rounds
    with pytest.raises(AssertionError, match="must not train"):
        convex_certificate(problem=pb, tol=1e-7, warm_starts=1)


def test_trained_network_upper_bound_is_never_below_the_certified_lower_bound():
    """Every trained width-n network's J (several seeds, judged by FenchelNetwork.objective) is ≥ the certified
    lower bound; its one-output form has the same J as the trained two-output network or less."""
    pb = _moons(150, 12, seed=1)
    res = convex_certificate(problem=pb, tol=1e-7, warm_starts=2)
    for s in range(4):
        ws = train_width_n(pb, s, s)
        assert ws.J >= res.lower and ws.r <= pb.width
        net = pb.network(ws.W0, ws.b0, ws.a, ws.c)
        assert abs(net.objective(pb.X0, pb.targets) - ws.J) <= RATIO["rounding"] * (1 + ws.J)
        W0, b0, a, c = one_output_units(pb, net.W, net.b)
        np.testing.assert_allclose(a, ws.a, **TOL["exact"])
        assert c == ws.c and np.array_equal(W0, ws.W0) and np.array_equal(b0, ws.b0)
        ps = PatternSet(pb.A, pb.bias)
        assert seed_patterns(pb, ps, ws) == len(ps) and len(ps) >= 1
        # each alive unit lies in the closure of a seeded chamber: its pattern agrees off its ties (the module's
        # CHAMBER_TOL says which samples are ties)
        path = np.abs(ws.a) * np.linalg.norm(ws.W0, axis=1)
        for i in np.flatnonzero(path > ALIVE_TOL * path.max()):
            u = np.append(ws.W0[i], ws.b0[i])
            act = pb.A @ u
            clear = np.abs(act) > CHAMBER_TOL * (np.abs(pb.A) @ np.abs(u))
            if (act[clear] > 0).all() or not (act[clear] > 0).any():
                continue  # active on all samples or on none: a pattern the set refuses (linear block, zero)
            assert any(np.array_equal(D[clear], act[clear] > 0) for D in ps.D)


def test_trained_network_becomes_the_upper_bound_when_it_is_best(monkeypatch):
    """When every network recovered from the convex program is worse (here: made worse by a wrapper), the
    trained width-n network is the upper bound: provenance says so, r ≤ n, exact, and its padded parameters give
    the same J."""
    real = certificate_module.recover_network

    def worse(problem, sol, *args, **kwargs):
        W0, b0, a, c, J, r = real(problem, sol, *args, **kwargs)
        return W0, b0, a, c, J + 1.0, r

    monkeypatch.setattr(certificate_module, "recover_network", worse)
    pb = _moons(150, 12, seed=1)
    res = convex_certificate(problem=pb, tol=1e-7, max_rounds=2)
    assert res.from_warm_start and res.upper_provenance.startswith(WARM_PROVENANCE)
    assert res.exact and res.n_active <= pb.width and res.lower <= res.upper
    assert any("L-BFGS-trained width-12 network of warm start" in n for n in res.notes)
    W, b = res.params_at_width()
    net = pb.network(np.zeros((pb.width, 2)), np.zeros(pb.width), np.zeros(pb.width), 0.0)
    assert abs(net.objective(pb.X0, pb.targets, W, b) - res.upper) <= RATIO["rounding"] * (1 + res.upper)


@pytest.mark.parametrize("bad, err", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_invalid_warm_starts_raises_naming_the_argument(bad, err):
    pb = _moons(20, 4)
    with pytest.raises(err, match="warm_starts"):
        convex_certificate(problem=pb, warm_starts=bad)


def test_time_limit_is_honoured_with_warm_starts():
    """A 3 CPU-s limit on m = 600 (width 100, three warm starts): L-BFGS stops at its share of the limit, no
    further start begins, and the run ends within twice the limit (one last step may overrun)."""
    pb = _moons(600, 100)
    t0 = time.process_time()
    res = convex_certificate(problem=pb, tol=1e-7, time_limit=3.0, warm_starts=3)
    assert time.process_time() - t0 <= 2 * 3.0
    assert res.lower <= res.upper and res.timings["warm_start"] > 0

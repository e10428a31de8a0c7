"""The vector dual bound of [d, n, 2] ReLU squared-loss networks (fenchel_cvx.certify.vector_dual): a lower bound
on min J for every width, checked against networks trained from many starts at widths n and 10n, tight at a
near-optimal network, and refused outside its scope. No SCIP needed."""

import numpy as np
import pytest
from tolerances import RATIO

from fenchel_cvx import FenchelNetwork
from fenchel_cvx.certify import lbfgs_train, tiny_problem
from fenchel_cvx.certify.vector_dual import (
    VECTOR_DUAL_RESTS_ON,
    vector_dual_applies,
    vector_dual_bound,
)


@pytest.mark.parametrize("arch,seed", [("2-3-2", 0), ("2-2-2", 1), ("1-2-2", 2), ("2-3-2", 3)])
def test_vector_dual_bound_below_every_trained_network(arch, seed):
    """Every bound (from the residual of each of several networks) lies below J of every network trained from
    many starts, at width n and at width 10n (the bound holds for every width)."""
    net, X0, y = tiny_problem(arch, activation="relu", loss="squared", m=7, rho=0.1, seed=seed, data="teacher")
    d, n, k = net.sizes
    wide = FenchelNetwork([d, 10 * n, k], activation="relu", loss="squared", rho=0.1, seed=seed)
    Js = [lbfgs_train(net, X0, y, seed=s, init_scale=sc)[2] for s in range(8) for sc in (0.3, 1.0, 3.0)]
    Js += [lbfgs_train(wide, X0, y, seed=s)[2] for s in range(3)]
    lowers = []
    for s in range(4):
        W, b, J, _ = lbfgs_train(net, X0, y, seed=s)
        r = vector_dual_bound(net, X0, y, W, b)
        assert r.lower <= r.value and r.allowance >= 0 and r.sup_bound * r.scale <= r.level * (1 + RATIO["rounding"])
        lowers.append(r.lower)
    print(f"{arch} seed {seed}: best lower {max(lowers):.6f}, best J {min(Js):.6f} ({VECTOR_DUAL_RESTS_ON[:40]}...)")
    assert max(lowers) <= min(Js), (lowers, min(Js))


def test_vector_dual_bound_is_tight_at_a_near_optimal_network():
    """[2, 3, 2] squared, m = 8 (the SCIP bracket of issue 21 item 5 was 35 % wide): at the best of 300 L-BFGS
    starts the bound closes the bracket (measured gap 6.6e-4)."""
    net, X0, y = tiny_problem("2-3-2", activation="relu", loss="squared", m=8, rho=0.1, seed=0, data="teacher")
    W, b, J, _ = min((lbfgs_train(net, X0, y, seed=s) for s in (126, 0, 1)), key=lambda r: r[2])
    r = vector_dual_bound(net, X0, y, W, b)
    assert r.lower <= J and (J - r.lower) / J <= RATIO["vector_dual_gap"], (r, J)


def test_vector_dual_scope_and_arguments():
    net, X0, y = tiny_problem("2-3-2", activation="relu", loss="squared", m=5, rho=0.1, seed=0, data="teacher")
    assert vector_dual_applies(net) == ""
    for other in (FenchelNetwork([2, 3, 1], "relu", "squared", rho=0.1),
                  FenchelNetwork([2, 3, 3], "relu", "squared", rho=0.1),
                  FenchelNetwork([2, 3, 2], "relu", "cross_entropy", rho=0.1),
                  FenchelNetwork([2, 3, 3, 2], "relu", "squared", rho=0.1)):
        assert "vector dual" in vector_dual_applies(other)
    assert "rho" in vector_dual_applies(FenchelNetwork([2, 3, 2], "relu", "squared", rho=[0.1, 0.0]))
    assert "d = 5" in vector_dual_applies(FenchelNetwork([5, 3, 2], "relu", "squared", rho=0.1))
    with pytest.raises(ValueError, match="vector_dual_bound"):
        vector_dual_bound(FenchelNetwork([2, 3, 1], "relu", "squared", rho=0.1), X0, y[:1], net.W, net.b)
    with pytest.raises(ValueError, match="directions"):
        vector_dual_bound(net, X0, y, net.W, net.b, directions=2)


def test_certify_uses_the_vector_dual_bound_by_default():
    """certify() lists the vector dual bound for [d, n, 2] squared without SCIP (standard=False, no λ), states what
    it rests on, keeps the bracket proper, and skips it with convex=False."""
    from fenchel_cvx.certify import certify, lbfgs_provider

    net, X0, y = tiny_problem("2-3-2", activation="relu", loss="squared", m=6, rho=0.1, seed=1, data="teacher")
    rep = certify(net, X0, y, lams=(), standard=False, upper_providers=[lbfgs_provider(20)])
    (lo,) = [b for b in rep.lower if b.provenance.startswith("vector dual bound")]
    assert lo.certified and lo.rests_on == VECTOR_DUAL_RESTS_ON and "no solver tolerance" in lo.rests_on
    assert rep.bracket_.lower.value <= rep.bracket_.upper.value and rep.consistent()
    assert "vector dual bound" in rep.table()
    rep2 = certify(net, X0, y, lams=(), standard=False, convex=False, upper_providers=[lbfgs_provider(2)])
    assert not [b for b in rep2.lower if b.provenance.startswith("vector dual bound")]


def test_vector_dual_refuses_many_samples_in_three_dimensions():
    rng = np.random.default_rng(0)
    net = FenchelNetwork([3, 2, 2], "relu", "squared", rho=0.1)
    X0, y = rng.normal(size=(3, 70)), rng.normal(size=(2, 70))
    assert "allow_large" in vector_dual_applies(net, 70) and vector_dual_applies(net, 70, allow_large=True) == ""
    with pytest.raises(ValueError, match="70 samples"):
        vector_dual_bound(net, X0, y, net.W, net.b)

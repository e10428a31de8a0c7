"""The certified optimality gap of a given network (issue 21 item 3): certify_network, scnn's weights,
``fenchel-cvx certify --network``."""

import json
import subprocess
import sys

import numpy as np
import pytest
from tolerances import TOL

from fenchel_cvx import FenchelNetwork, save
from fenchel_cvx.certify import certify_network, lbfgs_train
from fenchel_cvx.certify.examples import classification_2d
from fenchel_cvx.certify.twolayer import network_from_scnn


def _trained(loss="logistic", n=4, seed=0):
    X0, y = classification_2d("moons", m=30, noise=0.2, seed=seed)
    net = FenchelNetwork([2, n, 2], "relu", "cross_entropy", rho=[0.02, 0.04], seed=seed)
    if loss == "squared":
        y = np.tanh(X0[0] - X0[1])[None, :]
        net = FenchelNetwork([2, n, 1], "relu", "squared", rho=[0.02, 0.04], seed=seed)
    W, b, J, _ = lbfgs_train(net, X0, y, seed=seed)
    net.set_params(W, b)
    return net, X0, y, J


@pytest.mark.parametrize("loss", ["logistic", "squared"])
def test_certify_network_reports_the_gap_of_that_network(loss):
    net, X0, y, J = _trained(loss)
    res = certify_network(net, X0, y, time_limit=60)
    assert res.J == J  # the given network's own J, judged once
    assert res.lower <= res.J and res.gap >= 0 and res.abs_gap == res.J - res.lower
    assert res.lower <= res.recovered
    assert "given network" in res.upper_provenance and "dual" in res.lower_provenance and res.oracle
    # a worse network of the same architecture has a larger certified gap, against the same lower bound
    worse = FenchelNetwork(list(net.sizes), "relu", net.loss.name, rho=list(net.rho), seed=5)
    res2 = certify_network(worse, X0, y, time_limit=60)
    assert res2.J > res.J and res2.gap > res.gap
    assert abs(res2.lower - res.lower) <= TOL["convex_twin_rel"] * (1 + abs(res.lower))
    assert set(res.to_dict()) >= {
        "J",
        "lower",
        "gap",
        "oracle",
        "lower_provenance",
        "upper_provenance",
    }
    with pytest.raises(TypeError, match="net"):
        certify_network("model", X0, y)


def test_network_from_scnn_weights_map_to_the_same_predictions():
    """scnn's NonConvexReLU stores parameters [W1 (p x d), W2 (c x p)], prediction Σ_i (X W1_iᵀ)₊ W2_iᵀ."""

    class FakeNonConvexReLU:  # the attribute scnn's model has; scnn itself is not a test dependency
        def __init__(self, W1, W2):
            self.parameters = [W1, W2]

    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(5, 3)), rng.normal(size=(1, 5))
    X = rng.normal(size=(7, 3))  # scnn: samples x features
    pred = np.maximum(X @ W1.T, 0.0) @ W2.T
    net = network_from_scnn(FakeNonConvexReLU(W1, W2), 0.1, loss="squared")
    np.testing.assert_allclose(net.forward(X.T)[1][0], pred[:, 0], **TOL["same_math"]["float64"])
    netc = network_from_scnn(FakeNonConvexReLU(W1, W2), 0.1, loss="logistic")
    out = netc.forward(X.T)[1]  # the two logits
    np.testing.assert_allclose(out[0] - out[1], pred[:, 0], **TOL["same_math"]["float64"])
    with pytest.raises(ValueError, match="loss"):
        network_from_scnn(FakeNonConvexReLU(W1, W2), 0.1, loss="hinge")


def test_cli_certify_network(tmp_path):
    net, X0, y, J = _trained("logistic")
    save(net, tmp_path / "model.npz")
    np.savez(tmp_path / "data.npz", X0=X0, y=y)
    cmd = [
        sys.executable,
        "-m",
        "fenchel_cvx.cli",
        "certify",
        "--network",
        str(tmp_path / "model.npz"),
        "--data",
        str(tmp_path / "data.npz"),
        "--json",
        str(tmp_path / "gap.json"),
        "--time-limit",
        "60",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "J(network)" in out.stdout and "certified optimality gap" in out.stdout
    rep = json.loads((tmp_path / "gap.json").read_text())
    assert rep["lower"] <= rep["J"] and rep["J"] == J
    bad = subprocess.run(
        cmd[:5], capture_output=True, text=True, timeout=120
    )  # --network without --data
    assert bad.returncode != 0 and "--data" in bad.stderr

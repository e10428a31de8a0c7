"""Training convolutional lifted networks (issue 5): ``train`` and ``train_backprop`` on a ConvFenchelNetwork.

Tiny sizes: 8 x 8 digits (features x samples) through ``input1x8x8,conv3k3,avgpool2,flatten,dense16,dense10``
(one conv map, one pooled dense map, one hidden dense map, the output), 240 training images.

The cross-check that pins the conv code path: a ConvFenchelNetwork whose layers are all dense
(``input64,dense16,dense10``) trains through the LinearMap path of the trainer (``ConvFenchelNetwork.affine``,
the design-matrix W-step, the conv X-blocks) and must reproduce the dense trainer's weights to rounding,
for every X/W solver combination.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import RATIO, TOL

from fenchel_cvx import FenchelNetwork, data
from fenchel_cvx.baselines import train_backprop
from fenchel_cvx.conv import ConvFenchelNetwork
from fenchel_cvx.training import BCDConfig, train, tuned_lenet5

torch = pytest.importorskip("torch")

ARCH = "input1x8x8,conv3k3,avgpool2,flatten,dense16,dense10"


@pytest.fixture(scope="module")
def digits_small():
    return data.load("digits").subset(240, 120, seed=0)


def small_conv(seed=0, **kw):
    return ConvFenchelNetwork(ARCH, seed=seed, dtype="float64", **kw)


FAST = dict(epochs=3, batch_size=60, lam=1.0, gamma=[0.03, 0.03, 0.3], x_iters=5, last_w_iters=5,
            eval_samples=None, dtype="float64")


@pytest.mark.parametrize("x_solver, w_solver, refresh_inertia",
                         [("apg", "mm", False), ("block", "mm", True), ("block", "block", False)])
def test_all_dense_conv_network_reproduces_the_dense_trainer(digits_small, x_solver, w_solver, refresh_inertia):
    d = digits_small
    dense = FenchelNetwork([64, 16, 10], seed=3)
    conv = ConvFenchelNetwork("input64,dense16,dense10", seed=0, dtype="float64")
    conv.set_params([w.copy() for w in dense.W], [v.copy() for v in dense.b])
    cfg = dict(epochs=2, batch_size=60, lam=1.0, gamma=[0.03, 0.3], x_iters=4, w_iters=2, last_w_iters=3,
               momentum=0.5, x_solver=x_solver, w_solver=w_solver, refresh_inertia=refresh_inertia,
               eval_samples=None)
    rd = train(dense, d.X_train, d.y_train, d.X_test, d.y_test, config=cfg, verbose=0, progress=False)
    rc = train(conv, d.X_train, d.y_train, d.X_test, d.y_test, config=cfg, verbose=0, progress=False)
    for wd, wc in zip(dense.W + dense.b, conv.W + conv.b, strict=True):
        assert_allclose(wc, wd, **TOL["same_math"]["float64"])
    assert_allclose([h["F"] for h in rc.history], [h["F"] for h in rd.history], **TOL["same_math"]["float64"])
    assert rc.final["test_acc"] == rd.final["test_acc"]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_minibatch_conv_training_learns(digits_small, backend):
    d = digits_small
    net = small_conv()
    acc0 = float(np.mean(net.predict(d.X_test) == d.y_test))
    res = train(net, d.X_train, d.y_train, d.X_test, d.y_test, config=FAST, backend=backend, verbose=0,
                progress=False)
    assert [w.shape for w in net.W] == [mp.weight_shape for mp in net.maps]
    assert res.final["test_acc"] > max(0.6, acc0 + 0.3), (acc0, res.final)
    # the recorded accuracy is the one of the returned network
    assert res.final["test_acc"] == pytest.approx(float(np.mean(net.predict(d.X_test) == d.y_test)))


def test_numpy_and_torch_conv_training_agree(digits_small):
    d = digits_small
    out = []
    for backend in ("numpy", "torch"):
        net = small_conv(seed=1)
        train(net, d.X_train, d.y_train, config={**FAST, "epochs": 1}, backend=backend, verbose=0, progress=False)
        out.append(net)
    for a, b in zip(out[0].W + out[0].b, out[1].W + out[1].b, strict=True):
        assert_allclose(a, b, **TOL["backend"]["float64"], err_msg="numpy vs torch conv training")


@pytest.mark.parametrize("w_solver", ["mm", "block"])
def test_fullbatch_conv_lifted_objective_is_monotone(digits_small, w_solver):
    d = digits_small.subset(60, 30, seed=1)
    net = small_conv(seed=2, rho=1e-3)
    res = train(net, d.X_train, d.y_train, config=dict(schedule="fullbatch", epochs=4, lam=1.0, gamma=0.1,
                                                       x_iters=4, w_iters=5, last_w_iters=5, w_solver=w_solver,
                                                       eval_samples=None, dtype="float64"),
                verbose=0, progress=False)
    F = [h["F"] for h in res.history]
    assert all(b <= a + RATIO["bcd_descent"] * (1 + abs(a)) for a, b in zip(F, F[1:])), F
    assert F[-1] < F[0] - 1e-3, F
    # the trainer's F is the network's F_λ at its own state (one definition of the objective)
    assert np.isfinite(F).all()


def test_conv_checkpoint_resume_equals_uninterrupted(digits_small, tmp_path):
    d = digits_small
    a = small_conv(seed=4)
    train(a, d.X_train, d.y_train, config=FAST, verbose=0, progress=False)
    b = small_conv(seed=4)
    ck = str(tmp_path / "ck.npz")
    train(b, d.X_train, d.y_train, config={**FAST, "epochs": 2}, checkpoint=ck, verbose=0, progress=False)
    c = small_conv(seed=4)
    train(c, d.X_train, d.y_train, config=FAST, resume=ck, verbose=0, progress=False)
    for wa, wc in zip(a.W + a.b, c.W + c.b, strict=True):
        assert_allclose(wc, wa, **TOL["exact"])


def test_backprop_baseline_trains_the_same_conv_network(digits_small):
    d = digits_small
    net = small_conv(seed=5)
    W0 = [w.copy() for w in net.W]
    res = train_backprop(net, d.X_train, d.y_train, d.X_test, d.y_test, method="adam", lr=1e-2, epochs=10,
                         batch_size=60, dtype="float64", verbose=0, progress=False)
    assert [w.shape for w in net.W] == [w.shape for w in W0]
    assert any(np.abs(w - w0).max() > 1e-3 for w, w0 in zip(net.W, W0, strict=True))
    # the history's accuracy is the one of the lifted network's forward pass with the trained weights
    assert res.final["test_acc"] == pytest.approx(float(np.mean(net.predict(d.X_test) == d.y_test)))
    assert res.final["J"] < 0.6 * res.history[0]["J"]
    assert res.final["test_acc"] > 0.5


def test_tuned_lenet5_is_a_valid_config_for_the_preset():
    net = ConvFenchelNetwork("lenet5")
    cfg = BCDConfig.from_dict(tuned_lenet5()).validate(net)
    assert cfg.backend == "torch" and len(cfg.gamma) == net.L + 1


# ---- the command -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fenchel", "adam"])
def test_cli_trains_a_conv_network(tmp_path, method):
    import json

    from fenchel_cvx.cli import main
    from fenchel_cvx.training import tuned_conv

    out = tmp_path / "run"
    rc = main(["train", "--dataset", "digits", "--n-train", "200", "--arch", "conv3k3,avgpool2,flatten,dense10",
               "--method", method, "--epochs", "2", "--batch-size", "100", "--lr", "1e-2", "--output", str(out),
               "--quiet", "--no-plot"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["sizes"] == [64, 3 * 6 * 6, 10] and len(m["history"]) == 3
    if method == "fenchel":  # the conv preset of --preset tuned
        assert m["config"]["x_solver"] == tuned_conv(1)["x_solver"] and m["config"]["refresh_inertia"] is True
        assert m["final"]["test_acc"] > 0.3
    assert m["history"][-1]["J"] < m["history"][0]["J"]


@pytest.mark.parametrize("argv,match", [
    (["--arch", "lenet5"], "has 784 features, digits has 64"),
    (["--arch", "conv3k3,avgpool2,flatten,dense7"], "must have 10 outputs"),
    (["--arch", "conv3k9,flatten,dense10"], "kernel"),
    (["--arch", "conv3k3,maxpool2,flatten,dense10"], "max pooling"),
])
def test_cli_conv_bad_architectures(tmp_path, capsys, argv, match):
    from fenchel_cvx.cli import main

    rc = main(["train", "--epochs", "1", "--output", str(tmp_path / "o"), "--quiet", *argv])
    assert rc == 2
    assert match.lower() in capsys.readouterr().err.lower()
    assert not (tmp_path / "o").exists()

"""Tests of lifted BCD training (fenchel_cvx.train) and the ``fenchel-cvx train`` command.

Tiny sizes: a 300-sample digits subset (64-16-10) for learning tests, random 6-5-4-3
instances (two hidden layers: every block kind) for the full-batch monotonicity test.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import ACC_SAMPLES, RATIO, TOL

from fenchel_cvx import FenchelNetwork, activations, data
from fenchel_cvx.blocks.instances import random_state
from fenchel_cvx.training import BCDConfig, Trainer, prepare_data, train

try:
    import torch

    HAVE_TORCH = True
except ImportError:  # pragma: no cover
    HAVE_TORCH = False


@pytest.fixture(scope="module")
def digits_small():
    d = data.load("digits").subset(300, 150, seed=0)
    return d


def small_net(seed=0, hidden=16, **kw):
    return FenchelNetwork([64, hidden, 10], seed=seed, **kw)


FAST = dict(epochs=3, batch_size=100, lam=1.0, gamma=[0.03, 0.3], x_iters=5, last_w_iters=5, eval_samples=None,
            verbose=0)


# ---- learning ------------------------------------------------------------------------------
BACKENDS = [("numpy", "float64"), ("numpy", "float32")]
if HAVE_TORCH:
    BACKENDS += [("torch", "float64"), ("torch", "float32")]


@pytest.mark.parametrize("backend,dtype", BACKENDS)
def test_minibatch_learns_on_every_backend(digits_small, backend, dtype):
    d = digits_small
    res = train(small_net(), d.X_train, d.y_train, d.X_test, d.y_test, backend=backend, dtype=dtype, **FAST)
    h = res.history
    assert [r["epoch"] for r in h] == [0, 1, 2, 3]
    for r in h:
        assert math.isfinite(r["F"]) and math.isfinite(r["J"])
        assert r["F"] <= r["J"] + RATIO["lifted_below_J"] * (1 + abs(r["J"]))  # min over X of F_λ ≤ F_λ(W, forward) = J
    assert h[0]["train_acc"] < 0.3  # chance level is 0.1
    assert h[-1]["train_acc"] > 0.8 and h[-1]["test_acc"] > 0.7
    assert h[-1]["J"] < 0.5 * h[0]["J"]
    assert res.times["per_epoch"] > 0
    # the network object holds the trained weights (numpy, its dtype)
    assert isinstance(res.net.W[0], np.ndarray) and res.net.W[0].dtype == np.float64
    assert_allclose(res.net.accuracy(d.X_test, d.y_test), h[-1]["test_acc"], atol=ACC_SAMPLES / d.X_test.shape[1])


def test_numpy_and_torch_agree(digits_small):
    if not HAVE_TORCH:
        pytest.skip("torch not installed")
    d = digits_small
    kw = dict(FAST, epochs=1)
    a = train(small_net(), d.X_train, d.y_train, backend="numpy", **kw)
    b = train(small_net(), d.X_train, d.y_train, backend="torch", **kw)
    for wa, wb in zip(a.net.W, b.net.W, strict=True):
        assert_allclose(wa, wb, **TOL["trajectory"]["float64"])


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "leaky_relu"])
def test_other_activations_learn(digits_small, act):
    d = digits_small
    res = train(small_net(activation=act), d.X_train, d.y_train, d.X_test, d.y_test,
                **dict(FAST, lam=3.0, epochs=3))
    assert res.history[-1]["train_acc"] > 0.5
    assert all(math.isfinite(r["F"]) and math.isfinite(r["J"]) for r in res.history)


def test_squared_loss_regression_learns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 200))
    Y = np.tanh(X[:2] - 0.5 * X[2:4]) + 0.1 * X[4]
    net = FenchelNetwork([5, 16, 2], loss="squared", seed=0)
    res = train(net, X, Y, epochs=4, batch_size=50, gamma=0.1, x_iters=5, verbose=0, eval_samples=None)
    mse = [r["train_mse"] for r in res.history]
    assert mse[-1] < 0.5 * mse[0]


def test_options_continuation_momentum_xweight_block_solver(digits_small):
    d = digits_small
    res = train(small_net(), d.X_train, d.y_train, **dict(FAST, lam=0.5, lam_growth=2.0, lam_max=1.5,
                                                         gamma_growth=1.5, momentum=0.5, x_weight=2.0))
    lams = [r["lam"][0] for r in res.history[1:]]
    assert_allclose(lams, [0.5, 1.0, 1.5])  # the λ used during epochs 1, 2, 3 (capped by lam_max)
    g1 = FAST["gamma"][1]
    assert_allclose([r["gamma"][1] for r in res.history[1:]], [g1, 1.5 * g1, 2.25 * g1])
    assert_allclose(res.net.lam, [1.5])
    assert res.history[-1]["train_acc"] > 0.6
    res = train(small_net(), d.X_train, d.y_train, **dict(FAST, w_solver="block", w_iters=5, epochs=2))
    assert res.history[-1]["train_acc"] > 0.6


def test_no_hidden_layer_is_logistic_regression(digits_small):
    d = digits_small
    res = train(FenchelNetwork([64, 10], seed=0), d.X_train, d.y_train, **dict(FAST, gamma=0.1, epochs=2))
    assert res.history[-1]["train_acc"] > 0.8
    assert_allclose(res.history[-1]["F"], res.history[-1]["J"])


# ---- full batch: the lifted objective never rises ---------------------------------------------------
@pytest.mark.parametrize("act", activations.names())
@pytest.mark.parametrize("w_solver", ["block", "mm"])
def test_fullbatch_lifted_objective_is_monotone(act, w_solver):
    net, X0, y, _ = random_state(act, "cross_entropy", sizes=(6, 5, 4, 3), m=30, seed=3)
    net.init_params(3)
    gamma = 0.0 if w_solver == "block" else 0.1
    net.rho = np.full(net.L + 1, 1e-2)
    res = train(net, X0, y, schedule="fullbatch", epochs=5, w_solver=w_solver, gamma=gamma,
                x_iters=40, w_iters=20, last_w_iters=20, verbose=0)
    F = np.array([r["F"] for r in res.history])
    assert np.all(np.isfinite(F))
    assert np.all(np.diff(F) <= TOL["block_objective_rel"]["float64"] * (1 + np.abs(F[:-1]))), F
    assert F[-1] < F[0] - 1e-3


def test_fullbatch_state_matches_network_lifted_objective():
    net, X0, y, _ = random_state("relu", "cross_entropy", sizes=(6, 5, 4, 3), m=30, seed=4)
    net.init_params(4)
    net.rho = np.full(net.L + 1, 1e-2)
    cfg = BCDConfig(schedule="fullbatch", epochs=2, gamma=0.0, w_solver="block").validate(net)
    tr = Trainer(net, prepare_data(net, X0, y), cfg, verbose=0)
    res = tr.run()
    Xs = tr.hidden()
    assert_allclose(res.history[-1]["F"], res.net.lifted_objective(X0, y, Xs), **TOL["identity"]["float64"])
    assert_allclose(res.history[-1]["J"], res.net.objective(X0, y), **TOL["identity"]["float64"])


# ---- the majorise-minimise W-step -------------------------------------------------------------
def _ridge_direct(X, T, W_pre, b_pre, kappa, rho, gamma):
    """argmin κ/2‖W X + b − T‖² + ρ/2‖W‖² + γ/2(‖W − W_pre‖² + ‖b − b_pre‖²) by a dense solve."""
    n, m = X.shape
    Xt = np.vstack([X, np.ones((1, m))])
    D = np.diag(np.r_[np.full(n, rho + gamma), gamma])
    C = np.hstack([gamma * W_pre, gamma * b_pre[:, None]])
    Theta = np.linalg.solve(kappa * Xt @ Xt.T + D, (kappa * T @ Xt.T + C).T).T
    return Theta[:, :n], Theta[:, n]


@pytest.mark.parametrize("m", [7, 40])  # sample space (m < n_in + 1) and weight space
def test_mm_steps_solve_the_majoriser_and_descend(m):
    """HiddenWBlock.solve_fixed (MM ridge steps): one step is the exact minimiser of the quadratic majoriser
    (checked by a dense solve), several steps descend the block objective written out by hand."""
    from fenchel_cvx.blocks import HiddenWBlock

    rng = np.random.default_rng(m)
    n_in, n_out, lam, rho, gamma = 12, 5, 1.7, 0.05, 0.3
    X = rng.normal(size=(n_in, m))
    Y = np.maximum(rng.normal(size=(n_out, m)), 0)
    W0, b0 = rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    act = activations.get("relu")
    kappa = lam * act.lip / m

    def grad(U):
        return (lam / m) * (act.phi(U) - Y)

    def P(W, b):
        U = W @ X + b[:, None]
        return (lam / m) * np.sum(act.f(U) - U * Y) + rho / 2 * np.sum(W * W) + \
            gamma / 2 * (np.sum((W - W0) ** 2) + np.sum((b - b0) ** 2))

    blk = HiddenWBlock(X, Y, "relu", lam, rho, gamma=gamma, W=W0, b=b0)
    tol = TOL["identity"]["float64"]
    assert_allclose(blk.term.kappa, kappa, rtol=RATIO["one_rounding"])
    U0 = W0 @ X + b0[:, None]
    res = blk.solve_fixed(iters=1)
    assert res.status == "budget" and res.lower_bound is None
    W1, b1 = res.solution
    Wd, bd = _ridge_direct(X, U0 - grad(U0) / kappa, W0, b0, kappa, rho, gamma)
    assert_allclose(W1, Wd, **tol)
    assert_allclose(b1, bd, **tol)
    assert_allclose(res.info["U"], W1 @ X + b1[:, None], **tol)
    # from a start away from the proximal centre: still the majoriser's minimiser at that start
    Ws, bs = W0 + 0.3 * rng.normal(size=W0.shape), b0 - 0.2
    Us = Ws @ X + bs[:, None]
    Wa, ba = blk.solve_fixed(init=(Ws, bs), iters=1).solution
    Wd, bd = _ridge_direct(X, Us - grad(Us) / kappa, W0, b0, kappa, rho, gamma)
    assert_allclose(Wa, Wd, **tol)
    assert_allclose(ba, bd, **tol)
    # several steps: monotone decrease of the block objective (the hand-written one and the block's judge)
    vals, judged = [P(W0, b0)], [blk.objective((W0, b0))]
    for k in (1, 2, 5, 20):
        W, b = blk.solve_fixed(iters=k).solution
        vals.append(P(W, b))
        judged.append(blk.objective((W, b)))
    assert np.all(np.diff(vals) <= RATIO["rounding"] * (1 + abs(vals[0]))), vals
    assert_allclose(judged, vals, **tol)


# ---- checkpoints and resume ---------------------------------------------------------------------------
def test_interrupted_and_resumed_equals_uninterrupted(digits_small, tmp_path):
    d = digits_small
    kw = dict(FAST, epochs=4, momentum=0.5, lam_growth=1.5, gamma_growth=1.2, val_fraction=0.2, patience=None)
    full = train(small_net(), d.X_train, d.y_train, d.X_test, d.y_test, **kw)
    ck = str(tmp_path / "ck.npz")
    part = train(small_net(), d.X_train, d.y_train, d.X_test, d.y_test, checkpoint=ck,
                 callbacks=[lambda epoch, rec, net: epoch == 2], **kw)
    assert part.interrupted and len(part.history) == 3
    assert os.path.isfile(ck)
    resumed = train(small_net(seed=99), d.X_train, d.y_train, d.X_test, d.y_test, resume=ck, **kw)
    for wa, wb in zip(full.net.W + full.net.b, resumed.net.W + resumed.net.b, strict=True):
        assert_array_equal(wa, wb)
    strip = lambda h: [{k: v for k, v in r.items() if "time" not in k} for r in h]  # noqa: E731
    assert strip(full.history) == strip(resumed.history)


def test_resume_rejects_another_architecture(digits_small, tmp_path):
    d = digits_small
    ck = str(tmp_path / "ck.npz")
    train(small_net(), d.X_train, d.y_train, checkpoint=ck, **dict(FAST, epochs=1))
    with pytest.raises(ValueError, match="checkpoint"):
        train(small_net(hidden=8), d.X_train, d.y_train, resume=ck, **dict(FAST, epochs=2))


# ---- early stopping and callbacks ----------------------------------------------------------------
def test_early_stopping_restores_the_best_epoch(digits_small):
    d = digits_small
    seen = []
    res = train(small_net(), d.X_train, d.y_train, callbacks=[lambda e, rec, net: seen.append(rec["epoch"])],
                **dict(FAST, epochs=12, val_fraction=0.3, patience=1, gamma=[0.01, 0.01], momentum=0.9))
    val = [r["val_acc"] for r in res.history]
    assert seen == [r["epoch"] for r in res.history[1:]]
    assert res.best_epoch == int(np.argmax(val))
    if res.stopped_early:
        assert val[-1] <= max(val[:-1])
    assert_allclose(res.final["val_acc"], max(val))
    # the returned network is the best epoch's
    prep = prepare_data(res.net, d.X_train, d.y_train, val_fraction=0.3, seed=0)
    assert_allclose(res.net.accuracy(prep["X_val"], np.argmax(prep["Y_val"], 0)), max(val))


# ---- bad input: clear errors before any work ------------------------------------------------------------
@pytest.mark.parametrize("case,match", [
    ("labels", "labels y"),
    ("nan", "NaN"),
    ("width", "features"),
    ("schedule", "schedule"),
    ("backend", "backend"),
    ("samples", "samples"),
    ("lam0", "lam"),
])
def test_bad_input_raises_before_training(digits_small, case, match):
    d = digits_small
    net = small_net()
    W0 = [w.copy() for w in net.W]
    X, y, kw = d.X_train.copy(), d.y_train.copy(), dict(FAST)
    if case == "labels":
        y[0] = 10  # 10 outputs: labels must be in [0, 10)
    elif case == "nan":
        X[3, 5] = np.nan
    elif case == "width":
        X = X[:60]
    elif case == "schedule":
        kw["schedule"] = "sometimes"
    elif case == "backend":
        kw["backend"] = "jax"
    elif case == "samples":
        y = y[:-1]
    elif case == "lam0":
        kw["lam"] = 0.0
    with pytest.raises(ValueError, match=match):
        train(net, X, y, **kw)
    for a, b in zip(W0, net.W, strict=True):
        assert_array_equal(a, b)  # nothing was trained
    with pytest.raises(TypeError, match="unknown option"):
        train(net, d.X_train, d.y_train, epochs=1, not_an_option=3)


# ---- CUDA (runs where a GPU is present) -------------------------------------------------------------------
@pytest.mark.skipif(not (HAVE_TORCH and torch.cuda.is_available()), reason="needs CUDA")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_matches_cpu(digits_small, dtype):
    d = digits_small
    kw = dict(FAST, epochs=2, dtype=dtype, backend="torch")
    a = train(small_net(), d.X_train, d.y_train, d.X_test, d.y_test, device="cpu", **kw)
    b = train(small_net(), d.X_train, d.y_train, d.X_test, d.y_test, device="cuda", **kw)
    for wa, wb in zip(a.net.W, b.net.W, strict=True):
        assert_allclose(wa, wb, **TOL["device_trajectory"][dtype])
    assert b.history[-1]["train_acc"] > 0.8


# ---- the command ------------------------------------------------------------------------------------------
def test_cli_train_writes_metrics_and_curve(tmp_path):
    from fenchel_cvx.cli import main

    out = tmp_path / "run"
    rc = main(["train", "--dataset", "digits", "--n-train", "300", "--arch", "64-16-10", "--epochs", "2",
               "--batch-size", "100", "--x-iters", "5", "--gamma", "0.1,1", "--output", str(out), "--quiet"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["method"] == "fenchel" and m["sizes"] == [64, 16, 10]
    assert len(m["history"]) == 3 and m["final"]["test_acc"] > 0.5
    assert m["config"]["gamma"] == [0.1, 1.0]  # the option overrides the preset ...
    from fenchel_cvx.training import tuned

    assert m["config"]["momentum"] == tuned(1)["momentum"]  # ... which gives the rest
    png = (out / "training_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,match", [
    (["--arch", "60-16-10"], "first width"),
    (["--arch", "64-16-7"], "last width"),
    (["--dataset", "nope"], "unknown dataset"),
    (["--arch", "64-x-10"], "--arch"),
])
def test_cli_train_bad_options(tmp_path, capsys, argv, match):
    from fenchel_cvx.cli import main

    rc = main(["train", "--epochs", "1", "--output", str(tmp_path / "o"), "--quiet", *argv])
    assert rc == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---- the quick-start demo (make demo) ------------------------------------------------------------------
def test_quickstart_demo_smoke(tmp_path, load_script):
    mod = load_script("demos/00_quickstart.py")
    out = mod.main(["--quick", "--out", str(tmp_path), "--no-adam"])
    (png,) = out["files"]
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    acc = out["report"]["fenchel"]["test_acc"]
    assert acc[0] < 0.3 and acc[-1] > 0.6  # learns well above chance (0.1) in two tiny epochs
    F, J = out["report"]["fenchel"]["F"], out["report"]["fenchel"]["J"]
    assert all(f <= j + TOL["same_math"]["float64"]["atol"] for f, j in zip(F, J, strict=True))  # F ≤ F(forward) = J

"""``BCDConfig(w0_subspace=k)``: the first layer's MM W-step restricted to the training inputs' top-k principal
directions (fenchel_cvx/training/subspace.py; issue 23 item 2): validation, the step (monotone, in the span,
stationary on the subspace, k = d is the usual step), training, resume, the preset and the CLI flag."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import RATIO, TOL

from fenchel_cvx import FenchelNetwork, data
from fenchel_cvx.blocks import w_block
from fenchel_cvx.training import BCDConfig, Trainer, first_layer_subspace, prepare_data, preset, train
from fenchel_cvx.training.subspace import principal_directions, subspace_mm_steps

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = dict(epochs=3, batch_size=100, lam=1.0, gamma=[0.03, 0.3], x_iters=5, last_w_iters=5, eval_samples=None,
            verbose=0)


@pytest.fixture(scope="module")
def digits_small():
    return data.load("digits").subset(300, 150, seed=0)


def small_net(seed=0, hidden=16, **kw):
    return FenchelNetwork([64, hidden, 10], seed=seed, **kw)


def lifted_first_block(d, rho=1e-3, gamma=0.05):
    """The first W-block of a batch of 100 after one epoch of training (X-steps done), its start's U, the
    executor and its state."""
    net = small_net(rho=rho)
    cfg = BCDConfig(epochs=1, batch_size=100, momentum=0.5, lam=1.0, gamma=[gamma, 1.0], x_iters=5)
    tr = Trainer(net, prepare_data(net, d.X_train, d.y_train), cfg, verbose=0)
    list(tr.iterate())
    ex, st = tr.executor, tr.state
    X0, Y = ex.X[:, :100], ex.Y[:, :100]
    Us, Xs, _ = net.forward_pass(list(st.W), list(st.b), X0)
    lifted = ex._lifted(list(st.W), list(st.b), X0, Y, list(Xs), Us, ex.schedule(st, 1).lam)
    ex.x_steps(lifted, 5, solver="apg")
    return (lambda: w_block(lifted, 0, gamma=gamma, U=Us[0])), Us[0], ex, st


# ---- validation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields,err,match", [
    (dict(w0_subspace=-1), ValueError, "w0_subspace"),
    (dict(w0_subspace=2.5), TypeError, "w0_subspace"),
    (dict(w0_subspace=True), TypeError, "w0_subspace"),
    (dict(w0_subspace=65), ValueError, r"w0_subspace: expected at most d = 64"),
    (dict(w0_subspace=8, w_solver="adaptive"), ValueError, "w0_subspace.*w_solver"),
    (dict(w0_subspace=8, phases=[dict(epoch=1, w0_subspace=4)]), ValueError, r"\['w0_subspace'\] cannot change"),
])
def test_invalid_w0_subspace_is_refused_naming_the_option(fields, err, match):
    with pytest.raises(err, match=match):
        BCDConfig(**fields).validate(small_net())


def test_w0_subspace_off_by_default_and_round_trips():
    assert BCDConfig().w0_subspace == 0
    cfg = BCDConfig(w0_subspace=7)
    assert BCDConfig.from_dict(cfg.to_dict()).w0_subspace == 7
    assert BCDConfig(w0_subspace=64).validate(small_net()).w0_subspace == 64


def test_w0_subspace_refused_for_conv_nets_and_the_dask_runner():
    from fenchel_cvx.conv import ConvFenchelNetwork
    from fenchel_cvx.training.dask import check_scope

    conv = ConvFenchelNetwork("input1x8x8,conv3k3,avgpool2,flatten,dense16,dense10", seed=0)
    with pytest.raises(ValueError, match="w0_subspace: not supported for convolutional"):
        BCDConfig(w0_subspace=4).validate(conv)
    with pytest.raises(ValueError, match="preset: 'subspace'"):
        preset("subspace", 4, conv=True)
    with pytest.raises(ValueError, match="w0_subspace: not supported by the distributed runner"):
        check_scope(small_net(), BCDConfig(w0_subspace=4).validate(small_net()))
    from fenchel_cvx.training.dask import DaskExecutor

    with pytest.raises(ValueError, match="w0_subspace: not supported by the distributed runner"):
        DaskExecutor(client=None).init_state(small_net(), {}, BCDConfig(w0_subspace=4))


def test_principal_directions_are_the_covariance_eigenvectors(digits_small):
    X = digits_small.X_train
    E = principal_directions(X, 5)
    Xc = X - X.mean(axis=1, keepdims=True)
    C = Xc @ Xc.T / X.shape[1]
    sig = np.linalg.eigvalsh(C)[::-1]
    assert_allclose(E.T @ E, np.eye(5), **TOL["same_math"]["float64"])
    assert_allclose(C @ E, E * sig[:5], **TOL["same_math"]["float64"])   # C E_k = E_k diag(σ_1..σ_k)
    with pytest.raises(ValueError, match="w0_subspace"):
        principal_directions(X, 65)


# ---- the step -------------------------------------------------------------------------------------------
def test_k_equal_d_is_the_usual_mm_step(digits_small):
    make, U, ex, st = lifted_first_block(digits_small)
    E = principal_directions(ex.X, 64)
    for iters in (1, 3):
        W, b, Un = subspace_mm_steps(make(), E, iters, U=U, cache={})
        Wr, br = make().solve_fixed(iters=iters).solution
        assert_allclose(W, Wr, **TOL["same_math"]["float64"])
        assert_allclose(b, br, **TOL["same_math"]["float64"])
        assert_allclose(Un, W @ ex.X[:, :100] + b[:, None], **TOL["same_math"]["float64"])


@pytest.mark.parametrize("k", [1, 5, 20])
def test_restricted_step_is_monotone_and_stays_in_the_span(digits_small, k):
    make, U, ex, st = lifted_first_block(digits_small)
    E = principal_directions(ex.X, k)
    blk = make()
    vals = [blk.objective((st.W[0], st.b[0]))]
    cache = {}
    for iters in (1, 2, 5, 20):
        W, b, _ = subspace_mm_steps(make(), E, iters, U=U, cache=cache)
        vals.append(blk.objective((W, b)))
        D = W - st.W[0]
        assert_allclose(D - (D @ E) @ E.T, 0.0, **TOL["same_math"]["float64"])   # the change lies in span E_k
    assert np.all(np.diff(vals) <= RATIO["rounding"] * (1 + abs(vals[0]))), vals
    assert vals[-1] < vals[0]
    # the cached Z, Z Zᵀ give the same step as a fresh computation
    W1, b1, _ = subspace_mm_steps(make(), E, 3, U=U, cache=cache)
    W2, b2, _ = subspace_mm_steps(make(), E, 3, U=U, cache=None)
    assert_allclose(W1, W2, **TOL["same_math"]["float64"])


def test_many_restricted_steps_reach_the_subspace_minimiser(digits_small):
    """After many MM steps the block gradient projected on the subspace, [∇_W P E_k | ∇_b P], vanishes while the
    full gradient does not (the minimiser over the subspace, not over all weights)."""
    make, U, ex, st = lifted_first_block(digits_small, rho=1e-2, gamma=0.5)
    E = principal_directions(ex.X, 5)
    X = ex.X[:, :100]
    blk = make()

    def grads(W, b):
        G = blk.dual_point((W, b))
        gW = G @ X.T + blk.rho * W + blk.gamma * (W - blk.W_prev)
        gb = G.sum(axis=1) + blk.gamma * (b - blk.b_prev)
        return np.linalg.norm(np.hstack([gW @ E, gb[:, None]])), np.linalg.norm(gW)

    p0, _ = grads(st.W[0], st.b[0])
    W, b, _ = subspace_mm_steps(make(), E, 2000, U=U, cache={})
    p, full = grads(W, b)
    assert p <= RATIO["slice_of_F"] * p0 and full > 0.1 * p0, (p0, p, full)


# ---- training ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [True, "batches"])
def test_training_with_w0_subspace_learns_and_keeps_w0_in_the_span(digits_small, shuffle):
    d = digits_small
    net = small_net()
    W_init = net.W[0].copy()
    res = train(net, d.X_train, d.y_train, d.X_test, d.y_test, **dict(FAST, epochs=4, w0_subspace=10,
                                                                        shuffle=shuffle, momentum=0.7))
    F = np.array([r["F"] for r in res.history])
    assert np.isfinite(F).all()
    assert res.final["test_acc"] > 0.5   # 10 classes: chance is 0.1
    E = principal_directions(np.asarray(d.X_train, dtype=np.float64), 10)
    D = res.net.W[0] - W_init                 # inertia included: every change lies in span E_k
    assert np.linalg.norm(D) > 0
    assert_allclose(D - (D @ E) @ E.T, 0.0, **TOL["same_math"]["float64"])
    assert res.config["w0_subspace"] == 10


def test_fullbatch_bcd_with_w0_subspace_never_raises_F(digits_small):
    """Full-batch BCD at fixed λ with the restricted first-layer step (an MM step: the block objective never
    rises) keeps F_λ non-increasing; a network without hidden layers restricts its only (output) W-step."""
    d = digits_small
    res = train(small_net(), d.X_train, d.y_train, schedule="fullbatch", epochs=6, lam=1.0, gamma=[0.03, 0.3],
                w0_subspace=10, verbose=0)
    F = np.array([r["F"] for r in res.history])
    assert np.all(np.diff(F) <= RATIO["bcd_descent"] * (1 + np.abs(F[:-1]))), F
    assert F[-1] < F[0]
    net = FenchelNetwork([64, 10], seed=0)
    W_init = net.W[0].copy()
    res = train(net, d.X_train, d.y_train, d.X_test, d.y_test, **dict(FAST, gamma=0.3, w0_subspace=10))
    assert res.final["test_acc"] > 0.5
    E = principal_directions(np.asarray(d.X_train, dtype=np.float64), 10)
    D = res.net.W[0] - W_init
    assert_allclose(D - (D @ E) @ E.T, 0.0, **TOL["same_math"]["float64"])


def test_training_with_k_equal_d_is_usual_training(digits_small):
    d = digits_small
    kw = dict(FAST, epochs=2, momentum=0.5, shuffle="batches")
    a = train(small_net(), d.X_train, d.y_train, **kw)
    b = train(small_net(), d.X_train, d.y_train, **dict(kw, w0_subspace=64))
    for wa, wb in zip(a.net.W + a.net.b, b.net.W + b.net.b, strict=True):
        assert_allclose(wb, wa, **TOL["trajectory"]["float64"])


@pytest.mark.torch
def test_torch_backend_matches_numpy(digits_small):
    d = digits_small
    kw = dict(FAST, epochs=2, momentum=0.5, w0_subspace=12)
    a = train(small_net(), d.X_train, d.y_train, **kw)
    b = train(small_net(), d.X_train, d.y_train, **dict(kw, backend="torch"))
    for wa, wb in zip(a.net.W + a.net.b, b.net.W + b.net.b, strict=True):
        assert_allclose(wb, wa, **TOL["trajectory"]["float64"])


def test_interrupted_and_resumed_equals_uninterrupted(digits_small, tmp_path):
    """The basis is not checkpointed: it is recomputed from the training data on resume."""
    d = digits_small
    kw = dict(FAST, epochs=3, momentum=0.5, w0_subspace=10, shuffle="batches")
    full = train(small_net(), d.X_train, d.y_train, **kw)
    ck = str(tmp_path / "ck.npz")
    part = train(small_net(), d.X_train, d.y_train, checkpoint=ck, callbacks=[lambda epoch, rec, net: epoch == 1],
                 **kw)
    assert part.interrupted
    resumed = train(small_net(seed=99), d.X_train, d.y_train, resume=ck, **kw)
    for wa, wb in zip(full.net.W + full.net.b, resumed.net.W + resumed.net.b, strict=True):
        assert_array_equal(wa, wb)


# ---- the preset and the command -------------------------------------------------------------------------------
def test_subspace_preset_holds_the_research_settings():
    p = preset("subspace", 2)
    assert p == first_layer_subspace(2)
    assert (p["w0_subspace"], p["lam"], p["gamma"], p["momentum"]) == (25, 0.3, [0.01, 0.01, 1.0], 0.7)
    assert p["lam_growth"] == p["gamma_growth"] == 1.0 and p["shuffle"] == "batches"
    BCDConfig(**p).validate(FenchelNetwork([64, 16, 16, 10]))


def test_cli_w0_subspace_flag_round_trip(tmp_path, capsys):
    from fenchel_cvx.cli import main

    common = ["train", "--dataset", "digits", "--n-train", "300", "--arch", "64-16-10", "--epochs", "1",
              "--batch-size", "100", "--x-iters", "5", "--quiet", "--no-plot", "--no-model"]
    rc = main([*common, "--w0-subspace", "8", "--output", str(tmp_path / "a")])
    assert rc == 0
    cfg = json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]
    assert cfg["w0_subspace"] == 8 and cfg["lam_growth"] == preset("tuned", 1)["lam_growth"]
    rc = main([*common, "--preset", "subspace", "--output", str(tmp_path / "b")])
    assert rc == 0
    cfg = json.loads((tmp_path / "b" / "metrics.json").read_text())["config"]
    assert cfg["w0_subspace"] == 25 and cfg["lam_growth"] == 1.0
    capsys.readouterr()
    rc = main([*common, "--w0-subspace", "65", "--output", str(tmp_path / "c")])
    assert rc == 2 and "--w0-subspace: expected at most d = 64" in capsys.readouterr().err
    # backprop methods take it too (tests/test_baselines.py), checked before training
    rc = main([*common, "--method", "adam", "--w0-subspace", "65", "--output", str(tmp_path / "d")])
    assert rc == 2 and "--w0-subspace: expected 1 <= k <= d = 64" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--w0-subspace K" in capsys.readouterr().out

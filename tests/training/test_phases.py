"""Tests of the schedule options of issue 14: phases, adaptive (Adam-metric) W-steps, the MM curvature scale
``w_curvature``, ``eval_f_samples``, the ``mm-then-adaptive`` preset and the default schedule of ``train()``.

Tiny sizes: a 300-sample digits subset (64-16-10).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import TOL

from fenchel_cvx import FenchelNetwork, data
from fenchel_cvx.blocks import LiftedState, w_block
from fenchel_cvx.blocks.adaptive import AdaptiveState, adaptive_update
from fenchel_cvx.training import BCDConfig, mm_then_adaptive, preset, train, tuned


@pytest.fixture(scope="module")
def digits_small():
    return data.load("digits").subset(300, 150, seed=0)


def small_net(seed=0, **kw):
    return FenchelNetwork([64, 16, 10], seed=seed, **kw)


BASE = dict(epochs=3, batch_size=100, lam=1.0, gamma=[0.03, 0.3], x_iters=5, last_w_iters=5, eval_samples=None)


# ---- the adaptive step -----------------------------------------------------------------------
@pytest.mark.torch
def test_adaptive_update_is_adam_on_the_given_gradients():
    """adaptive_update with warm-up 0 is torch.optim.Adam (β = (0.9, 0.999), ε = 1e-8) fed the same gradients."""
    import torch

    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(4)
    pW, pb = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    opt = torch.optim.Adam([pW, pb], lr=3e-2)
    st = AdaptiveState()
    for _ in range(5):
        gW, gb = rng.standard_normal((4, 3)), rng.standard_normal(4)
        W, b = adaptive_update(W, b, gW, gb, st, 3e-2)
        pW.grad, pb.grad = torch.tensor(gW), torch.tensor(gb)
        opt.step()
    assert st.t == 5
    assert_allclose(W, pW.detach().numpy(), **TOL["same_math"]["float64"])
    assert_allclose(b, pb.detach().numpy(), **TOL["same_math"]["float64"])


def test_adaptive_warmup_scales_the_first_steps():
    """With warm-up over k steps, step t moves by min(1, t/k) of the unwarmed step (same moments)."""
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((3, 2)), rng.standard_normal(3)
    gW, gb = rng.standard_normal((3, 2)), rng.standard_normal(3)
    W1, _ = adaptive_update(W, b, gW, gb, AdaptiveState(), 1e-2)
    W2, _ = adaptive_update(W, b, gW, gb, AdaptiveState(), 1e-2, warmup_steps=4)
    assert_allclose(W2 - W, 0.25 * (W1 - W), **TOL["identity"]["float64"])


@pytest.mark.parametrize("layer", [0, 1])
def test_w_block_gradient_matches_finite_differences(digits_small, layer):
    """WBlockBase.gradient = ∇(H + ρ/2‖W‖²): central differences of the block objective at γ = 0."""
    net = small_net(rho=1e-2)
    X0 = digits_small.X_train[:, :40]
    Us, Xs, _ = net.forward_pass(net.W, net.b, X0)
    Xs = [X + 0.05 for X in Xs]  # off the forward pass: the Fenchel–Young term has a nonzero gradient
    state = LiftedState(net, net.W, net.b, np.array([0.7]), X0, net.check_targets(digits_small.y_train[:40], 40), Xs,
                        None)
    blk = w_block(state, layer, gamma=0.0)
    gW, gb = blk.gradient()
    W, b = net.W[layer], net.b[layer]
    h = 1e-6
    for (i, j) in [(0, 0), (2, 5), (W.shape[0] - 1, W.shape[1] - 1)]:
        E = np.zeros_like(W)
        E[i, j] = h
        fd = (blk.objective((W + E, b)) - blk.objective((W - E, b))) / (2 * h)
        assert_allclose(gW[i, j], fd, **TOL["gradient"]["float64"])
    e = np.zeros_like(b)
    e[1] = h
    fd = (blk.objective((W, b + e)) - blk.objective((W, b - e))) / (2 * h)
    assert_allclose(gb[1], fd, **TOL["gradient"]["float64"])


def test_curvature_one_is_mm_and_zero_is_the_linearised_step(digits_small):
    """solve_fixed(curvature=1) is the default MM step; curvature=0 is the proximal step on the linearised data
    term, W = (γ W_pre − ∇H X̃ᵀ)/(ρ+γ), b = b_pre − ∇H 1/γ."""
    net = small_net(rho=1e-3)
    X0, y = digits_small.X_train[:, :50], digits_small.y_train[:50]
    Us, Xs, _ = net.forward_pass(net.W, net.b, X0)
    state = LiftedState(net, net.W, net.b, np.array([1.0]), X0, net.check_targets(y, 50), [Xs[0] + 0.1], None)
    blk = w_block(state, 1, gamma=0.5)
    a, b1 = blk.solve_fixed(iters=2).solution, blk.solve_fixed(iters=2, curvature=1.0).solution
    assert_allclose(a[0], b1[0], **TOL["exact"])
    W0, bb0 = blk.current
    gW, gb = blk.gradient()
    Wl, bl = blk.solve_fixed(iters=1, curvature=0.0).solution
    assert_allclose(Wl, (0.5 * W0 - (gW - 1e-3 * W0)) / (1e-3 + 0.5), **TOL["identity"]["float64"])
    assert_allclose(bl, bb0 - gb / 0.5, **TOL["identity"]["float64"])


# ---- phases ------------------------------------------------------------------------------------
def test_at_epoch_applies_the_phases_in_order():
    cfg = BCDConfig(lam=0.3, momentum=0.7, phases=[{"epoch": 1, "w_solver": "adaptive", "lam": 10.0},
                                                   {"epoch": 3, "momentum": 0.0}])
    assert cfg.at_epoch(0) is cfg
    c1, c3 = cfg.at_epoch(1), cfg.at_epoch(5)
    assert (c1.w_solver, c1.lam, c1.momentum, c1.phases) == ("adaptive", 10.0, 0.7, None)
    assert (c3.w_solver, c3.lam, c3.momentum) == ("adaptive", 10.0, 0.0)
    assert [cfg.phase_index(e) for e in range(5)] == [0, 1, 1, 2, 2]
    assert cfg.phase_starts(3) and not cfg.phase_starts(2)
    back = BCDConfig.from_dict(cfg.to_dict())
    assert back.phases == cfg.phases


@pytest.mark.parametrize("phases,match", [
    ([{"w_solver": "adaptive"}], r"phases\[0\]: expected a dict with an 'epoch' key"),
    ([{"epoch": 0, "lam": 1.0}], r"phases\[0\]\['epoch'\]"),
    ([{"epoch": 2, "lam": 1.0}, {"epoch": 2, "lam": 3.0}], r"phases\[1\]\['epoch'\]: phases start at increasing"),
    ([{"epoch": 1, "epochs": 5}], r"phases\[0\]: \['epochs'\] cannot change"),
    ([{"epoch": 1, "rho": 1e-3}], r"phases\[0\]: unknown fields \['rho'\] \(weight decay is the network's"),
    ([{"epoch": 1, "w_solver": "newton"}], r"phases\[0\]: w_solver"),
    ([{"epoch": 1, "lam": -1.0}], r"phases\[0\]: lam"),
    ("later", r"phases: expected a list of dicts"),
])
def test_bad_phases_raise_naming_them(phases, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BCDConfig(phases=phases).validate(small_net())


def test_adaptive_needs_the_minibatch_schedule():
    with pytest.raises(ValueError, match="w_solver: 'adaptive' steps need the mini-batch schedule"):
        BCDConfig(schedule="fullbatch", w_solver="adaptive").validate(small_net())


def test_phase_switch_sets_lambda_solver_and_records(digits_small):
    d = digits_small
    cfg = dict(BASE, lam_growth=1.5, phases=[{"epoch": 1, "lam": 10.0, "lam_growth": 1.0, "w_solver": "adaptive",
                                              "w_lr_warmup": 1.0, "momentum": 0.0}])
    res = train(small_net(), d.X_train, d.y_train, d.X_test, d.y_test, config=cfg, verbose=0)
    h = res.history
    assert [r["phase"] for r in h] == [0, 0, 1, 1]
    assert h[1]["lam"] == [1.0] and h[2]["lam"] == [10.0] and h[3]["lam"] == [10.0]
    assert h[-1]["train_acc"] > h[0]["train_acc"] + 0.3  # it learns through the switch


def test_resume_across_a_phase_boundary_equals_the_uninterrupted_run(digits_small, tmp_path):
    """A checkpoint written at the phase switch resumes into the new phase with fresh optimiser state, exactly as
    the uninterrupted run (the adaptive moments of the later epochs are checkpointed too)."""
    d = digits_small
    cfg = dict(BASE, epochs=4, momentum=0.5, phases=[{"epoch": 1, "w_solver": "adaptive", "lam": 5.0,
                                                      "momentum": 0.0, "w_lr": 3e-3}])
    full = train(small_net(), d.X_train, d.y_train, config=cfg, verbose=0)
    ck = str(tmp_path / "ck.npz")
    for stop in (1, 2):
        part = train(small_net(), d.X_train, d.y_train, config=dict(cfg, epochs=stop), checkpoint=ck, verbose=0)
        assert len(part.history) == stop + 1
        res = train(small_net(), d.X_train, d.y_train, config=cfg, resume=ck, verbose=0)
        for a, b in zip(res.net.W, full.net.W, strict=True):
            assert_allclose(a, b, **TOL["exact"])


def test_a_phase_resets_the_inertia_buffers(digits_small):
    """Momentum from the first phase does not leak into the second: a phase that keeps every field (momentum
    0.5) but starts fresh differs from no phase at all only by that reset."""
    d = digits_small
    cfg = dict(BASE, epochs=2, momentum=0.5)
    plain = train(small_net(), d.X_train, d.y_train, config=cfg, verbose=0)
    phased = train(small_net(), d.X_train, d.y_train, config=dict(cfg, phases=[{"epoch": 1, "momentum": 0.5}]),
                   verbose=0)
    assert_allclose(plain.history[1]["J"], phased.history[1]["J"], **TOL["exact"])
    assert not np.allclose(plain.net.W[0], phased.net.W[0])


# ---- presets and defaults ------------------------------------------------------------------------
def test_mm_then_adaptive_preset_learns_and_is_valid(digits_small):
    d = digits_small
    net = small_net()
    cfg = BCDConfig(**mm_then_adaptive(net.L), epochs=3, batch_size=100, eval_samples=None).validate(net)
    assert cfg.w_solver == "mm" and cfg.at_epoch(1).w_solver == "adaptive"
    res = train(net, d.X_train, d.y_train, d.X_test, d.y_test, config=cfg, verbose=0)
    assert res.history[-1]["test_acc"] > 0.7
    assert preset("mm-then-adaptive", 1) == mm_then_adaptive(1)
    with pytest.raises(ValueError, match="preset: expected one of"):
        preset("fast", 1)


def test_train_without_a_config_uses_the_tuned_preset(digits_small):
    d = digits_small
    a = train(small_net(), d.X_train, d.y_train, epochs=2, batch_size=100, verbose=0)
    b = train(small_net(), d.X_train, d.y_train, config=dict(tuned(1), epochs=2, batch_size=100), verbose=0)
    assert a.config == b.config
    assert_allclose(a.net.W[0], b.net.W[0], **TOL["exact"])
    assert a.history[2]["lam"][0] == pytest.approx(tuned(1)["lam"] * tuned(1)["lam_growth"])  # the preset's λ_0, grown


def test_eval_f_samples_evaluates_f_on_a_subset(digits_small):
    """F on all evaluation samples (None or ≥ m) is the same number; on a subset it is another estimate of it."""
    d = digits_small
    kw = dict(BASE, epochs=1)
    full = train(small_net(), d.X_train, d.y_train, config=dict(kw, eval_f_samples=None), verbose=0)
    big = train(small_net(), d.X_train, d.y_train, config=dict(kw, eval_f_samples=300), verbose=0)
    sub = train(small_net(), d.X_train, d.y_train, config=dict(kw, eval_f_samples=60), verbose=0)
    assert full.history[-1]["F"] == big.history[-1]["F"]
    assert sub.history[-1]["F"] != full.history[-1]["F"]
    assert sub.history[-1]["J"] == full.history[-1]["J"]
    assert abs(sub.history[-1]["F"] - full.history[-1]["F"]) < 0.5 * abs(full.history[-1]["F"])

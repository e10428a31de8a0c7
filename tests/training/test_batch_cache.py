"""The fixed batch partition (``BCDConfig(shuffle="batches")``) and the per-batch cache of the
first W-block's MM step.

Shapes: features x samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import TOL

from fenchel_cvx import FenchelNetwork
from fenchel_cvx.blocks.mm import Proximal, mm_steps
from fenchel_cvx.training import BCDConfig, Trainer, batch_order, prepare_data


# m = 7: sample space (m < n_in + 1, the eigen-cached solve); m = 40: weight space
@pytest.mark.parametrize("m", [7, 40])
@pytest.mark.parametrize("rho", [0.0, 0.05])
def test_cached_mm_steps_equal_uncached(m, rho):
    """mm_steps with a cache kept across calls (as for a batch that recurs every epoch) gives the
    uncached steps for changing κ and γ (λ and γ continuations), with and without the bias's rank-one term."""
    from fenchel_cvx.blocks import HiddenWBlock

    rng = np.random.default_rng(m)
    n_in, n_out = 12, 5
    X = rng.normal(size=(n_in, m))
    Y = np.maximum(rng.normal(size=(n_out, m)), 0)
    W0, b0 = rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    cache: dict = {}
    for lam, gamma in ((1.0, 0.3), (1.5, 0.36), (2.25, 0.432)):
        blk = HiddenWBlock.from_arrays(X, Y, "relu", lam, rho, gamma=gamma, W=W0, b=b0)
        ref = blk.solve_fixed(iters=3)
        got = blk.solve_fixed(iters=3, cache=cache)
        for a, c in zip(ref.solution, got.solution):
            assert_allclose(c, a, **TOL["same_math"]["float64"])
        assert_allclose(got.info["U"], ref.info["U"], **TOL["same_math"]["float64"])
    assert ("eig" in cache) == (m < n_in + 1) and ("G" in cache) == (m >= n_in + 1)


def test_mm_steps_cache_without_bias():
    """The sample-space solve without a bias column (no rank-one term) from the cached eigendecomposition."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(9, 6))
    U = rng.normal(size=(4, 6))
    W_pre, b_pre = rng.normal(size=(4, 9)), np.zeros(4)
    Y = np.maximum(rng.normal(size=(4, 6)), 0)

    class Term:  # the ReLU data term (λ/m) Σ [f(U) − U∘Y] with λ = 1
        kappa = 1.0 / 6

        @staticmethod
        def grad(V):
            return (np.maximum(V, 0) - Y) / 6

    ref = mm_steps(Term, X, U, Proximal(0.1, 0.2, W_pre, b_pre, False), n_steps=2)
    got = mm_steps(Term, X, U, Proximal(0.1, 0.2, W_pre, b_pre, False), n_steps=2, cache={})
    for a, c in zip(ref, got):
        assert_allclose(c, a, **TOL["same_math"]["float64"])


@pytest.mark.torch
@pytest.mark.usefixtures("one_torch_thread")
def test_cached_sample_space_step_on_torch():
    """The eigen-cached sample-space step on torch tensors equals the numpy Cholesky step (bias,
    ρ > 0: the Sherman–Morrison correction)."""
    import torch

    rng = np.random.default_rng(4)
    X, U = rng.normal(size=(9, 6)), rng.normal(size=(4, 6))
    W_pre, b_pre = rng.normal(size=(4, 9)), rng.normal(size=4)
    Y = np.maximum(rng.normal(size=(4, 6)), 0)

    class Term:  # the ReLU data term (λ/m) Σ [f(U) − U∘Y] with λ = 1, on either backend
        kappa = 1.0 / 6

        @staticmethod
        def grad(V):
            if isinstance(V, torch.Tensor):
                return (V.clamp_min(0) - torch.as_tensor(Y)) / 6
            return (np.maximum(V, 0) - Y) / 6

    ref = mm_steps(Term, X, U, Proximal(0.1, 0.2, W_pre, b_pre, True), n_steps=2)
    t = torch.as_tensor
    got = mm_steps(Term, t(X), t(U), Proximal(0.1, 0.2, t(W_pre), t(b_pre), True), n_steps=2, cache={})
    for a, c in zip(ref, got):
        assert_allclose(c.numpy(), a, **TOL["same_math"]["float64"])


@pytest.mark.parametrize("m, bs", [(23, 5), (20, 5), (20, 40)])
def test_batch_order_fixed_partition(m, bs):
    """shuffle="batches": every epoch visits the same batches (as sets), each sample once, in an
    order that changes between epochs; a short last batch stays last."""
    cut = lambda o: [frozenset(o[i : i + bs].tolist()) for i in range(0, m, bs)]  # noqa: E731
    orders = [batch_order(m, e, 4, "batches", bs) for e in range(4)]
    for o in orders:
        assert sorted(o.tolist()) == list(range(m))
    assert all(set(cut(o)) == set(cut(orders[0])) for o in orders)
    if m % bs:
        assert all(cut(o)[-1] == cut(orders[0])[-1] for o in orders)
    if m // bs > 2:
        assert any(cut(o) != cut(orders[0]) for o in orders[1:])


def test_trainer_with_fixed_batches_descends_and_validates():
    """A run with shuffle="batches" (cached batches) lowers J like the shuffled one; a bad value is refused."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 60))
    y = (X[0] + X[1] > 0).astype(int)
    net = FenchelNetwork([8, 16, 2], seed=0)
    cfg = BCDConfig(
        lam=1.0,
        gamma=[0.1, 1.0],
        epochs=3,
        batch_size=20,
        shuffle="batches",
        x_iters=5,
        eval_samples=None,
        eval_f_samples=None,
    )
    tr = Trainer(net, prepare_data(net, X, y), cfg, verbose=0)
    res = tr.run()
    assert len(tr.executor.batch_cache) == 3
    assert res.history[-1]["J"] < res.history[0]["J"]
    with pytest.raises(ValueError, match="shuffle"):
        BCDConfig(shuffle="samples").validate()


def test_epoch_cost_benchmark_quick(tmp_path, load_script):
    """benchmarks/epoch_cost.py --quick: every method is timed on every epoch and the table has a row per method."""
    mod = load_script("benchmarks/epoch_cost.py")
    res = mod.main(["--quick", "--out", str(tmp_path / "cost")])
    secs = res["dense-digits"]["seconds"]
    assert set(secs) == set(mod.methods("64-32-10")) and all(
        len(s) == 2 and min(s) > 0 for s in secs.values()
    )
    md = (tmp_path / "cost.md").read_text()
    assert all(f"| dense-digits | {n} |" in md for n in secs)

r"""Named schedules (dicts of :class:`~fenchel_cvx.training.config.BCDConfig` fields) for lifted BCD training.

``train(net, X, y, config=tuned(net.L))`` or ``BCDConfig(**tuned(net.L), epochs=...)``; a preset
holds only schedule fields (weight decay is the network's ρ).
"""

from __future__ import annotations

__all__ = ["tuned", "TUNED", "tuned_fashion", "tuned_conv", "tuned_lenet5", "mm_then_adaptive", "first_layer_subspace",
           "preset", "PRESETS"]


def tuned_fashion(n_hidden: int = 1) -> dict:
    """The mini-batch schedule tuned on Fashion-MNIST 784-300-10 (ReLU, cross-entropy, batch 500): the default of
    :func:`fenchel_cvx.train` until issue 23's fifth round, the base of :func:`mm_then_adaptive`'s MM epoch and of
    the research runs in experiments/FINDINGS.md (``experiments/lifted_variants.py`` etc.).

    Chosen on a 90/10 train/validation split of the Fashion-MNIST training set (random search
    over λ, x_weight, γ per layer, momentum, refresh, inner iterations and continuation factors;
    see the README's training section):

    * λ_0 = 0.3 raised ×1.5 per epoch (continuation: loose relaxation early, tight late);
    * γ = 0.1·λ_0 on the hidden W-steps (a light proximal term: each hidden W-step is a nearly
      undamped ridge fit to the X-step targets), γ = 1 on the output layer, both ×1.2 per epoch;
    * one MM ridge step per hidden W-block, 5 on the output block, 5 FISTA iterations per X-block;
    * inertia 0.7 on the weights across batches; refresh (re-forward) before each next W-step
      (without refresh the validation accuracy drops by ~2 points).
    """
    return dict(schedule="minibatch", lam=0.3, gamma=[0.03] * n_hidden + [1.0], x_weight=1.0, lam_growth=1.5,
                gamma_growth=1.2, momentum=0.7, refresh=True, x_iters=5, x_solver="apg", w_solver="mm", w_iters=1,
                last_w_iters=5)


def tuned(n_hidden: int = 1) -> dict:
    """The mini-batch schedule of pure lifted BCD: the default of :func:`fenchel_cvx.train` and ``fenchel-cvx train``
    (dense networks; ReLU, cross-entropy, batch 500): :func:`tuned_fashion` with λ_0 = 1 and γ = 10/9 on the hidden
    W-steps.

    λ_0 and the hidden γ are the fair protocol's (:mod:`fenchel_cvx.comparison`) choice pooled over its four dense
    runs with trials as long as their budget (mnist5k 10 and 20 epochs, the Fashion-MNIST 10k subset and 60k,
    10 epochs): the grid point with the smallest mean validation regret at the default network's ρ = 0, the pooled
    grid extended until the choice sits on no edge (:func:`fenchel_cvx.comparison.pooled_choice`,
    ``python benchmarks/default_choice.py``; the README's training section has the table). γ/λ_0 ≈ 1 on the hidden
    layers: a proximal term that keeps each hidden W-step near the last weights instead of fitting one batch's
    X-step targets almost undamped. The rest as :func:`tuned_fashion`: λ ×1.5 and γ ×1.2 per epoch, γ = 1 on the
    output layer, one MM ridge step per hidden W-block and 5 on the output block, 5 FISTA iterations per X-block,
    inertia 0.7, refresh.
    """
    return dict(tuned_fashion(n_hidden), lam=1.0, gamma=[10 / 9] * n_hidden + [1.0])


#: :func:`tuned` for one hidden layer
TUNED = tuned(1)


def tuned_conv(n_hidden: int = 4) -> dict:
    """The mini-batch schedule of conv nets (the "lifted" default of ``benchmarks/compare.py --archs lenet5``) for
    ``n_hidden`` hidden maps.

    LeNet-5 (:func:`tuned_lenet5`) has 4 hidden maps (two conv maps, two dense layers) + the output.

    The dense schedule of :func:`tuned` carried over to conv nets with these choices: the X-steps by the conv
    blocks' certified FISTA (``x_solver="block"``, 5 iterations), inertia 0.5 and the re-forward with the weights
    after inertia (``refresh_inertia=True``), made on mnist5k before the fair comparison; and λ_0 = 1 with
    γ = 0.01/27 ≈ 3.7e-4 on the hidden W-steps, the choice of the fair protocol for LeNet-5 on mnist5k's
    validation split (``python benchmarks/compare.py --datasets mnist5k --archs lenet5``, the README's training
    section: the γ axis was extended three times below 0.01 and the choice still sits on its lower edge, i.e. the
    hidden conv W-steps want almost no proximal term). λ ×1.5 per epoch; γ = 1 on the output W-step; γ ×1.2 per
    epoch; 1 MM ridge step per hidden W-block (on the im2col design matrix for conv layers), 5 on the output
    block; PyTorch backend in float32. Not validated on other data sets.
    """
    return dict(schedule="minibatch", lam=1.0, gamma=[0.01 / 27] * n_hidden + [1.0], x_weight=1.0, lam_growth=1.5,
                gamma_growth=1.2, momentum=0.5, refresh=True, refresh_inertia=True, x_iters=5, x_solver="block",
                w_solver="mm", w_iters=1, last_w_iters=5, backend="torch", dtype="float32")


def tuned_lenet5() -> dict:
    """:func:`tuned_conv` for the ``lenet5`` preset (4 hidden maps)."""
    return tuned_conv(4)


def mm_then_adaptive(n_hidden: int = 1, w_lr: float = 1e-2, switch_epoch: int = 1, conv: bool = False) -> dict:
    """MM→adaptive: a separately named method (never reported as plain lifted BCD).

    The first ``switch_epoch`` epochs are :func:`tuned_fashion` (``conv=True``: :func:`tuned_conv`), the lifted MM
    schedule;
    then one phase (:attr:`~fenchel_cvx.training.config.BCDConfig.phases`) replaces each W-step by one Adam-metric
    step on the lifted block gradient (``w_solver="adaptive"``, step ``w_lr``, linear warm-up over one epoch,
    :mod:`fenchel_cvx.blocks.adaptive`) at a tight relaxation (λ = 10, no continuation), without inertia or
    refresh (conv: 2 X-iterations per block, the fixed-budget APG).

    Chosen on validation splits of mnist5k (w_lr ∈ {1e-3, 3e-3, 1e-2, 3e-2} × ρ ∈ {0, 1e-4} × switch epoch ∈ {1, 3};
    the README's training section and ``benchmarks/compare.py``). With λ large the lifted block gradient is close to
    the back-propagated one, so the late phase behaves like Adam on lifted targets; the MM epoch gives its start.
    """
    base = tuned_conv(n_hidden) if conv else tuned_fashion(n_hidden)
    late = dict(epoch=int(switch_epoch), w_solver="adaptive", w_lr_warmup=1.0, lam=10.0, lam_growth=1.0,
                momentum=0.0, refresh=False)
    if conv:
        late.update(x_iters=2, x_solver="apg", refresh_inertia=False)
    # w_lr at the top: the MM phase ignores it, the late one inherits it
    return dict(base, w_lr=float(w_lr), phases=[late])


def first_layer_subspace(n_hidden: int = 1, k: int = 25) -> dict:
    """Pure lifted BCD with the first layer's W-steps in the top-``k`` principal directions of the training inputs
    (``w0_subspace``, :mod:`fenchel_cvx.training.subspace`): the settings of the research run of
    experiments/pca_metric.py (variant (a), experiments/FINDINGS.md §3d, mnist5k 784-300-10): :func:`tuned_fashion`
    with k = 25, λ = 0.3 and γ = 0.01 on the hidden W-steps (γ = 1 on the output, as there), both without
    continuation (growth 1), inertia 0.7, a fixed batch partition (``shuffle="batches"``). Dense networks with
    at least ``k`` input features; not validated beyond mnist5k.
    """
    return dict(tuned_fashion(n_hidden), lam=0.3, gamma=[0.01] * n_hidden + [1.0], lam_growth=1.0, gamma_growth=1.0,
                momentum=0.7, shuffle="batches", w0_subspace=int(k))


def preset(name: str, n_hidden: int, conv: bool = False) -> dict:
    """The named schedule ``name`` for a network with ``n_hidden`` hidden layers (``conv``: a convolutional one):
    ``"tuned"`` (:func:`tuned` / :func:`tuned_conv`; the default of :func:`fenchel_cvx.train` and of the CLI),
    ``"mm-then-adaptive"`` (:func:`mm_then_adaptive`), ``"subspace"`` (:func:`first_layer_subspace`; dense
    networks only), ``"plain"`` (the :class:`BCDConfig` defaults: ``{}``)."""
    if name == "tuned":
        return tuned_conv(n_hidden) if conv else tuned(n_hidden)
    if name == "mm-then-adaptive":
        return mm_then_adaptive(n_hidden, conv=conv)
    if name == "subspace":
        if conv:
            raise ValueError("preset: 'subspace' (w0_subspace) is for dense networks, not convolutional ones")
        return first_layer_subspace(n_hidden)
    if name == "plain":
        return {}
    raise ValueError(f"preset: expected one of {list(PRESETS)}, got {name!r}")


#: the names :func:`preset` knows (the CLI's ``--preset``)
PRESETS = ("tuned", "mm-then-adaptive", "subspace", "plain")

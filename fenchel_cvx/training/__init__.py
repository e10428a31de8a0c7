r"""Training a Fenchel lifted network by block-coordinate descent (BCD).

Shapes follow the project convention: features x samples. The data ``X`` is d x m, the
targets are integer labels (m,) (cross-entropy) or a k x m array (squared loss), the hidden
activations are ``Xs = [X_1..X_L]`` with X_l of shape n_l x m.

The lifted objective (docs/design.md §1)::

    F_λ(W, X) = (1/m)[ℓ(Y, W_L X_L + b_L 1ᵀ) + Σ_{l<L} λ_l Σ B_φl(W_l X_l + b_l 1ᵀ, X_{l+1})] + Σ_l ρ_l/2 ‖W_l‖²

is minimised over the blocks of :mod:`fenchel_cvx.blocks` (every block is convex and owns its solvers).

Schedules
---------
``schedule="minibatch"`` (the default): per batch B (m_B samples),

1. forward initialisation: U_l = W_l X_l + b_l 1ᵀ, X_{l+1} = φ_l(U_l) on the batch;
2. X-steps from X_L down to X_1, each warm-started at its forward value and solved inexactly with ``x_iters``
   iterations: the block's fixed-budget APG (``x_solver="apg"``, no certificate: the cheap mode) or its certified FISTA
   (``x_solver="block"``). The next-layer term is weighted by ``x_weight`` ≥ 1 (equivalently λ_{l−1} is divided by it in
   the X-step only) -- ``x_weight = 1`` is the plain lifted block;
3. W-steps from W_0 up to W_L with the proximal term γ_l/2 (‖W − W_l^pre‖² + ‖b − b_l^pre‖²) towards the
   weights before the batch: the block's majorise–minimise ridge steps (``w_solver="mm"``, default;
   :mod:`fenchel_cvx.blocks.mm`: monotone, one Cholesky factor per block) or its Newton-CG
   (``"block"``, certified) -- or, as an inexact alternative, one Adam-metric step on the block's gradient
   (``"adaptive"``: :mod:`fenchel_cvx.blocks.adaptive`; not a block solve, not monotone);
   ``w_iters`` steps per hidden block, ``last_w_iters`` for the output block;
   with ``refresh=True`` the input of the next W-step is re-forwarded, X_{l+1} ← φ_l(W_l^new X_l + b_l^new 1ᵀ)
   (consistency with inference; not a descent step of F_λ);
4. optional inertia (``momentum`` β): W ← W^new + β (W^pre − W^prev-batch) (with ``refresh_inertia=True`` the
   re-forward of step 3 uses these weights instead of W^new).

``schedule="fullbatch"``: the X's live across sweeps (initialised once by a forward pass, or ``init_hidden``);
one sweep solves the X-blocks from last to first, then the W-blocks from first to last, each on all m
samples. A block's new value is accepted only if its block objective does not exceed the one of the
current value, so F_λ never rises (for a fixed λ), whatever the inner accuracy.

Convolutional networks (:class:`fenchel_cvx.conv.ConvFenchelNetwork`) train through the same steps with
layer l's affine map U = A_l(W_l, X) + B_l, the conv blocks (the W-step is the dense W-block on the im2col
design matrix); :func:`tuned_lenet5` is the LeNet-5 schedule.

The λ/γ schedule (continuation: a larger λ tightens the relaxation, min F_λ ↑ min J) is stated once, in
:func:`~fenchel_cvx.training.config.lifted_schedule`. ``phases`` change fields from a given
epoch on (e.g. :func:`mm_then_adaptive`). The network holds the model (weights, ρ, λ), the :class:`BCDConfig`
the schedule (:mod:`.config`). ``train(net, X, y)`` without a config uses :func:`tuned` (:func:`tuned_conv` for
conv nets), as the CLI does; ``config=BCDConfig()`` gives the bare defaults (``--preset plain``).

History: one record per epoch (epoch 0 = before training) with ``F`` (the lifted objective at the current λ: for full
batch the state's F_λ; for mini-batches F_λ(W, X̂) on the evaluation set, X̂ = one pass of X-steps from the forward
pass), ``J`` (standard objective), ``train_acc``, ``test_acc``, ``val_acc`` (classification) or ``train_mse``...,
``time`` (cumulative training seconds, evaluation excluded), ``epoch_time``, ``eval_time``, ``lam`` and ``gamma`` (and
``phase`` with phases). F is evaluated on ``eval_f_samples`` of the evaluation samples (a seeded subset; the X-steps
make it the costly part). Checkpoints (``checkpoint=path``): weights, optimiser state, history and config in one
``.npz``; ``resume=path`` continues the run exactly where it stopped.

Layout of the package: :mod:`.config` (BCDConfig, the λ/γ schedule), :mod:`.presets` (named schedules),
:mod:`.batches` (data validation, splits, batch order), :mod:`.checkpoint`, :mod:`.history` (results, early
stopping, progress), :mod:`.loop` (the one :class:`Trainer` that only schedules, :func:`train`),
:mod:`.executor` (the step-executor base classes and their state values), :mod:`.local` (lifted BCD in one
process, numpy/torch), :mod:`.subspace` (its first-layer W-step in the inputs' principal directions),
:mod:`.backprop` (SGD/Adam in torch), :mod:`.dask` and :mod:`.shard` (the Dask runner and its worker kernels; needs
the ``distributed`` extra), :mod:`.cluster` (connecting to Dask).
"""

from .batches import batch_order, eval_subset, prepare_data
from .checkpoint import load_checkpoint, save_checkpoint
from .config import (
    BACKENDS,
    DTYPES,
    SCHEDULES,
    W_SOLVERS,
    X_SOLVERS,
    BCDConfig,
    lifted_schedule,
    resolve_config,
)
from .executor import ExecutorState, LiftedBCDState, LiftedExecutor, Schedule, StepExecutor
from .history import TrainResult
from .local import LocalExecutor
from .loop import Trainer, evaluate, train
from .presets import (
    PRESETS,
    TUNED,
    first_layer_subspace,
    mm_then_adaptive,
    preset,
    tuned,
    tuned_conv,
    tuned_fashion,
    tuned_lenet5,
)

__all__ = ["BCDConfig", "TrainResult", "Trainer", "train", "evaluate", "tuned", "TUNED", "tuned_conv",
           "tuned_lenet5", "tuned_fashion", "mm_then_adaptive", "first_layer_subspace", "preset", "PRESETS",
           "load_checkpoint", "save_checkpoint",
           "prepare_data", "batch_order", "eval_subset",
           "resolve_config", "lifted_schedule", "StepExecutor", "LiftedExecutor", "LocalExecutor", "Schedule",
           "ExecutorState", "LiftedBCDState", "BACKENDS", "DTYPES", "SCHEDULES",
           "W_SOLVERS", "X_SOLVERS"]


def __getattr__(name):
    """``train_distributed`` (the Dask runner) is imported on first use: it needs the ``distributed`` extra."""
    if name == "train_distributed":
        from .dask import train_distributed

        return train_distributed
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

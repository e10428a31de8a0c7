r"""Adaptive (Adam-metric) steps on a W-block: the fixed-budget W-solver ``solve_adaptive`` of the W-blocks.

For a W-block with data term H (its Fenchel–Young or output loss, :class:`fenchel_cvx.blocks.glm.DataTerm`) and
weight decay ρ, one step linearises the block at the current weights and moves along Adam's diagonal metric:

    g_W = ∇H(U) X̃ᵀ + ρ W,   g_b = ∇H(U) 1      (U = W X + b 1ᵀ; the lifted block gradient: the targets
                                                   come from the X-step, nothing is back-propagated)
    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,
    θ ← θ − η_t · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε),     η_t = η · min(1, t / warmup).

The proximal weight γ of the block is not used (the metric is the step's own damping). This is an inexact block
solve of the lifted problem, not a certified one; with a large λ the lifted block gradient is close to the
back-propagated gradient (the relaxation is tight), so the step behaves like Adam (``docs/design.md``, training).

Shapes: W is n_out x n_in (conv layers: the kernel's shape), b is (n_out,) (conv: (C_out,)).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AdaptiveState", "adaptive_update"]


@dataclass
class AdaptiveState:
    """Adam's moments of one layer (``mW, vW, mb, vb``, arrays like W and b) and its step count ``t``."""

    t: int = 0
    mW: object = None
    vW: object = None
    mb: object = None
    vb: object = None
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def arrays(self) -> dict:
        """The state as named arrays (checkpoints); empty before the first step."""
        if self.mW is None:
            return {}
        return {"mW": self.mW, "vW": self.vW, "mb": self.mb, "vb": self.vb}


def adaptive_update(W, b, gW, gb, state: AdaptiveState, lr: float, warmup_steps: float = 0.0):
    """One Adam-metric step (module docstring) from (W, b) with gradients (gW, gb); updates ``state`` in place and
    returns the new (W, b) (fresh arrays)."""
    from ..backend import namespace

    xp = namespace(W)
    if state.mW is None:
        state.mW, state.vW = xp.zeros_like(W), xp.zeros_like(W)
        state.mb, state.vb = xp.zeros_like(b), xp.zeros_like(b)
    b1, b2, eps = state.beta1, state.beta2, state.eps
    state.t += 1
    t = state.t
    step = float(lr) / (1.0 - b1 ** t)
    if warmup_steps and warmup_steps > 0:
        step *= min(1.0, t / float(warmup_steps))
    out = []
    for g, mo, v, p in ((gW, state.mW, state.vW, W), (gb, state.mb, state.vb, b)):
        mo *= b1
        mo += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        den = xp.sqrt(v * (1.0 / (1.0 - b2 ** t)))
        den += eps
        out.append(p - step * (mo / den))
    return out[0], out[1]  # non-finite weights surface at the epoch's evaluation (TrainingDiverged)

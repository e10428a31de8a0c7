"""torch modules of the package (imported only by code that builds torch modules: it imports torch).

:class:`LiftedActivation` wraps an activation of the registry (:mod:`fenchel_cvx.activations`) as a
``torch.nn.Module`` whose forward pass is φ of the registry (autograd-compatible). It is used for activations
torch has no module for, and by the backprop baselines (the same φ as the lifted trainer, bit for bit).
Defined at module level so that modules holding it can be pickled (``torch.save``).
"""

from __future__ import annotations

import torch

from . import activations as _act

__all__ = ["LiftedActivation"]


class LiftedActivation(torch.nn.Module):
    """φ of an activation of the registry, elementwise; ``act`` is the :class:`~fenchel_cvx.activations.Activation`."""

    def __init__(self, act: str | _act.Activation) -> None:
        super().__init__()
        self.act = _act.get(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act.phi(x)

    def extra_repr(self) -> str:
        return repr(self.act) if self.act.params else self.act.name

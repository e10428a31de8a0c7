r"""Global bounds by spatial branch-and-bound in SCIP (PySCIPOpt, the ``global`` extra).

* :mod:`.solve` — :func:`solve_standard` (min J) and :func:`solve_relaxation` (min F_μ), choosing the model;
* :mod:`.unit_model` — the unit-scaled model of one hidden ReLU layer with a scalar head;
* :mod:`.direct` — the general model in the network's own variables (one or two hidden layers);
* :mod:`.boxes` — the search boxes that contain a global minimiser (perspective and network boxes);
* :mod:`.lagrangian` — the Lagrangian dual with one multiplier per sample (bundle ascent, :func:`dual_ascent`).

Every bound here is SCIP's dual bound, valid up to SCIP's feasibility tolerance (what it rests on is in
:attr:`GlobalResult.rests_on`). Shapes: X0 is d x m (one column per sample).
"""

from .lagrangian import DualResult, dual_ascent
from .solve import MODELS, GlobalResult, solve_relaxation, solve_standard

__all__ = ["solve_standard", "solve_relaxation", "GlobalResult", "MODELS", "dual_ascent", "DualResult"]

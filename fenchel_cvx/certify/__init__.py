r"""Lower-bound certificates for small problems (docs/design.md §5).

The optimal training loss min J of a tiny network is bracketed by

    lower ≤ min F_λ ≤ min J ≤ upper,

* upper = J of trained networks (:mod:`.upper`: backprop L-BFGS from several starts; other
  trainers plug in as *upper-bound providers*);
* lower = certified global bounds: the Fenchel relaxation min F_λ and the standard problem
  min J solved globally by spatial branch-and-bound in SCIP (:mod:`.scip`, needs the
  ``global`` extra: ``pip install 'fenchel-cvx[global]'``), and the exact convex
  reformulation of two-layer ReLU networks over activation patterns (:mod:`.convex`, CVXPY; at
  scale — d ≤ 2 with hundreds of samples, d = 3 with tens: :func:`convex_certificate` in :mod:`.twolayer`).

:func:`certify` runs everything and returns a :class:`CertifyReport` (table, bracket, plot of
the bounds against λ). Scope of the global models: networks ``[d, n, 1]`` with one hidden
ReLU layer, the squared loss and weight decay ρ_0, ρ_1 > 0, a few units and samples.
Shapes: X0 is d x m (one column per sample), y is 1 x m.
"""

from ._problem import GLOBAL_LIMITS, SUPPORTED, TinyProblem, check_problem, require_scip
from .arrangement import (  # convex certificates at scale (issue 15.2)
    dual_oracle,
    enumerate_patterns_sweep,
)
from .bounds import UnitBounds, unit_bounds
from .convex import (
    SUPPORTED_CONVEX,
    ConvexResult,
    convex_reference,
    enumerate_patterns,
    max_chambers,
)
from .convex_instances import classification_2d  # convex certificates at scale (issue 15.2)
from .instances import tiny_regression
from .report import Bound, CertifyReport, SweepPoint, certify
from .scip import (
    SUPPORTED_GLOBAL,
    GlobalResult,
    from_units,
    solve_relaxation,
    solve_standard,
    to_units,
)
from .twolayer import (  # convex certificates at scale: column generation + exact dual oracle (issue 15.2)
    SUPPORTED_CONVEX_FAST,
    ConvexCertificate,
    ConvexScopeError,
    TwoLayerProblem,
    certified_dual_bound,
    convex_certificate,
)
from .upper import (
    UpperBound,
    bcd_provider,
    lbfgs_provider,
    lbfgs_train,
    lifted_lbfgs,
    lifted_objective_and_grad,
    objective_and_grad,
)

__all__ = [
    "certify", "CertifyReport", "Bound", "SweepPoint",
    "solve_relaxation", "solve_standard", "GlobalResult", "to_units", "from_units",
    "convex_reference", "ConvexResult", "enumerate_patterns", "max_chambers",
    "UpperBound", "bcd_provider", "lbfgs_provider", "lbfgs_train", "lifted_lbfgs", "objective_and_grad",
    "lifted_objective_and_grad", "UnitBounds", "unit_bounds", "tiny_regression",
    "TinyProblem", "check_problem", "require_scip", "GLOBAL_LIMITS", "SUPPORTED", "SUPPORTED_GLOBAL",
    "SUPPORTED_CONVEX",
    # convex certificates at scale (issue 15.2)
    "convex_certificate", "ConvexCertificate", "ConvexScopeError", "TwoLayerProblem", "certified_dual_bound",
    "dual_oracle", "enumerate_patterns_sweep", "classification_2d", "SUPPORTED_CONVEX_FAST",
]

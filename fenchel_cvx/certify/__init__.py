r"""Lower-bound certificates for small problems (docs/design.md, certificates).

The optimal training loss min J of a tiny network is bracketed by

    lower ≤ min F_λ ≤ min J ≤ upper,

* upper = J of trained networks (:mod:`.upper`: backprop L-BFGS from several starts and lifted BCD;
  other trainers plug in as *upper-bound providers*);
* lower = global bounds, each stating what it rests on: the Fenchel relaxation min F_μ and the standard
  problem min J solved by spatial branch-and-bound in SCIP (:mod:`.scip`, :mod:`.direct`; needs the
  ``global`` extra: ``pip install 'fenchel-cvx[global]'``), valid up to SCIP's feasibility tolerance;
  the Lagrangian dual with one multiplier per sample (:mod:`.dual`); the certified dual bound of the exact
  convex reformulation of two-layer ReLU networks (:mod:`.twolayer`: column generation with an exact dual
  oracle over all activation patterns, d ≤ 3, hundreds of samples; :func:`convex_dual_provider`); other
  bounds plug in as *lower-bound providers* (:mod:`.report`). The convex reformulation's *primal* value
  (:mod:`.convex`) is never used as a bound.

:func:`certify` runs everything and returns a :class:`CertifyReport` (table, bracket, plot). Scope of the
global models (:func:`check_problem`): dense networks ``[d, n1, (n2,) k]`` with relu / leaky_relu /
hardtanh hidden layers, the squared loss or the cross-entropy, weight decay ρ_l > 0 on every layer, a few
units and samples. Shapes: X0 is d x m (one column per sample), y is k x m (or m labels).
"""

from ._problem import (
    GLOBAL_LIMITS,
    NOT_MODELLED,
    SUPPORTED,
    SUPPORTED_ACTIVATIONS,
    SUPPORTED_LOSSES,
    TinyProblem,
    check_dense,
    check_network,
    check_problem,
    expand_multipliers,
    multipliers_kind,
    relative_gap,
    require_scip,
)
from .arrangement import dual_oracle, enumerate_patterns_sweep
from .bounds import NetworkBoxes, OutputHead, UnitBounds, network_boxes, output_head, unit_bounds
from .convex import (
    SUPPORTED_CONVEX,
    ConvexResult,
    convex_reference,
    enumerate_patterns,
    max_chambers,
)
from .convex_instances import classification_2d
from .dual import DualResult, dual_ascent
from .errors import NoLowerBoundError, ScopeError
from .instances import parse_arch, tiny_classification, tiny_problem, tiny_regression
from .report import (
    OVERLAP_RTOL,
    Bound,
    Bracket,
    CertifyReport,
    LowerBound,
    SweepPoint,
    certify,
    convex_dual_provider,
    convex_primal_provider,
    scip_standard_provider,
)
from .scip import (
    MODELS,
    SUPPORTED_GLOBAL,
    GlobalResult,
    from_units,
    solve_relaxation,
    solve_standard,
    to_units,
    unit_model_applies,
)
from .twolayer import (
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
    divergences,
    lbfgs_polish,
    lbfgs_provider,
    lbfgs_train,
    lifted_lbfgs,
    lifted_objective_and_grad,
    lifted_value,
    objective_and_grad,
)

__all__ = [
    "certify", "CertifyReport", "Bound", "LowerBound", "Bracket", "SweepPoint", "OVERLAP_RTOL",
    "scip_standard_provider", "convex_primal_provider", "convex_dual_provider",
    "solve_relaxation", "solve_standard", "GlobalResult", "to_units", "from_units", "unit_model_applies", "MODELS",
    "dual_ascent", "DualResult",
    "convex_reference", "ConvexResult", "enumerate_patterns", "max_chambers",
    "UpperBound", "bcd_provider", "lbfgs_provider", "lbfgs_train", "lbfgs_polish", "lifted_lbfgs",
    "objective_and_grad", "lifted_objective_and_grad", "lifted_value", "divergences",
    "UnitBounds", "unit_bounds", "NetworkBoxes", "network_boxes", "OutputHead", "output_head",
    "tiny_regression", "tiny_classification", "tiny_problem", "parse_arch",
    "TinyProblem", "check_problem", "check_network", "check_dense", "expand_multipliers", "multipliers_kind",
    "require_scip", "relative_gap",
    "GLOBAL_LIMITS", "SUPPORTED", "SUPPORTED_GLOBAL", "SUPPORTED_CONVEX", "SUPPORTED_ACTIVATIONS", "SUPPORTED_LOSSES",
    "NOT_MODELLED", "ScopeError", "NoLowerBoundError",
    "convex_certificate", "ConvexCertificate", "ConvexScopeError", "TwoLayerProblem", "certified_dual_bound",
    "dual_oracle", "enumerate_patterns_sweep", "classification_2d", "SUPPORTED_CONVEX_FAST",
]

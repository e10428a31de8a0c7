r"""Lower-bound certificates for small problems (docs/design.md §5): brackets on the optimal training loss.

The optimal training loss min J of a small network is bracketed by

    lower ≤ min F_λ ≤ min J ≤ upper,

each number with its provenance and what it rests on. The package is laid out by kind of bound:

* a shared core — :mod:`.problem` (what a certifiable problem is: :func:`check_problem`, its scope and
  errors), :mod:`.examples` (small instances for tests, demos and the CLI), :mod:`.upper` (upper bounds:
  J of trained networks — backprop L-BFGS from several starts, lifted BCD — as *upper-bound providers*),
  :mod:`.lower` (the bound records and the built-in *lower-bound providers*) and :mod:`.report`
  (:func:`certify`, which runs the providers and returns a :class:`CertifyReport`);
* :mod:`.scip` — global bounds by spatial branch-and-bound in SCIP (needs the ``global`` extra:
  ``pip install 'fenchel-cvx[global]'``): the models of min J and of the relaxation min F_μ
  (:mod:`.scip.solve`, :mod:`.scip.unit_model`, :mod:`.scip.direct`), their search boxes
  (:mod:`.scip.boxes`) and the Lagrangian dual with one multiplier per sample (:mod:`.scip.lagrangian`);
  these bounds are valid up to SCIP's feasibility tolerance;
* :mod:`.twolayer` — the certified dual bound of the exact convex reformulation of two-layer ReLU
  networks: the arrangement and the dual oracle (:mod:`.twolayer.arrangement`), the reference program
  over all patterns (:mod:`.twolayer.reference`, whose *primal* value is never used as a bound), the
  restricted program, the certified dual point, recovery of a network and column generation
  (:func:`convex_certificate`), and the certified optimality gap of a given trained network
  (:func:`certify_network`). With the exact oracle (d ≤ 3) this bound rests on no solver tolerance; beyond,
  the oracle is bounded by the smaller of a rigorous SDP bound and SCIP's (valid up to SCIP's tolerances).

Scope of the global models (:func:`check_problem`): dense networks ``[d, n1, (n2,) k]`` with relu /
leaky_relu / hardtanh hidden layers, the squared loss or the cross-entropy, weight decay ρ_l > 0 on every
layer, a few units and samples. Shapes: X0 is d x m (one column per sample), y is k x m (or m labels).
"""

from .examples import tiny_problem, tiny_regression
from .problem import NoLowerBoundError, ScopeError, check_problem
from .report import Bracket, CertifyReport, LowerBound, certify
from .scip.lagrangian import dual_ascent
from .scip.solve import GlobalResult, solve_relaxation, solve_standard
from .twolayer import ConvexCertificate, certify_network, convex_certificate
from .upper import UpperBound, bcd_provider, lbfgs_provider, lbfgs_train

__all__ = [
    "certify", "CertifyReport", "Bracket", "LowerBound", "UpperBound",
    "check_problem", "ScopeError", "NoLowerBoundError",
    "solve_relaxation", "solve_standard", "GlobalResult", "dual_ascent",
    "convex_certificate", "ConvexCertificate", "certify_network",
    "lbfgs_provider", "bcd_provider", "lbfgs_train",
    "tiny_problem", "tiny_regression",
]

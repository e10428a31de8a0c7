r"""Lower bounds on min J: the bound records and the built-in lower-bound providers of ``certify``.

A *lower-bound provider* is a callable ``provider(net, X0, y, incumbent) -> list`` of :func:`LowerBound` /
:class:`~fenchel_cvx.certify.UpperBound` items (other objects are kept as raw results by the report); ``incumbent``
is the best upper bound so far. Built in: :func:`scip_standard_provider` (SCIP's dual bound on min J, valid up to
its feasibility tolerance), :func:`convex_dual_provider` (the certified dual bound of the convex reformulation of
two-layer ReLU networks, any d; what it rests on depends on the oracle that bounded S(λ): exact, SDP or SCIP),
:func:`vector_dual_provider` (``[d, n, 2]`` squared loss) and :func:`convex_primal_provider` (a primal value,
listed for information, never a bound). The upper-bound side is :mod:`fenchel_cvx.certify.upper`.

Shapes: X0 is d x m (one column per sample).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .scip.solve import solve_standard
from .upper import UpperBound

__all__ = ["Bound", "LowerBound", "scip_standard_provider", "convex_primal_provider", "convex_dual_provider",
           "vector_dual_provider", "convex_upper_label", "CONVEX_DUAL_RESTS_ON", "CONVEX_DUAL_SDP_RESTS_ON",
           "CONVEX_DUAL_SCIP_RESTS_ON"]


@dataclass
class Bound:
    """One number of the bracket: ``side`` "lower" or "upper" bound on ``quantity`` ("min J" or
    "min F_lambda"; a lower bound on min F_λ is also one on min J), with its ``provenance`` (who computed
    it), ``rests_on`` (what its validity rests on) and ``certified`` (False: listed for information only,
    never used as a bound)."""

    side: str
    value: float
    quantity: str
    provenance: str
    lam: float | None = None
    status: str = ""
    time: float = 0.0
    rests_on: str = ""
    certified: bool = True


def LowerBound(value: float, provenance: str, rests_on: str, quantity: str = "min J", certified: bool = True,
               status: str = "", time: float = 0.0, lam: float | None = None) -> Bound:
    """A lower bound as a lower-bound provider returns it (a :class:`Bound` with ``side="lower"``)."""
    return Bound("lower", float(value), quantity, provenance, lam=lam, status=status, time=time, rests_on=rests_on,
                 certified=certified)


def convex_upper_label(c) -> str:
    """How the convex certificate's upper bound was found: the recovered network, or (the convex optimum needs
    more than n units) the width-n search from the pruned solution."""
    if getattr(c, "from_warm_start", False):
        return "L-BFGS-trained width-n network of the convex certificate's warm start"
    if c.width_upper is not None and c.upper == c.width_upper:
        return "width-n network from the pruned convex solution (L-BFGS)"
    return "network recovered from the convex reformulation"


def scip_standard_provider(time_limit: float = 60.0, gap: float = 1e-3, seed: int = 0, feastol: float = 1e-8,
                           allow_large: bool = False, model: str = "auto") -> Callable:
    """A lower-bound provider: SCIP on min J (:func:`~fenchel_cvx.certify.solve_standard`) from the incumbent;
    returns its dual bound (certified up to ``feastol``) and its best point (an upper bound)."""

    def provide(net, X0, y, incumbent):
        r = solve_standard(net, X0, y, incumbent=(incumbent.W, incumbent.b), time_limit=time_limit, gap=gap,
                           seed=seed, feastol=feastol, allow_large=allow_large, model=model)
        return [LowerBound(r.dual, f"SCIP dual bound on min J ({r.model} model)", r.rests_on, status=r.status,
                           time=r.time),
                UpperBound(r.judged, f"SCIP best point on min J ({r.model} model, polished)", r.W, r.b,
                           {"status": r.status, "time": r.time}),
                r]

    provide.__name__ = "SCIP min J"
    return provide


def convex_primal_provider(allow_large: bool = False) -> Callable:
    """An information provider: the convex reformulation over activation patterns (two-layer ReLU, squared
    loss; :func:`~fenchel_cvx.certify.convex_reference`). Its optimum is a solver's *primal* value, which
    can sit above min J by the solver's tolerance, so it is returned with ``certified=False`` (listed, never
    used as a bound); the recovered network, when it fits the width, is an upper bound. The certified bound of the
    same program is :func:`convex_dual_provider`'s."""

    def provide(net, X0, y, incumbent):
        from .twolayer.reference import convex_reference

        c = convex_reference(net, X0, y, allow_large=allow_large)
        out = [LowerBound(c.value, "convex reformulation, primal value (CLARABEL)",
                          "a primal value of an interior-point solve: NOT a certified bound", certified=False,
                          status=c.status, time=c.time), c]
        if c.exact:
            out.append(UpperBound(c.J_recovered, "network recovered from the convex reformulation", c.W, c.b))
        return out

    provide.__name__ = "convex reformulation"
    return provide


#: what the two-layer convex dual bound rests on (docs/design.md, certificates)
CONVEX_DUAL_RESTS_ON = ("a dual-feasible point of the convex reformulation: exact zero-sum rounding of λ, the exact "
                        "dual oracle over all activation patterns (d ≤ 3) with its rounding allowance, and the "
                        "allowance of the final float64 evaluation; no solver tolerance")
#: the same with the dual oracle bounded by the semidefinite relaxation (d ≥ 4; ``certify/twolayer/sdpbound.py``)
CONVEX_DUAL_SDP_RESTS_ON = ("a dual-feasible point of the convex reformulation: exact zero-sum rounding of λ, a "
                            "rigorous semidefinite (Shor + RLT) bound on the dual oracle over all activation "
                            "patterns (weak duality with the solver's multipliers, a float64 eigenvalue correction "
                            "— box-aware, or the smallest eigenvalue with LAPACK's backward-error bound — and rounding "
                            "allowances), and the allowance of the final float64 evaluation; no solver tolerance")
#: the same with the SCIP-bounded dual oracle (d ≥ 4, or d = 3 beyond the exact oracle's sample limit)
CONVEX_DUAL_SCIP_RESTS_ON = ("a dual-feasible point of the convex reformulation: exact zero-sum rounding of λ, SCIP's "
                             "dual bound on the dual oracle over all activation patterns (a mixed-integer SOCP; valid "
                             "up to SCIP's LP and feasibility tolerances, the latter added as an allowance), and the "
                             "allowance of the final float64 evaluation")


def convex_dual_provider(tol: float = 1e-7, time_limit: float = 300.0, allow_large: bool = False) -> Callable:
    """A lower-bound provider: the certified dual bound of the convex reformulation of a two-layer ReLU network
    ``[d, n, 1]`` (squared loss) or ``[d, n, 2]`` (two-class cross-entropy), any d
    (:func:`~fenchel_cvx.certify.convex_certificate`: column generation with the exact dual oracle for d ≤ 3,
    the smaller of an SDP bound and SCIP's bound on the oracle beyond; ``rests_on`` says which). Its lower
    bound holds for every width; the recovered network is an upper bound when it fits the width (``exact``)."""

    def provide(net, X0, y, incumbent):
        from .twolayer import convex_certificate

        c = convex_certificate(net, X0, y, tol=tol, time_limit=time_limit, allow_large=allow_large)
        kind = "exact" if c.dual is None else c.dual.oracle_kind
        label = {"exact": "", "sdp": " (SDP oracle bound)"}.get(kind, " (SCIP oracle)")
        rests = {"exact": CONVEX_DUAL_RESTS_ON, "sdp": CONVEX_DUAL_SDP_RESTS_ON}.get(kind, CONVEX_DUAL_SCIP_RESTS_ON)
        out = [LowerBound(c.lower, "two-layer convex reformulation, dual bound" + label, rests,
                          certified=True, status=c.status, time=c.time), c]
        if c.n_active <= c.width and c.network is not None:  # padded with zero units to the network's width
            out.append(UpperBound(c.upper, convex_upper_label(c), *c.params_at_width()))
        return out

    provide.__name__ = "convex dual bound"
    return provide


def vector_dual_provider(directions: int = 64, allow_large: bool = False) -> Callable:
    """A lower-bound provider: the certified vector dual bound of one-hidden-layer ReLU networks ``[d, n, 2]``
    with the squared loss (:func:`~fenchel_cvx.certify.vector_dual.vector_dual_bound`), its multiplier taken
    from the incumbent's residual. Valid for every width; it rests on no solver tolerance."""

    def provide(net, X0, y, incumbent):
        from .vector_dual import vector_dual_bound

        r = vector_dual_bound(net, X0, y, incumbent.W, incumbent.b, directions=directions, allow_large=allow_large)
        return [LowerBound(r.lower, f"vector dual bound at the residual of {incumbent.provenance}", r.rests_on,
                           certified=True, status="certified", time=r.time), r]

    provide.__name__ = "vector dual bound"
    return provide

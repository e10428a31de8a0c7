r"""Column generation: the certified bracket of :func:`convex_certificate` (package docstring).

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p. See :mod:`fenchel_cvx.certify.twolayer`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...log import emit, get_logger, verbose_level
from ...network import FenchelNetwork
from ..problem import relative_gap
from ..upper import single_threaded
from .dual import DualCertificate, certified_dual_bound
from .program import (
    TwoLayerProblem,
)
from .recovery import recover_network
from .restricted import (
    PatternSet,
    solve_restricted_cvxpy,
    solve_restricted_fast,
)

_LOG = get_logger("certify")


# ---------------------------------------------------------------------------------------------
# column generation
# ---------------------------------------------------------------------------------------------
@dataclass
class ConvexCertificate:
    """What :func:`convex_certificate` returns.

    lower       : certified lower bound on P* — hence on min J for **every** width (dual point,
                  float64 with rounding allowance);  ``lower_provenance`` says how
    upper       : J of the network recovered from the best restricted solution (judged by
                  ``FenchelNetwork.objective``) — an upper bound on P* always, and on min J of
                  width n when ``exact`` (n_active ≤ width);  ``upper_provenance``
    gap         : (upper − lower)/|upper| (never negative; see ``notes`` if rounding made it so)
    n_active    : r, the units of the recovered network;  width : n;  exact : r ≤ n
    n_patterns  : patterns in the final restricted set;  rounds : column-generation rounds
    primal      : the restricted program's value at its solution (not a bound)
    converged   : gap ≤ tol reached;  status : text
    W, b        : the recovered network's parameters ([W0, W1], [b0, b1]) in the judged shape, r units
                  (:meth:`params_at_width` pads them to the problem's width n)
    network     : the recovered ``FenchelNetwork``
    history     : per round (patterns, primal, lower, upper, seconds)
    timings     : seconds spent in the restricted solver, the oracle/certificate, recovery, total
    """

    lower: float
    upper: float
    lower_provenance: str
    upper_provenance: str
    n_active: int
    width: int
    n_patterns: int
    rounds: int
    primal: float
    converged: bool
    status: str
    time: float
    dual: DualCertificate = field(repr=False, default=None)
    W: list = field(repr=False, default_factory=list)
    b: list = field(repr=False, default_factory=list)
    network: FenchelNetwork | None = field(repr=False, default=None)
    history: list = field(repr=False, default_factory=list)
    timings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.n_active <= self.width

    @property
    def gap(self) -> float:
        return relative_gap(self.lower, self.upper)

    def params_at_width(self, width: int | None = None) -> tuple[list, list]:
        """The recovered network's (W, b) with zero units appended up to ``width`` hidden units (default: the
        problem's width n), i.e. the same function and the same J in the architecture of a width-n network (a
        zero unit outputs relu(0) = 0 and adds no weight decay). Raises ValueError when r > ``width``."""
        width = self.width if width is None else int(width)
        if self.n_active > width:
            raise ValueError(f"width: the recovered network needs r = {self.n_active} units, more than {width}")
        (W0, W1), (b0, b1) = self.W, self.b
        pad = width - W0.shape[0]
        return ([np.vstack([W0, np.zeros((pad, W0.shape[1]))]), np.hstack([W1, np.zeros((W1.shape[0], pad))])],
                [np.concatenate([b0, np.zeros(pad)]), b1.copy()])


@single_threaded
def convex_certificate(net=None, X0=None, y=None, *, problem: TwoLayerProblem | None = None, tol: float = 1e-7,
                       solver: str = "fast", max_rounds: int = 60, time_limit: float = 300.0,
                       n_init: int = 30, add_per_round: int = 30, barrier_tol: float = 1e-11,
                       allow_large: bool = False, seed: int = 0, verbose: bool = False) -> ConvexCertificate:
    r"""Certified bracket lower ≤ P* ≤ upper for a two-layer ReLU network by column generation (module docstring).

    Give ``net`` (a ``FenchelNetwork`` ``[d, n, 1]`` squared loss or ``[d, n, 2]`` cross-entropy, ReLU,
    ρ_0, ρ_1 > 0), ``X0`` (d x m) and ``y``; or a ready ``problem`` (:meth:`TwoLayerProblem.from_arrays`
    for the logistic ``[d, n, 1]`` form). ``solver`` "fast" (:func:`solve_restricted_fast`) or
    "cvxpy" (:func:`solve_restricted_cvxpy`, CLARABEL). Stops when (upper − lower)/|upper| ≤ ``tol``,
    after ``max_rounds`` rounds or ``time_limit`` seconds (``converged`` says which). Raises
    ConvexScopeError (a ValueError) outside :data:`SUPPORTED_CONVEX_FAST`. Runs with BLAS limited to one thread
    (:func:`~fenchel_cvx.certify.upper.single_thread`): its dense solves are small, and a multi-threaded BLAS on a
    loaded machine made them up to 20 times slower (measured: 185 s instead of 9 s on 2 shared cores).
    """
    t_all = time.perf_counter()
    if problem is None:
        if net is None or X0 is None or y is None:
            raise TypeError("convex_certificate: give net, X0 and y, or problem=")
        problem = TwoLayerProblem.from_network(net, X0, y, allow_large=allow_large)
    elif not isinstance(problem, TwoLayerProblem):
        raise TypeError(f"problem: expected a TwoLayerProblem, got {type(problem).__name__}")
    if solver not in ("fast", "cvxpy"):
        raise ValueError(f"solver: expected 'fast' or 'cvxpy', got {solver!r}")
    if not (tol >= 0):
        raise ValueError(f"tol: expected a value >= 0, got {tol!r}")
    m, loss = problem.m, problem.loss
    A = problem.A
    patterns = PatternSet(A, problem.bias)
    timings = {"restricted": 0.0, "certificate": 0.0, "recovery": 0.0}
    # initial patterns: the most violated units at the best constant model
    y0 = np.full(m, loss.best_constant())
    tc = time.perf_counter()
    cert0 = certified_dual_bound(problem, loss.grad(y0), top=n_init)
    timings["certificate"] += time.perf_counter() - tc
    best_cert = cert0
    for w, b in zip(cert0.oracle.W, cert0.oracle.b, strict=True):
        patterns.add_unit(np.append(w, b) if problem.bias else w)
    if len(patterns) == 0:  # λ = 0 (e.g. constant targets): any chamber
        rng = np.random.default_rng(seed)
        while len(patterns) == 0:
            patterns.add_unit(rng.normal(size=A.shape[1]))
    best_up = None  # (J, W0, b0, a, c, r)
    sol, history, notes, warm_map, gap = None, [], [], None, 1.0
    zero_rounds = np.zeros(len(patterns), dtype=int)
    status, converged, rounds = "max_rounds", False, 0
    for rounds in range(1, max_rounds + 1):
        ts = time.perf_counter()
        if solver == "fast":
            # early rounds need no tight solve: the gap is dominated by missing patterns
            tol_r = max(barrier_tol, min(1e-4, 1e-2 * gap)) if history else 1e-4
            sol = solve_restricted_fast(problem, patterns, tol=tol_r, warm=sol, warm_map=warm_map)
        else:
            sol = solve_restricted_cvxpy(problem, patterns)
        timings["restricted"] += time.perf_counter() - ts
        tc = time.perf_counter()
        cert = certified_dual_bound(problem, loss.grad(sol.yhat), top=max(add_per_round, 8))
        timings["certificate"] += time.perf_counter() - tc
        if cert.lower > best_cert.lower:
            best_cert = cert
        tr = time.perf_counter()
        W0, b0, a, c, J, r = recover_network(problem, sol, sparsify=False)
        timings["recovery"] += time.perf_counter() - tr
        if best_up is None or (r > problem.width, J) < (best_up[5] > problem.width, best_up[0]):
            best_up = (J, W0, b0, a, c, r, sol.value, sol)  # networks of width ≤ n first, then least J
        gap = (best_up[0] - best_cert.lower) / max(abs(best_up[0]), 1e-300)
        history.append(dict(round=rounds, patterns=len(patterns), primal=sol.value, lower=cert.lower, upper=J,
                            gap=gap, sup_ratio=cert.oracle.bound / cert.level, solver_status=sol.status,
                            seconds=time.perf_counter() - t_all))
        emit(_LOG, verbose_level(1 if verbose else 0),
             f"round {rounds}: {len(patterns)} patterns, primal {sol.value:.12g}, lower {cert.lower:.12g}, "
             f"upper {J:.12g}, gap {gap:.2e}, S/mβ {cert.oracle.bound / cert.level:.6f}, "
             f"{sol.status} ({sol.iterations} Newton), {time.perf_counter() - t_all:.1f}s")
        if gap <= tol:
            status, converged = "converged", True
            break
        if time.perf_counter() - t_all > time_limit:
            status = "time_limit"
            break
        # prune patterns that stayed at zero, add the chambers of the most violated units
        P = len(patterns)
        nrm = np.linalg.norm(sol.U[:, :problem.d], axis=1)
        big = max(float(nrm.max(initial=0.0)), 1e-300)
        zero = np.maximum(nrm[:P], nrm[P:]) <= 1e-7 * big
        zero_rounds = np.where(zero, zero_rounds + 1, 0)
        keep = np.flatnonzero(zero_rounds < 3)
        old_index = np.arange(P)[keep]
        patterns.keep(keep)
        zero_rounds = zero_rounds[keep]
        orc = cert.oracle
        viol = np.abs(orc.F) > cert.level
        added = 0
        for w, b in zip(orc.W[viol], orc.b[viol], strict=True):
            added += patterns.add_unit(np.append(w, b) if problem.bias else w)
            if added >= add_per_round:
                break
        zero_rounds = np.concatenate([zero_rounds, np.zeros(len(patterns) - len(zero_rounds), dtype=int)])
        warm_map = np.concatenate([old_index, -np.ones(len(patterns) - len(old_index), dtype=int)])
        if added == 0:
            if not sol.status.startswith("optimal") or sol.status.endswith("(precision limit)") \
                    or barrier_tol <= 1e-14 or solver == "cvxpy":
                status = "stalled"
                notes.append("no new violated pattern but the gap is open: limited by the restricted "
                             f"solver's accuracy (last status {sol.status!r}, gap estimate {sol.gap:.1e})")
                break
            barrier_tol *= 1e-2
    J, W0, b0, a, c, r, primal, best_sol = best_up
    tr = time.perf_counter()
    sp = recover_network(problem, best_sol, sparsify=True, seed=seed)  # sparsified: fewer units, same objective
    if (sp[5] > problem.width, sp[4]) <= (r > problem.width, J):
        W0, b0, a, c, J, r = sp
    timings["recovery"] += time.perf_counter() - tr
    gap = (J - best_cert.lower) / max(abs(J), 1e-300)
    if converged and gap > tol:
        converged, status = False, "converged only with a network wider than n"
    net_rec = problem.network(W0, b0, a, c)
    lower = best_cert.lower
    if r > problem.width:
        notes.append(f"the recovered network needs r = {r} > n = {problem.width} units: `upper` bounds min J only "
                     f"for widths >= {r}; for width n the certified lower bound still holds, min J may lie above upper")
    if lower > J:
        notes.append(f"lower bound {lower!r} above the judged J {J!r}: float64 rounding of the judge; reported as is")
    timings["total"] = time.perf_counter() - t_all
    up_prov = "J of the network recovered from the convex program (FenchelNetwork.objective, float64)"
    return ConvexCertificate(lower=lower, upper=J, lower_provenance=best_cert.provenance, upper_provenance=up_prov,
                             n_active=r, width=problem.width, n_patterns=len(patterns), rounds=rounds, primal=primal,
                             converged=converged, status=status, time=timings["total"], dual=best_cert,
                             W=[w.copy() for w in net_rec.W], b=[v.copy() for v in net_rec.b], network=net_rec,
                             history=history, timings=timings, notes=notes)

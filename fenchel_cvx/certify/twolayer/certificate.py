r"""Column generation: the certified bracket of :func:`convex_certificate` (package docstring).

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p. See :mod:`fenchel_cvx.certify.twolayer`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...log import emit, get_logger, verbose_level
from ...network import FenchelNetwork
from ...validation import check_int
from ..problem import relative_gap
from ..upper import single_threaded
from .arrangement import MAX_HULL_P
from .dual import DualCertificate, certified_dual_bound, estimated_dual_bound
from .program import (
    TwoLayerProblem,
)
from .recovery import recover_network, recovery_candidates
from .restricted import (
    PatternSet,
    solve_restricted_cvxpy,
    solve_restricted_fast,
)
from .warmstart import WARM_PROVENANCE, WARM_SHARE, WarmStart, seed_patterns, train_width_n
from .widthsearch import search_width_n

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
                  width n when ``exact`` (n_active ≤ width);  or J of the warm start's L-BFGS-trained width-n
                  network when that is less (``from_warm_start``);  ``upper_provenance``
    gap         : (upper − lower)/|upper| (never negative; see ``notes`` if rounding made it so)
    n_active    : r, the units of the network of ``upper``;  width : n;  exact : the convex optimum fits (r ≤ n)
    n_patterns  : patterns in the final restricted set;  rounds : column-generation rounds
    primal      : the restricted program's value at its solution (not a bound)
    converged   : gap ≤ tol reached;  status : text
    W, b        : the recovered network's parameters ([W0, W1], [b0, b1]) in the judged shape, r units
                  (:meth:`params_at_width` pads them to the problem's width n)
    network     : the recovered ``FenchelNetwork``
    history     : per round (patterns, primal, lower, upper, seconds); round 0: the warm start (primal None,
                  upper the trained network's J, lower its dual point's certified bound or −inf)
    timings     : seconds spent in the restricted solver, the oracle/certificate, recovery, total; "warm_start":
                  the warm start (L-BFGS, seeding, its dual point's certificate, also counted in "certificate")
    oracle      : which dual oracle certified ``lower`` and what it rests on (exact sweep, or SCIP's bound)
    width_upper : when r > n: J of the best width-n network found (pruned solution + L-BFGS, restarts;
                  :func:`~fenchel_cvx.certify.twolayer.widthsearch.search_width_n`), an upper bound on min J
                  at width n; ``width_params`` its (W, b), ``width_provenance`` how it was found
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
    oracle: str = ""
    width_upper: float | None = None
    width_params: tuple | None = field(repr=False, default=None)
    width_provenance: str = ""

    @property
    def exact(self) -> bool:
        """True when the convex optimum's network fits the width (r ≤ n): then P* = min J at width n and
        [lower, upper] brackets it from both sides (also when ``upper`` is the warm start's trained width-n network
        and the convex optimum's network fits: it is one of the width-n networks). False when ``upper`` comes from
        the width-n search (a width-n network, an upper bound on min J at width n, but min J may exceed P*)."""
        return self.n_active <= self.width and not self.from_width_search

    @property
    def from_warm_start(self) -> bool:
        """True when ``upper`` is J of an L-BFGS-trained width-n network of the warm start (a width-n network:
        an upper bound on min J at width n, hence on P*)."""
        return self.upper_provenance.startswith(WARM_PROVENANCE)

    @property
    def from_width_search(self) -> bool:
        return self.width_upper is not None and self.upper == self.width_upper

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
                       solver: str = "auto", max_rounds: int = 60, time_limit: float = 300.0,
                       n_init: int = 30, add_per_round: int = 30, barrier_tol: float = 1e-11,
                       allow_large: bool = False, seed: int = 0, verbose: bool = False,
                       oracle: str = "auto", warm_starts: int = 1) -> ConvexCertificate:
    r"""Certified bracket lower ≤ P* ≤ upper for a two-layer ReLU network by column generation (module docstring).

    Give ``net`` (a ``FenchelNetwork`` ``[d, n, 1]`` squared loss or ``[d, n, 2]`` cross-entropy, ReLU,
    ρ_0, ρ_1 > 0), ``X0`` (d x m) and ``y``; or a ready ``problem`` (:meth:`TwoLayerProblem.from_arrays`
    for the logistic ``[d, n, 1]`` form). ``solver`` "fast" (:func:`solve_restricted_fast`),
    "cvxpy" (:func:`solve_restricted_cvxpy`, CLARABEL) or "auto" (fast for d + 1 ≤ MAX_HULL_P, where the
    cones' facets are computed; CLARABEL beyond, where every cone keeps all m rows). Stops when
    (upper − lower)/|upper| ≤ ``tol``,
    after ``max_rounds`` rounds or ``time_limit`` CPU seconds of this process (``time.process_time``, as SCIP's
    limits; on a loaded machine wall time runs longer; ``converged`` says which). ``oracle``: "exact"
    (d ≤ 3: every round's dual point is certified by the exact oracle), "scip" (any d: rounds use the
    heuristic search — estimates, never reported as bounds — and the dual point is certified by SCIP's bound
    when the estimated gap closes, when the search finds no violated unit, and at the end, within the time
    left; :data:`SCIP_SHARE` of ``time_limit`` is kept for that) or "auto" (:meth:`TwoLayerProblem.from_arrays`).
    Inputs without any activation pattern (one sample, identical samples) return at once (status "no
    activation pattern"). ``warm_starts``: the number of L-BFGS-trained width-n networks (seeds ``seed``,
    ``seed`` + 1, …; none begins, and L-BFGS stops, past :data:`WARM_SHARE` of ``time_limit``) whose alive
    units' chambers (at most 2·``n_init`` per network, largest units first) seed the first pattern set beside
    the oracle's units at the best constant model (:mod:`~fenchel_cvx.certify.twolayer.warmstart`); each
    trained network's J is an upper-bound candidate (a width-n network), and with the exact oracle the dual
    point ℓ'(ŷ) of the best one a certified lower-bound candidate; the first restricted solve then runs at
    ``barrier_tol``. 0: the constant-model start alone (the behaviour before warm starts). Raises
    ConvexScopeError (a ValueError) outside :data:`SUPPORTED_CONVEX_FAST`. Runs with BLAS limited to one thread
    (:func:`~fenchel_cvx.certify.upper.single_thread`): its dense solves are small, and a multi-threaded BLAS on a
    loaded machine made them up to 20 times slower (measured: 185 s instead of 9 s on 2 shared cores).
    """
    t_all = time.perf_counter()
    c_all = time.process_time()  # the time limit counts CPU seconds of this process, as SCIP's limits do
    if problem is None:
        if net is None or X0 is None or y is None:
            raise TypeError("convex_certificate: give net, X0 and y, or problem=")
        problem = TwoLayerProblem.from_network(net, X0, y, allow_large=allow_large, oracle=oracle)
    elif not isinstance(problem, TwoLayerProblem):
        raise TypeError(f"problem: expected a TwoLayerProblem, got {type(problem).__name__}")
    if solver not in ("auto", "fast", "cvxpy"):
        raise ValueError(f"solver: expected 'auto', 'fast' or 'cvxpy', got {solver!r}")
    if solver == "auto":  # the fast solver works on each cone's facets: computed (qhull) only up to MAX_HULL_P
        solver = "fast" if problem.A.shape[1] <= MAX_HULL_P else "cvxpy"
    if not (tol >= 0):
        raise ValueError(f"tol: expected a value >= 0, got {tol!r}")
    if not (time_limit > 0):
        raise ValueError(f"time_limit: expected a positive number of seconds, got {time_limit!r}")
    warm_starts = check_int(warm_starts, "warm_starts", lo=0)
    m, loss = problem.m, problem.loss
    exact = problem.oracle == "exact"
    # the search drives the rounds only without an exact oracle: at d = 2, m = 2,000 one search
    # call cost 6.5 CPU-s against 2.8 for the exact sweep (measured); there every round is certified
    search_rounds = not exact
    exact_cost = [0.0]  # CPU-s of the last exact oracle call (the restricted solve leaves 2x that)
    patterns = PatternSet(problem.A, problem.bias)
    timings = {"restricted": 0.0, "certificate": 0.0, "recovery": 0.0}
    pool = _StartPool(problem.d)

    def left() -> float:
        return time_limit - (time.process_time() - c_all)

    def oracle_step(yhat, top, certify_now, budget=None):
        """The dual point at ℓ'(ŷ): certified (exact oracle, or SCIP when ``certify_now``, within ``budget``
        seconds, default SCIP_SHARE of the time limit) or estimated."""
        tc, cc = time.perf_counter(), time.process_time()
        if exact and (certify_now or not search_rounds):
            c = certified_dual_bound(problem, loss.grad(yhat), top=top)
            exact_cost[0] = time.process_time() - cc
        elif certify_now:
            budget = SCIP_SHARE * time_limit if budget is None else budget
            c = certified_dual_bound(problem, loss.grad(yhat), top=top, starts=pool.get(),
                                     time_limit=max(1.0, min(left(), budget)))
        else:
            c = estimated_dual_bound(problem, loss.grad(yhat), top=top, starts=pool.get())
        pool.add(c.oracle.W)
        timings["certificate"] += time.perf_counter() - tc
        return c

    sol, history, notes, warm_map, gap, est_gap = None, [], [], None, 1.0, 1.0
    trained, cert_w = None, None  # the best L-BFGS-trained width-n network (WarmStart) and its dual point
    if warm_starts:  # first, so that L-BFGS gets its whole share of the time limit
        tw, cw = time.perf_counter(), time.process_time()
        trained, cert_w = _warm_start(problem, patterns, warm_starts, seed, c_all + WARM_SHARE * time_limit,
                                      oracle_step, 2 * n_init, notes)
        timings["warm_start"] = time.perf_counter() - tw
    # initial patterns: the most violated units at the best constant model
    y0 = np.full(m, loss.best_constant())
    cert0 = oracle_step(y0, n_init, False)
    best_cert = cert0 if cert0.certified else None
    if cert_w is not None and (best_cert is None or cert_w.lower > best_cert.lower):
        best_cert = cert_w  # the exact oracle: certified
    for w, b in zip(cert0.oracle.W, cert0.oracle.b, strict=True):
        patterns.add_unit(np.append(w, b) if problem.bias else w)
    rng = np.random.default_rng(seed)
    for _ in range(64):  # λ = 0 (e.g. constant targets): any chamber; none when no unit separates the samples
        if len(patterns) or left() <= 0:
            break
        patterns.add_unit(rng.normal(size=problem.A.shape[1]))
    if trained is not None:
        lower_w = cert_w.lower if cert_w is not None else -np.inf
        history.append(dict(round=0, patterns=len(patterns), primal=None, lower=lower_w, upper=trained.J,
                            gap=relative_gap(best_cert.lower, trained.J) if best_cert is not None else 1.0,
                            sup_ratio=None if cert_w is None else cert_w.oracle.value / cert_w.level,
                            solver_status="warm start: patterns seeded from L-BFGS-trained width-n networks",
                            certified=cert_w is not None, seconds=time.perf_counter() - t_all))
        emit(_LOG, verbose_level(1 if verbose else 0),
             f"warm start: {len(patterns)} patterns (with the constant model's) after seeding from L-BFGS-trained "
             f"width-{problem.width} networks, J {trained.J:.12g}, lower {lower_w:.12g}, "
             f"{time.process_time() - cw:.1f} CPU-s")
    if len(patterns) == 0:
        return _constant_certificate(problem, t_all, oracle_step)
    best_up = None  # (J, W0, b0, a, c, r, primal, sol): networks of width ≤ n first, then least J
    best_any = None  # the same, least J of any width (the convex optimum's network may need r > n units)
    zero_rounds = np.zeros(len(patterns), dtype=int)
    status, converged, rounds, n_global = "max_rounds", False, 0, 0
    was_warm, cold_next = False, False
    for rounds in range(1, max_rounds + 1):
        ts = time.perf_counter()
        if solver == "fast":
            # early rounds need no tight solve: the gap is dominated by missing patterns
            # (seeded from trained networks, the first set usually holds the optimum's patterns: solve it tightly;
            # measured at moons m = 2,000: one solve at 1e-11 closed the gap to 3.7e-7)
            tol_r = (max(barrier_tol, min(1e-4, 1e-2 * min(gap, est_gap))) if rounds > 1
                     else barrier_tol if trained is not None else 1e-4)
            was_warm, warm_from = not cold_next and sol is not None, None if cold_next else sol
            sol = solve_restricted_fast(problem, patterns, tol=tol_r, warm=warm_from, warm_map=warm_map,
                                        deadline=c_all + time_limit - 2.0 * exact_cost[0])
            cold_next = False
        else:
            try:
                sol = solve_restricted_cvxpy(problem, patterns)
            except ValueError as e:  # keep what was found so far; in the first round, the barrier solver instead
                if best_up is not None:
                    status = "restricted solver failed"
                    notes.append(f"column generation stopped: {e}")
                    break
                notes.append(f"{e}; the barrier solver (all cone rows) is used instead")
                solver = "fast"
                sol = solve_restricted_fast(problem, patterns, tol=1e-4, deadline=c_all + time_limit)
        timings["restricted"] += time.perf_counter() - ts
        P = len(patterns)
        pool.add(sol.U[:, :problem.d])
        tr = time.perf_counter()
        W0, b0, a, c, J, r = recover_network(problem, sol, sparsify=False)
        timings["recovery"] += time.perf_counter() - tr
        if best_up is None or (r > problem.width, J) < (best_up[5] > problem.width, best_up[0]):
            best_up = (J, W0, b0, a, c, r, sol.value, sol)  # networks of width ≤ n first, then least J
        if best_any is None or J < best_any[0]:
            best_any = (J, W0, b0, a, c, r, sol.value, sol)
        if exact and best_cert is not None and left() < exact_cost[0]:  # no time to certify it
            status = "time_limit"
            notes.append(f"round {rounds}: the time limit left no room to certify its dual point "
                         f"(the exact oracle took {exact_cost[0]:.1f} CPU-s last); the lower bound "
                         "is the previous round's")
            break
        cert = oracle_step(sol.yhat, max(add_per_round, 8), False)
        if search_rounds:  # an estimate: certify when it closes, finds nothing, or time runs out
            est_gap = relative_gap(cert.lower, _upper_now(problem, best_up, trained))
            last = rounds == max_rounds or left() <= SCIP_SHARE * time_limit
            if est_gap <= tol or last or not np.any(np.abs(cert.oracle.F) > cert.level):
                cert = oracle_step(sol.yhat, max(add_per_round, 8), True)
                n_global += 1
        if cert.certified and (best_cert is None or cert.lower > best_cert.lower):
            best_cert = cert
        lower_now = best_cert.lower if best_cert is not None else -np.inf
        up_now = _upper_now(problem, best_up, trained)
        gap = (up_now - lower_now) / max(abs(up_now), 1e-300)
        history.append(dict(round=rounds, patterns=len(patterns), primal=sol.value, lower=cert.lower, upper=J,
                            gap=gap, sup_ratio=cert.oracle.value / cert.level, solver_status=sol.status,
                            certified=cert.certified, seconds=time.perf_counter() - t_all))
        emit(_LOG, verbose_level(1 if verbose else 0),
             f"round {rounds}: {len(patterns)} patterns, primal {sol.value:.12g}, lower {cert.lower:.12g} "
             f"({cert.oracle_kind}), upper {J:.12g}, gap {gap:.2e}, S/mβ {cert.oracle.value / cert.level:.6f}, "
             f"{sol.status} ({sol.iterations} Newton), {time.perf_counter() - t_all:.1f}s")
        if gap <= tol:
            status, converged = "converged", True
            break
        if left() <= 0:
            status = "time_limit"
            break
        # prune patterns that stayed at zero, add the chambers of the most violated units
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
        if added == 0 and not exact and not cert.proven and left() > 2.0:
            # SCIP stopped at its share of the time: give the same dual point all the time left
            cert = oracle_step(sol.yhat, max(add_per_round, 8), True, budget=left() - 1.0)
            n_global += 1
            if cert.lower > best_cert.lower:
                best_cert = cert
            if relative_gap(best_cert.lower, _upper_now(problem, best_up, trained)) <= tol:
                status, converged = "converged", True
                break
            if not cert.proven:
                status = "time_limit"
                notes.append("the bound on the dual oracle (SDP or SCIP: the provenance says which) did not finish "
                             "within the time limit: the lower bound rests on it at the limit (valid, weaker)")
                break
        if added == 0 and trained is not None and was_warm and not sol.status.startswith("optimal"):
            # after the warm start's tight first round a warm-started solve begins at a large t and may not centre
            # (measured: d = 3, m = 12); the same patterns again from a cold start
            cold_next = True
            continue
        if added == 0:
            if not sol.status.startswith("optimal") or sol.status.endswith("(precision limit)") \
                    or barrier_tol <= 1e-14 or solver == "cvxpy":
                status = "stalled"
                wider = (_needs_wider(problem, best_any[7], max(tol, 1e-9), seed)
                         if best_any[5] > problem.width else None)
                notes.append(_stall_note(problem, sol, wider))
                break
            barrier_tol *= 1e-2
    if best_cert is None:  # no certification inside the loop (time): certify the last point now
        best_cert = oracle_step(sol.yhat, 8, True)
        n_global += 1
    J, W0, b0, a, c, r, primal, best_sol = best_up
    tr = time.perf_counter()
    if r > problem.width or left() > 0:  # sparsified: fewer units, same objective (LPs: skipped past the limit)
        sp = recover_network(problem, best_sol, sparsify=True, seed=seed)
        if (sp[5] > problem.width, sp[4]) <= (r > problem.width, J):
            W0, b0, a, c, J, r = sp
    timings["recovery"] += time.perf_counter() - tr
    net_rec = problem.network(W0, b0, a, c)
    lower = best_cert.lower
    up_prov = "J of the network recovered from the convex program (FenchelNetwork.objective, float64)"
    width_up = None
    wider = _needs_wider(problem, best_any[7], max(tol, 1e-9), seed) if best_any[5] > problem.width else None
    if wider is not None and trained is not None and wider[4] >= trained.J:
        wider = None  # a wider network no better than a trained width-n one shows no need for more units
    if wider is not None and (r > problem.width or wider[4] < J):
        # the least-J solution needs more than n units: search width-n networks from it (pruned + L-BFGS, restarts)
        tw = time.perf_counter()
        wa = wider
        width_up = search_width_n(problem, wa[0], wa[1], wa[2], wa[3], seed=seed, deadline=c_all + time_limit)
        if trained is not None and trained.J < width_up[0]:  # the warm start's trained network is a width-n one too
            tnet = problem.network(trained.W0, trained.b0, trained.a, trained.c)
            width_up = (trained.J, tnet.W, tnet.b, trained.provenance)
        timings["width_search"] = time.perf_counter() - tw
        r_any = wa[5]
        notes.append(f"the convex optimum needs r = {r_any} > n = {problem.width} units: its network (J = "
                     f"{wa[4]:.10g}) "
                     f"bounds min J only for widths >= {r_any}; at width n the certified lower bound still holds and "
                     "min J may lie above it (an open gap here is the cost of the width, not of the solver); the best "
                     f"width-n network found has J = {width_up[0]:.10g} ({width_up[3]})")
        if r > problem.width or width_up[0] < J:  # the width-n search gives the upper bound at width n
            J, r, up_prov = width_up[0], width_up[1][0].shape[0], width_up[3]
            net_rec = problem.network(np.zeros((r, problem.d)), np.zeros(r), np.zeros(r), 0.0)
            net_rec.set_params(width_up[1], width_up[2])
    elif trained is not None and (r > problem.width or trained.J < J):  # a trained network beats the recovered one
        J, r, up_prov = trained.J, trained.r, trained.provenance
        net_rec = problem.network(trained.W0, trained.b0, trained.a, trained.c)
        notes.append(f"the upper bound is the L-BFGS-trained width-{problem.width} network of warm start "
                     f"{trained.start} (r = {r} alive units): below every network recovered from the convex program")
    gap = (J - best_cert.lower) / max(abs(J), 1e-300)
    if converged and gap > tol:
        converged, status = False, "converged only with a network wider than n"
    elif not converged and gap <= tol and width_up is not None:
        converged, status = True, "converged (width-n network from the pruned convex solution)"
    if lower > J:
        notes.append(f"lower bound {lower!r} above the judged J {J!r}: float64 rounding of the judge; reported as is")
    if not exact:
        notes.append(f"{n_global} SDP/SCIP certification(s) of the dual point; {problem.oracle_text}")
    timings["total"] = time.perf_counter() - t_all
    timings["cpu"] = time.process_time() - c_all
    return ConvexCertificate(lower=lower, upper=J, lower_provenance=best_cert.provenance, upper_provenance=up_prov,
                             n_active=r, width=problem.width, n_patterns=len(patterns), rounds=rounds, primal=primal,
                             converged=converged, status=status, time=timings["total"], dual=best_cert,
                             W=[w.copy() for w in net_rec.W], b=[v.copy() for v in net_rec.b], network=net_rec,
                             history=history, timings=timings, notes=notes, oracle=problem.oracle_text,
                             width_upper=None if width_up is None else width_up[0],
                             width_params=None if width_up is None else (width_up[1], width_up[2]),
                             width_provenance="" if width_up is None else width_up[3])


#: share of time_limit kept for the certification of the final dual point (oracle "scip": the SDP bound, then SCIP).
#: 0.25 before the SDP bound; its SCS solve needs the time (diabetes, m = 442: SCS stopped at 110 s per sign gave a
#: rigorous bound 7.9x the level, run to eps 1e-4 (370 s per sign) a solver value 5.4x; experiments/FINDINGS.md §6)
SCIP_SHARE = 0.5


def _warm_start(problem: TwoLayerProblem, patterns: PatternSet, starts: int, seed: int, stop: float, oracle_step,
                limit: int, notes: list) -> tuple:
    r"""Train up to ``starts`` width-n networks by L-BFGS (seeds ``seed`` + s; none begins and L-BFGS stops past
    ``stop``, a ``time.process_time()`` value) and add their alive units' chambers to ``patterns``, at most
    ``limit`` new ones per network, largest units first (:mod:`~fenchel_cvx.certify.twolayer.warmstart`); with
    the exact oracle, certify the best one's dual point λ = ℓ'(ŷ) (``oracle_step``; its violated units are not
    added: the first round's oracle finds those still violated, and at moons m = 2,000 the first restricted
    solve ran into the time limit with them, 93 patterns instead of 62). With SCIP's oracle the dual point is
    not asked (an estimate bounds nothing; the rounds' certification covers the rest). Returns (best
    WarmStart or None, its DualCertificate or None); says what it did in ``notes``."""
    best, done = None, []
    for s in range(starts):
        if time.process_time() > stop:
            break
        ws = train_width_n(problem, s, seed + s, deadline=stop)
        new = seed_patterns(problem, patterns, ws, limit)
        done.append(f"start {s}: J = {ws.J:.10g}, r = {ws.r}, {new} new patterns, {ws.seconds:.1f} CPU-s")
        if best is None or ws.J < best.J:
            best = ws
    if best is None:
        notes.append(f"warm start: no L-BFGS run began within {WARM_SHARE:.0%} of the time limit")
        return None, None
    cert = oracle_step(best.yhat, 8, False) if problem.oracle == "exact" else None
    notes.append(f"warm start: the first patterns were seeded from {len(done)} L-BFGS-trained width-{problem.width} "
                 f"network(s) ({'; '.join(done)}); the best one's J is an upper-bound candidate"
                 + ("" if cert is None else f", its dual point certified lower {cert.lower:.10g}"))
    return best, cert


def _upper_now(problem: TwoLayerProblem, best_up, trained: WarmStart | None) -> float:
    """The upper value the rounds' gap uses: ``best_up``'s J (as without a warm start: when its network needs
    r > n units, the final sparsified recovery or width-n search decides the bound at width n, and the status says
    so) or the warm start's ``trained`` width-n network's J, whichever is less."""
    return best_up[0] if trained is None else min(best_up[0], trained.J)


class _StartPool:
    """Start directions for the heuristic oracle search: recent hidden-unit directions and maximisers
    (rows of length d, at most ``cap`` kept, newest first)."""

    def __init__(self, d: int, cap: int = 400):
        self.d, self.cap = d, cap
        self.rows = np.zeros((0, d))

    def add(self, W) -> None:
        W = np.asarray(W, dtype=np.float64).reshape(-1, self.d)
        W = W[np.linalg.norm(W, axis=1) > 0]
        self.rows = np.vstack([W, self.rows])[:self.cap]

    def get(self) -> np.ndarray:
        return self.rows


def _needs_wider(problem: TwoLayerProblem, sol, tol: float, seed: int):
    """The least-J network recovered from ``sol`` (W0, b0, a, c, J, r) when it needs r > n units *and* every
    recovered network of width ≤ n has J larger by more than ``tol`` relative (else None: an interior-point
    solution spreads a neuron over several blocks, which is not a need for more units)."""
    cands = recovery_candidates(problem, sol, sparsify=True, seed=seed)
    best = min(cands, key=lambda x: (x[4], x[5]))
    fit = [x[4] for x in cands if x[5] <= problem.width]
    if best[5] <= problem.width or (fit and min(fit) - best[4] <= tol * abs(best[4])):
        return None
    return best


def _stall_note(problem: TwoLayerProblem, sol, wider) -> str:
    """Why column generation stopped with the gap open and no violated pattern: the restricted solver's
    accuracy, or (``wider``: the least-J solution needs more than n units, :func:`_needs_wider`) the width."""
    if wider is not None:
        return (f"no new violated pattern: the convex optimum is reached (lower bound tight) but its network needs "
                f"r = {wider[5]} > n = {problem.width} units, so no recovered network bounds min J at width n; the "
                f"gap is the width-n situation, not the solver (last status {sol.status!r})")
    return ("no new violated pattern but the gap is open: limited by the restricted solver's accuracy (last status "
            f"{sol.status!r}, gap estimate {sol.gap:.1e})")


def _constant_certificate(problem: TwoLayerProblem, t_all: float, oracle_step) -> ConvexCertificate:
    r"""The answer when no activation pattern exists (one sample, all samples identical, or X0 = 0 without a
    bias): every unit's output (x_jᵀw + b)₊ is the same on all samples (or 0), so every network predicts a
    constant and min J = min_c (1/m)Σ_j ℓ_j(c) (c = 0 without a bias), attained with all units zero. The
    lower bound is the dual point λ = ℓ'(c*) (certified as usual: S(λ) = 0); the upper bound is the zero
    network with output bias c*."""
    loss = problem.loss
    c = loss.best_constant() if problem.bias else 0.0
    cert = oracle_step(np.full(problem.m, c), 1, True)
    W0, b0, a = np.zeros((1, problem.d)), np.zeros(1), np.zeros(1)
    J = problem.judge(W0, b0, a, c)
    net_rec = problem.network(W0, b0, a, c)
    gap = relative_gap(cert.lower, J)
    note = ("no activation pattern exists (one sample, identical samples, or X0 = 0 without a bias): every network "
            "predicts a constant, so min J = min_c mean loss(c), attained by the zero network")
    t = time.perf_counter() - t_all
    return ConvexCertificate(lower=cert.lower, upper=J, lower_provenance=cert.provenance,
                             upper_provenance="J of the zero network with the best constant output "
                                              "(FenchelNetwork.objective, float64)",
                             n_active=0, width=problem.width, n_patterns=0, rounds=0, primal=J,
                             converged=gap <= 1e-12, status="no activation pattern", time=t, dual=cert,
                             W=[w.copy() for w in net_rec.W], b=[v.copy() for v in net_rec.b], network=net_rec,
                             history=[], timings={"total": t}, notes=[note], oracle=problem.oracle_text)

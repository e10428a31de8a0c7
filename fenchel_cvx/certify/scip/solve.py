r"""Global optima of tiny networks by spatial branch-and-bound in SCIP (PySCIPOpt).

Two models, chosen automatically (``model="auto"``):

* the **unit-scaled model** (this module) for one hidden ReLU layer with a scalar output head — ``[d, n, 1]``
  with the squared loss, and ``[d, n, 2]`` with the cross-entropy, which is exactly the logistic loss of the
  output difference (:func:`~fenchel_cvx.certify.scip.boxes.output_head`) — the fastest, exploiting positive
  homogeneity and the sign symmetry of the output weights (its "ball" head for k ≥ 2 outputs is available
  with ``model="unit"``; the direct model's Lipschitz cuts make that one the default there);
* the **direct model** (:mod:`fenchel_cvx.certify.scip.direct`) for everything else
  :func:`~fenchel_cvx.certify.check_problem` accepts: one or two hidden layers, relu / leaky_relu /
  hardtanh, squared loss or cross-entropy, k outputs (boxes from :func:`~fenchel_cvx.certify.scip.boxes.network_boxes`).

Both solve min J, and min F_μ with multipliers μ_l[i, j] > 0 (one per neuron and sample; a scalar λ is
the special case μ ≡ λ; the unit-scaled model takes multipliers shared by the units of the layer,
μ_l[i, j] = μ_j, which keeps the units interchangeable).

**What a SCIP lower bound rests on.** SCIP's dual bound is computed in floating point (no safe
rounding) on the model whose constraints are satisfied up to its feasibility tolerance ``feastol``
(absolute, on the constraints as written; LP dual feasibility to ``numerics/dualfeastol``). A relaxed
constraint enlarges the feasible set, so tolerance violations can only *lower* the model's optimum;
what the bound does not cover is floating-point error of the LP bounds themselves, which SCIP keeps at
the order of its tolerances. So every SCIP bound is reported as "valid up to SCIP's feasibility
tolerance feastol" (:attr:`GlobalResult.rests_on`), never as exact, and the brackets of
:mod:`fenchel_cvx.certify.report` show it when such a bound meets an upper bound.

**The unit-scaled model** (network ``[d, n, 1]``, ReLU, squared loss; data X0 is d x m). Scaling unit i's incoming
weights, bias and activations by α > 0 and its output weight a_i by 1/α leaves the network output unchanged. Write
ṽ_i = |a_i| x_i (the unit's contribution to the output is s_i ṽ_i, s_i = sign a_i), w̃_i = |a_i| w_i, b̃_i = |a_i| b_i,
ũ_i = w̃_i·X0 + b̃_i. Minimising the unit's cost over α gives

* J:   ρ_0/2‖w_i‖² + ρ_1/2 a_i²  →  β‖w̃_i‖ with β = √(ρ_0ρ_1) (AM–GM), and
* F_μ: Ẽ_i/a_i² + ρ_1 a_i²/2 → √(2ρ_1Ẽ_i), where Ẽ_i = (1/m)Σ_j μ_j B(ũ_ij, ṽ_ij) + ρ_0/2‖w̃_i‖²
  (B(αu, αv) = α²B(u, v) for the ReLU pair), attained at a_i² = √(2Ẽ_i/ρ_1).

So, for each sign pattern s (units are interchangeable: p = #{s_i = +1} = 0..n patterns),

    min J   = min (1/m)Σ_j ½(Σ_i s_i ṽ_ij + c − y_j)² + Σ_i τ_i,   τ_i ≥ β‖w̃_i‖,
              ṽ ≥ 0, g̃ = ṽ − ũ ≥ 0, ṽ·g̃ = 0 (complementarity: SOS1 pairs, or ṽg̃ ≤ 0);
    min F_λ = min (1/m)Σ_j ½(Σ_i s_i ṽ_ij + c − y_j)² + Σ_i τ_i,   τ_i² ≥ 2ρ_1Ẽ_i,

with the divergence modelled as in docs/design.md (certificates),
B(u, v) = min_{s ≥ max(u,0)} ½(s − v)² + v·g, g = s − u ≥ 0 (for any s, ½(s−v)² + v(s−u) =
½s² + ½v² − uv, increasing in s ≥ 0, so the minimum is at s = u₊ and equals ½u₊² + ½v² − uv).
At every minimiser s = u₊ and g = u₋, so s·g = 0: the model adds SOS1(s̃_ij, g̃_ij), which makes
SCIP branch on the sign of ũ_ij and turns B into ½(s − v)² (u ≥ 0) or ½v² + v·g (u ≤ 0). The
remaining nonconvex terms are p̃_ij ≥ ṽ_ij g̃_ij and θ_i ≤ τ_i².

Every variable lies in a perspective box τ_i·[lo, hi] from :mod:`fenchel_cvx.certify.scip.boxes`,
and these cuts, valid at some global minimiser, are added: Σ_i τ_i ≤ F̄; τ_i ≥ τ_{i+1} within a
sign group; Σ_j (z_j − y_j) = 0 (stationarity in c); for F_λ, which is C¹ in the first layer,
the stationarity in the unpenalised bias, Σ_j s̃_ij = Σ_j ṽ_ij, and in the weights,
ρ_0 w̃_i + (1/m) Σ_j μ_j(s̃_ij − ṽ_ij) x_j = 0 (both linear; the bias one weighted by μ_j), and the
second-order cone 2ρ_1[(1/m)Σ_j μ_j ½(s̃_ij − ṽ_ij)² + ρ_0/2‖w̃_i‖²] ≤ τ_i² (p̃ ≥ 0 dropped: convex, so SCIP needs no
branching for it); SCIP branches on the τ_i first. The incumbent's sign pattern is solved first;
every pattern is cut off at (1 − gap/2)·U, U the best point known so far (judged by the
network), and a pattern proved to have nothing below the cutoff gets the cutoff as its bound.

The direct model with two hidden layers also runs SCIP's optimisation-based bound tightening at every node
(:func:`_deep_obbt`; its bounds rest on the same tolerance as the dual bound).

The certified lower bound is the minimum over patterns of SCIP's dual bounds: valid up to
SCIP's feasibility tolerance ``feastol`` (violations only lower the bound, never raise it).
Constraints quadratic in the unit variables are multiplied by 1/F̄², so that the tolerance acts
relative to their size; a violation ε of such a constraint can still lower τ by about F̄√ε, so
SCIP's own objective values are accurate to about √feastol = 1e-4 relative, and the default gap
limit is 1e-3. SCIP's best point of each pattern is mapped back to a network and judged by the
network's own ``objective`` / ``lifted_objective`` (the single judge); the best one is then
polished by a local method (L-BFGS), which can only lower the judged upper bound.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..problem import (
    SUPPORTED,
    check_problem,
    copy_network,
    expand_multipliers,
    multipliers_kind,
    relative_gap,
    require_scip,
)
from ..upper import divergences, lbfgs_polish, lbfgs_train, lifted_lbfgs, relaxation_value
from .boxes import network_boxes, output_head, unit_bounds
from .direct import DirectModel

__all__ = ["GlobalResult", "solve_relaxation", "solve_standard", "to_units", "from_units", "canonical_units",
           "unit_model_applies",
           "SUPPORTED_GLOBAL", "MODELS"]

from .unit_model import UnitModel, arrange_units, canonical_units, from_units, to_units

SUPPORTED_GLOBAL = SUPPORTED
MODELS = ("auto", "unit", "direct")

_SOLVED = ("optimal", "gaplimit", "infeasible")  # infeasible = nothing better than the objective limit


@dataclass
class GlobalResult:
    """Outcome of a global solve.

    quantity : "min F_lambda" or "min J";  lam : the scalar λ of the relaxation (None for J or finer multipliers)
    multipliers : the relaxation's multipliers, one n_{l+1} x m array per hidden layer (None for J)
    dual     : lower bound on ``quantity``: SCIP's dual bound (the minimum over sign patterns for the unit
               model), valid up to SCIP's feasibility tolerance ``feastol`` (see :attr:`rests_on`)
    primal   : SCIP's best objective value (its own, tolerance-affected, number)
    judged   : the network's own F_μ (resp. J) at the best point found, after polishing — an upper bound
    status   : "optimal" when (judged − dual) ≤ gap·judged, else the first SCIP status other than solved
    model    : "unit" (unit-scaled, sign patterns) or "direct" (network variables)
    patterns : per SCIP solve: dict(p, status, dual, primal, time, nodes) (p = sign pattern; None for direct)
    divergences : B_l(U_l, X_{l+1}) entrywise at the returned point (relaxation only): a supergradient of
               μ ↦ min F_μ when that point is a global minimiser (times 1/m)
    """

    quantity: str
    lam: float | None
    status: str
    dual: float
    primal: float
    judged: float
    time: float
    nodes: int
    Fbar: float
    patterns: list = field(default_factory=list)
    W: list = field(repr=False, default_factory=list)
    b: list = field(repr=False, default_factory=list)
    Xs: list = field(repr=False, default_factory=list)
    judged_raw: float = math.inf
    model: str = "unit"
    multipliers: list | None = field(default=None, repr=False)
    feastol: float = 1e-8
    divergences: list = field(repr=False, default_factory=list)

    @property
    def solved(self) -> bool:
        """True when SCIP proved optimality (to its gap limit) for every sign pattern."""
        return self.status == "optimal"

    @property
    def gap(self) -> float:
        """Relative gap max(judged − dual, 0) / |judged| (never negative; see :attr:`overlap`)."""
        if not math.isfinite(self.judged):
            return math.inf
        return relative_gap(self.dual, self.judged)

    @property
    def overlap(self) -> float:
        """max(dual − judged, 0): by how much SCIP's tolerance-based bound exceeds the judged value (0 normally)."""
        return max(self.dual - self.judged, 0.0) if math.isfinite(self.judged) else 0.0

    @property
    def rests_on(self) -> str:
        """What the lower bound ``dual`` rests on."""
        if self.model == "none":
            return "no solve: the objective is a sum of nonnegative terms and the incumbent's value is 0"
        return (f"SCIP dual bound ({self.model} model), valid up to SCIP's feasibility tolerance "
                f"feastol={self.feastol:g}")


def unit_model_applies(problem, mu=None) -> bool:
    """True when the unit-scaled model represents the problem: one hidden ReLU layer [d, n, k] (any supported
    loss: squared with k ≥ 1, cross-entropy with k ≥ 2) and, for the relaxation, multipliers shared by the
    units, μ_0[i, j] = μ_j."""
    net = problem.net
    if not (net.L == 1 and problem.activation_names == ["relu"]):
        return False
    return mu is None or bool(np.all(mu[0] == mu[0][:1, :]))


@contextlib.contextmanager
def _quiet_fds():
    """Silence SCIP's C-level chatter (sub-solvers print warnings past ``hideOutput``) by pointing file
    descriptors 1 and 2 at /dev/null while SCIP runs; Python-level streams are flushed and restored."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no usable descriptors (embedded interpreters): leave them alone
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [null]:
            os.close(fd)


def _set_params(M, time_limit, gap, feastol, seed):
    # time limits count CPU seconds of this process (SCIP's clock type 1), so that a solve does the same work
    # on a loaded, shared machine as on an idle one
    M.setParam("timing/clocktype", 1)
    M.setParam("limits/time", float(time_limit))
    M.setParam("limits/gap", float(gap))
    M.setParam("numerics/feastol", float(feastol))
    M.setParam("randomization/randomseedshift", int(seed))
    M.setParam("parallel/maxnthreads", 1)
    M.setParam("lp/threads", 1)


def _solve(problem, relaxed, mu, incumbent, time_limit, gap, seed, feastol, complementarity, cuts, polish, model):
    """Global solve of min F_μ (``relaxed``) or min J by the chosen model; see the module docstring."""
    net, X0, y = problem.net, problem.X0, problem.y
    t_start = time.process_time()  # CPU seconds, as SCIP's limits
    # incumbent: J(W, b) bounds both min J and min F_μ (F_μ(W, forward W) = J(W)); for F_μ a local
    # minimisation of F from it gives a tighter bound F̄ and a better starting point
    W_inc, b_inc = incumbent
    Fbar = net.objective(X0, y, W_inc, b_inc)
    Xs_inc = net.forward(X0, W_inc, b_inc)[0]
    if relaxed:
        Wl, bl, Xl, Fl = lifted_lbfgs(net, X0, y, W_inc, b_inc, lam=mu)
        if Fl < Fbar:
            W_inc, b_inc, Xs_inc, Fbar = Wl, bl, Xl, Fl

    def judge(W_, b_, X_):
        return relaxation_value(net, X0, y, W_, b_, X_, mu) if relaxed else net.objective(X0, y, W_, b_)

    if Fbar <= 0.0:  # every term (loss, divergences, weight decay) is >= 0: the incumbent is a global minimiser
        return GlobalResult(quantity="min F_lambda" if relaxed else "min J",
                            lam=float(mu[0].flat[0]) if relaxed and multipliers_kind(mu) == "scalar" else None,
                            status="optimal", dual=0.0, primal=float(Fbar), judged=float(Fbar), time=0.0, nodes=0,
                            Fbar=float(Fbar), W=W_inc, b=b_inc, Xs=Xs_inc, judged_raw=float(Fbar), model="none",
                            multipliers=mu if relaxed else None, feastol=float(feastol),
                            divergences=divergences(net, X0, W_inc, b_inc, Xs_inc) if relaxed else [])

    if model == "auto":  # the unit-scaled model where it is strongest: scalar heads (sign patterns)
        unit = unit_model_applies(problem, mu if relaxed else None) and output_head(problem).kind == "sign"
        model = "unit" if unit else "direct"
    elif model == "unit" and not unit_model_applies(problem, mu if relaxed else None):
        raise ValueError("model: the unit-scaled model needs one hidden relu layer and multipliers shared by the "
                         "units; use model='direct' or 'auto'")
    if model == "unit":
        patterns, upper, best, judged_raw = _solve_unit(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge,
                                                        time_limit, gap, seed, feastol, complementarity, cuts,
                                                        t_start)
    else:
        patterns, upper, best, judged_raw = _solve_direct(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge,
                                                          time_limit, gap, seed, feastol, cuts)
    dual = min(r["dual"] for r in patterns)
    W, b, Xs = best
    judged = upper
    if polish:  # a local method from the best point: can only lower the (judged) upper bound
        if relaxed:
            Wp, bp, Xp, Fp = lifted_lbfgs(net, X0, y, W, b, Xs, lam=mu)
        else:
            Wp, bp, Fp, _ = lbfgs_polish(net, X0, y, W, b)
            Xp = net.forward(X0, Wp, bp)[0]
        if Fp < judged:
            W, b, Xs, judged = Wp, bp, Xp, Fp
    if (judged - dual) <= gap * abs(judged):
        status = "optimal"
    else:
        bad = [r["status"] for r in patterns if r["status"] not in _SOLVED]
        status = bad[0] if bad else "optimal"
    scalar = relaxed and multipliers_kind(mu) == "scalar"
    return GlobalResult(quantity="min F_lambda" if relaxed else "min J", lam=float(mu[0].flat[0]) if scalar else None,
                        status=status, dual=float(dual), primal=min((r["primal"] for r in patterns), default=math.inf),
                        judged=float(judged), time=float(sum(r["time"] for r in patterns)),
                        nodes=int(sum(r["nodes"] for r in patterns)), Fbar=float(Fbar), patterns=patterns,
                        W=W, b=b, Xs=Xs, judged_raw=float(judged_raw), model=model,
                        multipliers=mu if relaxed else None, feastol=float(feastol),
                        divergences=divergences(net, X0, W, b, Xs) if relaxed else [])


def _run(M, cutoff):
    """Optimise a SCIP model cut off at ``cutoff``; returns (status, certified dual ≤ cutoff, primal, time, nodes)."""
    M.setObjlimit(cutoff)
    with _quiet_fds():
        M.optimize()
    status = M.getStatus()
    # "infeasible" = SCIP proved that nothing lies below the cutoff: the cutoff is the bound
    dual = cutoff if status == "infeasible" else min(float(M.getDualbound()), cutoff)
    primal = float(M.getPrimalbound()) if M.getNSols() else math.inf
    return status, dual, primal, float(M.getSolvingTime()), int(M.getNNodes())


def _solve_unit(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge, time_limit, gap, seed, feastol,
                complementarity, cuts, t_start):
    n = problem.net.sizes[1]
    mu_row = mu[0][0] if relaxed else None
    signs_inc, units_inc = to_units(problem, W_inc, b_inc, Xs_inc if relaxed else None, mu_row)
    signs_inc, units_inc, p_inc = canonical_units(problem, signs_inc, units_inc, relaxed)
    n_zero = int(np.sum(units_inc["tau"] == 0))
    # best point known (judged by the network): every pattern is cut off at (1 − gap/2) times its value,
    # and a pattern proved to have nothing below that cutoff gets the cutoff as its lower bound
    upper, best = Fbar, (W_inc, b_inc, Xs_inc)
    judged_raw = math.inf
    patterns = []
    ball = signs_inc is None
    order = [None] if ball else [p_inc] + [p for p in range(n + 1) if p != p_inc]
    for k, p in enumerate(order):
        if upper <= 0.0:  # a point of value 0 was found: 0 bounds every pattern (every term is >= 0)
            patterns.append({"p": p, "status": "optimal", "dual": 0.0, "primal": math.inf, "time": 0.0, "nodes": 0})
            continue
        signs = None if ball else np.array([1.0] * p + [-1.0] * (n - p))
        mod = UnitModel(problem, relaxed, mu_row, signs, unit_bounds(problem, upper, relaxed, mu_row),
                         complementarity, cuts)
        remaining = time_limit - (time.process_time() - t_start)
        _set_params(mod.M, max(remaining / (len(order) - k), 1.0), gap, feastol, seed)
        if ball or p_inc <= p <= p_inc + n_zero:  # the incumbent fits this pattern (zero units take either sign)
            mod.add_point(arrange_units(signs_inc, units_inc, p))
        status, dual, primal, t, nodes = _run(mod.M, upper * (1.0 - 0.5 * gap))
        patterns.append({"p": p, "status": status, "dual": dual, "primal": primal, "time": t, "nodes": nodes})
        if mod.M.getNSols():
            W, b, Xs = from_units(problem, signs, mod.solution(), mu_row)
            val = judge(W, b, Xs)
            judged_raw = min(judged_raw, val)
            if val < upper:
                upper, best = val, (W, b, Xs)
    patterns.sort(key=lambda r: -1 if r["p"] is None else r["p"])
    return patterns, upper, best, judged_raw


def _deep_obbt(M):
    """Optimisation-based bound tightening at every node, on every variable (SCIP's OBBT propagator), for the
    two-hidden-layer direct model. Each tightened bound is the optimum of an LP relaxation of the node's model
    with the objective cut off at the incumbent: every point of the model below the cutoff — the global
    minimiser the boxes contain included, unless nothing lies below the cutoff, which then is the bound —
    satisfies it, so the tightening rests on SCIP's feasibility tolerance as the dual bound does. Measured on
    [2, 3, 3, 1] squared, m = 8, ρ = 0.1, incumbent J = 0.346963 (issue 21 item 5; solve_standard, 60 CPU-s):
    dual bound 0.3010 without it (5504 nodes), 0.3089 with it (140 nodes); with it and 300 CPU-s still 0.3089
    (both stall: the bound barely moves after the root)."""
    M.setParam("propagating/obbt/freq", 1)
    M.setParam("propagating/obbt/onlynonconvexvars", False)


def _solve_direct(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge, time_limit, gap, seed, feastol, cuts):
    boxes = network_boxes(problem, Fbar, relaxed, mu if relaxed else None)
    mod = DirectModel(problem, relaxed, mu, boxes, cuts=cuts)
    _set_params(mod.M, time_limit, gap, feastol, seed)
    if problem.net.L == 2:
        _deep_obbt(mod.M)
    status, dual, primal, t, nodes = _run(mod.M, Fbar * (1.0 - 0.5 * gap))
    upper, best, judged_raw = Fbar, (W_inc, b_inc, Xs_inc), math.inf
    if mod.M.getNSols():
        W, b, Xs = mod.solution()
        Xs = [a.project_domain(X) for a, X in zip(problem.net.activations, Xs)]
        if not relaxed:
            Xs = problem.net.forward(problem.X0, W, b)[0]
        val = judge(W, b, Xs)
        judged_raw = val
        if val < upper:
            upper, best = val, (W, b, Xs)
    return [{"p": None, "status": status, "dual": dual, "primal": primal, "time": t, "nodes": nodes}], upper, best, \
        judged_raw


def _incumbent(problem, incumbent):
    if incumbent is None:
        W, b, _, _ = lbfgs_train(problem.net, problem.X0, problem.y, seed=0)
        return W, b
    W, b = incumbent
    net = copy_network(problem.net, W=W, b=b)  # validates shapes and finiteness
    return net.W, net.b


def _check_options(time_limit, gap, feastol, complementarity="sos1", model="auto"):
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not (0 < time_limit < math.inf):
        raise ValueError(f"time_limit: expected a positive number of seconds, got {time_limit!r}")
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not (0 <= gap < 1):
        raise ValueError(f"gap: expected a relative gap limit in [0, 1), got {gap!r}")
    if isinstance(feastol, bool) or not isinstance(feastol, (int, float)) or not (1e-10 <= feastol <= 1e-4):
        raise ValueError(f"feastol: expected a feasibility tolerance in [1e-10, 1e-4], got {feastol!r}")
    if complementarity not in ("sos1", "bilinear"):
        raise ValueError(f"complementarity: expected 'sos1' or 'bilinear', got {complementarity!r}")
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")


def solve_relaxation(net, X0, y, lam=None, incumbent=None, time_limit: float = 60.0, gap: float = 1e-3,
                     seed: int = 0, feastol: float = 1e-8, cuts: bool = True, polish: bool = True,
                     allow_large: bool = False, model: str = "auto") -> GlobalResult:
    """min F_μ over (W, b, X) by SCIP (module docstring).

    ``lam`` overrides the network's λ: a scalar, one value per hidden layer, or finer multipliers (per
    sample, neuron or entry; :func:`~fenchel_cvx.certify.expand_multipliers`). ``incumbent`` = (W, b) of a
    trained network (default: one L-BFGS run on J) supplies F̄ ≥ min F_μ (after a local descent on F_μ);
    ``time_limit`` (seconds) covers all SCIP solves; ``model``: "auto", "unit" or "direct". Returns a
    :class:`GlobalResult` whose ``dual`` is a lower bound on min F_μ, hence on min J (valid up to SCIP's
    feasibility tolerance ``feastol``).
    """
    problem = check_problem(net, X0, y, need_lam=lam is None, allow_large=allow_large)
    mu = expand_multipliers(problem.net, problem.m, problem.net.lam if lam is None else lam)
    _check_options(time_limit, gap, feastol, model=model)
    require_scip()
    return _solve(problem, True, mu, _incumbent(problem, incumbent), time_limit, gap, seed, feastol,
                  "sos1", cuts, polish, model)


def solve_standard(net, X0, y, incumbent=None, time_limit: float = 60.0, gap: float = 1e-3, seed: int = 0,
                   feastol: float = 1e-8, complementarity: str = "sos1", cuts: bool = True, polish: bool = True,
                   allow_large: bool = False, model: str = "auto") -> GlobalResult:
    """min J over (W, b) by SCIP: the activations as exact complementarity models (module docstring;
    for the ReLU ṽ ≥ 0, ṽ ≥ ũ, ṽ(ṽ − ũ) = 0)."""
    problem = check_problem(net, X0, y, need_lam=False, allow_large=allow_large)
    _check_options(time_limit, gap, feastol, complementarity, model)
    require_scip()
    return _solve(problem, False, None, _incumbent(problem, incumbent), time_limit, gap, seed, feastol,
                  complementarity, cuts, polish, model)

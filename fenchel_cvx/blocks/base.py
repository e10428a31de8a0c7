"""The block contract shared by every BCD block.

A block is one convex subproblem of the lifted objective F_λ with everything but one
variable fixed (docs/design.md §2; the contract: §3). Each block class

* stores its data (numpy float64 or torch tensors; features x samples),
* ``objective(sol)`` -- **the single judge**: the block objective at a candidate
  solution, a Python float. Both the reference and the fast path report this value.
* ``problem()`` -- the block as a ``cvxpy.Problem`` (DCP; DPP where the structure
  allows), cached, with ``variables`` to read the minimiser from;
* ``solve_reference(solver="CLARABEL")`` -- solves ``problem()``; returns a
  :class:`BlockResult` whose ``lower_bound`` is **certified** from the minimiser read back
  (``certified_bound``), independent of the solver's tolerances; the solver's own primal and
  dual objectives are kept in ``info`` as diagnostics (``solver_primal``, ``solver_dual``), never
  used as a bound. A status other than optimal raises :class:`SolverError` naming block, solver and status;
* ``solve_fast(init=None, tol=None, max_iter=...)`` -- the vectorised solver on numpy
  or torch; returns a :class:`BlockResult` with a **certified** lower bound on the block
  optimum, never an objective above the warm start's;
* ``certified_bound(sol)`` -- ``(bound or None, info)``: a lower bound on the block optimum built from
  the point ``sol`` (a Fenchel dual value, evaluated in float64 and deflated by the rounding allowance
  of :mod:`fenchel_cvx.blocks.certificates`, the one place where rounding is accounted for); None with
  ``info["lower_bound_reason"]`` where no valid bound can be formed;
* ``objective_interval(sol)`` -- a bracket of the exact objective at ``sol`` (float64 evaluation plus
  the same allowance): what "the objective of a feasible point" is, rounding included;
* ``solve_fixed(init=None, iters=...)`` -- a cheap fixed-budget solver for training (APG for the
  X-blocks, majorise–minimise ridge steps for the W-blocks): the same result type, status
  ``"budget"``, no certificate and no objective evaluation (``objective``/``lower_bound`` None);
* construction (scikit-learn style): ``__init__`` stores what it is given and trusts it (composed
  parts: an :class:`~fenchel_cvx.activations.Activation` or :class:`~fenchel_cvx.losses.Loss`, the
  map out of an X-block's variable (:mod:`fenchel_cvx.blocks.out_maps`), a W-block's
  :class:`~fenchel_cvx.blocks.mm.Proximal`; arrays on one backend with the right shapes; only their
  kinds are checked, with :func:`expect`); ``from_state(state, layer, ...)`` (classmethod) builds it
  from a training state (:class:`fenchel_cvx.blocks.state.LiftedState`) without validation or
  copies: the trainers' path. The validating constructors, for users: ``from_arrays(...)`` (arrays,
  names and numbers; every argument checked, the rejected one named) and ``from_network(net, X0, y, Xs, layer)``.

The solution ``sol`` is an array V (X-blocks) or a pair ``(W, b)`` (W-blocks). CVXPY is imported
only when a reference problem is built.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..errors import SolverError
from ..log import warn_large_reference

__all__ = ["BlockResult", "Block", "SolverError", "solve_cvxpy", "default_tol", "certified_min",
           "expect"]


@dataclass
class BlockResult:
    """What every block solve returns.

    solution    : V (X-blocks) or (W, b) (W-blocks), on the backend of the inputs
    objective   : block objective at ``solution``, computed by ``Block.objective`` (None for fixed-budget solves)
    lower_bound : certified lower bound on the block's optimal value (None when not certified; then
                  ``info["lower_bound_reason"]`` says why)
    gap         : objective − lower_bound (≥ 0 up to rounding; None when either is None)
    status      : "optimal" (certified gap ≤ tol·(1 + |objective|)), "max_iter" (certified solvers) or
                  "budget" (fixed-budget solvers)

    ``objective``, ``lower_bound`` and ``status`` may be given as zero-argument callables,
    evaluated on first access: the fast paths defer their float64 certificate (and the status
    that depends on it) and the X-blocks their objective evaluation, so that solves whose bound
    or value nobody reads -- the trainers' budget-limited steps -- do not pay for them. The
    value read is the same as if it had been computed at once.
    """

    solution: Any
    objective: float | None
    lower_bound: float | None
    iterations: int = 0
    time: float = 0.0
    status: str = "optimal"
    method: str = ""
    info: dict = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.lower_bound is None:
            return None
        return self.objective - self.lower_bound

    @property
    def rel_gap(self) -> float | None:
        g = self.gap
        return None if g is None else g / (1.0 + abs(self.objective))


class _Deferred:
    """A BlockResult field whose value may be given as a zero-argument callable, evaluated on first access."""

    def __init__(self, name):
        self.key = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        v = obj.__dict__.get(self.key)
        if callable(v):
            v = v()
            obj.__dict__[self.key] = v
        return v

    def __set__(self, obj, value):
        obj.__dict__[self.key] = value


# objective, lower_bound and status: dataclass fields whose values may be deferred (BlockResult)
BlockResult.objective = _Deferred("objective")
BlockResult.lower_bound = _Deferred("lower_bound")
BlockResult.status = _Deferred("status")


def default_tol(x) -> float:
    """Default relative tolerance of the fast solvers: 1e-10 in float64, 1e-5 in float32."""
    dt = getattr(x, "dtype", np.float64)
    return 1e-10 if str(dt).endswith("float64") else 1e-5


_PREFERRED = ("CLARABEL", "ECOS", "SCS")


def solve_cvxpy(prob, block_name: str, solver: str | None = "CLARABEL",
                **solver_opts) -> tuple[float, float | None, dict]:
    """Compile and solve ``prob``; return (primal value, the solver's dual objective, timings).

    The problem is compiled with ``get_problem_data`` and solved through the chain, so
    that the solver's raw result -- with its own primal and dual objectives -- is
    available. The second value is ``value − (primal_raw − dual_raw)`` (CLARABEL, SCS, OSQP;
    None for other solvers): **the solver's own number, a diagnostic -- not a lower bound**
    (it moves with the solver's tolerances and has been seen above feasible objectives; the
    blocks' certified bounds come from ``Block.certified_bound``). ``timings`` holds ``compile``
    and ``solve`` seconds. A status other than optimal raises :class:`SolverError` naming the
    block, the solver and the status.
    """
    import cvxpy as cp

    if solver is not None and not isinstance(solver, str):
        raise TypeError(f"solver: expected a CVXPY solver name (e.g. 'CLARABEL') or None, got {solver!r}")
    installed = cp.installed_solvers()
    if solver is None:
        solver = next(s for s in _PREFERRED if s in installed)
    solver = solver.upper()
    if solver not in installed:
        raise ValueError(f"solver: {solver!r} is not installed; installed solvers: {', '.join(installed)}")
    t0 = time.perf_counter()
    try:
        data, chain, inverse = prob.get_problem_data(solver, solver_opts=solver_opts)
        t1 = time.perf_counter()
        raw = chain.solve_via_data(prob, data, False, False, solver_opts)
        prob.unpack_results(raw, chain, inverse)
    except cp.error.SolverError as e:
        raise SolverError(f"block {block_name}: solver {solver} failed: {e}") from e
    t2 = time.perf_counter()
    if prob.status == cp.OPTIMAL_INACCURATE and solver == "CLARABEL" and not solver_opts:
        # CLARABEL's 1e-8 defaults can stall at 'almost solved' on exponential-cone blocks
        # (sigmoid/tanh entropies); one retry at 1e-7 -- reported in the timings dict.
        opts = dict(tol_gap_abs=1e-7, tol_gap_rel=1e-7, tol_feas=1e-7)
        primal, dual, times = solve_cvxpy(prob, block_name, solver, **opts)
        times = {**times, "compile": times["compile"] + (t1 - t0), "solve": times["solve"] + (t2 - t1),
                 "retried_with": opts}
        return primal, dual, times
    if prob.status != cp.OPTIMAL:
        raise SolverError(f"block {block_name}: solver {solver} returned status {prob.status!r} (expected 'optimal')")
    primal = float(prob.value)
    gap = _raw_gap(raw, solver)
    dual = None if gap is None or not np.isfinite(gap) else primal - gap
    return primal, dual, {"compile": t1 - t0, "solve": t2 - t1}


def _raw_gap(raw, solver: str):
    """primal − dual objective of the solver's raw result (None when not reported)."""
    try:
        if solver == "CLARABEL":
            return float(raw.obj_val) - float(raw.obj_val_dual)
        if solver == "SCS":
            return float(raw["info"]["pobj"]) - float(raw["info"]["dobj"])
        if solver == "OSQP":
            return float(raw.info.obj_val) - float(raw.info.dual_obj_val)
    except (AttributeError, KeyError, TypeError):
        return None
    return None


class Block(abc.ABC):
    """Base class of the BCD blocks (see the module docstring for the contract)."""

    kind: str = "block"
    #: which factors of an instance the block depends on (check-blocks and tests vary only these)
    depends_on: tuple = ("activation", "loss")

    def name(self) -> str:
        return self.kind

    def __repr__(self) -> str:
        """``LastWBlock(layer=2, X 3x5, Y 2x5, W 2x3, loss=CrossEntropy(), rho=0.1, gamma=0, float64 numpy)``:
        the kind, the layer, the shapes of the block's data (features x samples) and its scalars."""
        parts = [f"layer={getattr(self, 'layer', None)}"]
        for key in ("X", "U", "Y", "X_next", "W", "b"):
            a = getattr(self, key, None)
            if a is not None and hasattr(a, "shape"):
                parts.append(f"{key} {'x'.join(map(str, a.shape))}")
        for key in ("act", "loss", "lam", "rho", "gamma"):
            v = getattr(self, key, None)
            if v is not None and not callable(getattr(v, "__func__", None)):
                parts.append(f"{key}={float(v):g}" if isinstance(v, (int, float, np.floating)) else f"{key}={v!r}")
        a = next((getattr(self, k) for k in ("X", "U") if getattr(self, k, None) is not None), None)
        if a is not None:
            parts.append(f"{str(a.dtype).replace('torch.', '')} {type(a).__module__.split('.')[0]}")
        return f"{type(self).__name__}({', '.join(parts)})"

    @classmethod
    def resolve_layer(cls, net, layer) -> int:
        """``layer`` checked against :meth:`layers`; ``None`` picks the one layer of ``net`` with a block of
        this kind (a ``ValueError`` naming ``layer`` and the choices when there are several or none)."""
        choices = list(cls.layers(net))
        if layer is None:
            if len(choices) == 1:
                return int(choices[0])
            if not choices:
                raise ValueError(f"layer: a network with L = {net.L} hidden layers has no {cls.kind} block")
            raise ValueError(f"layer: {cls.kind} needs one of the layers {choices} (it has a block on each); "
                             f"pass layer=...")
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or int(layer) not in choices:
            raise ValueError(f"layer: {cls.kind} needs one of the layers {choices}, got {layer!r}")
        return int(layer)

    @abc.abstractmethod
    def objective(self, sol) -> float:
        """The block objective at ``sol``: the single judge of both paths."""

    @abc.abstractmethod
    def problem(self, dpp: bool | None = None):
        """The block as a ``cvxpy.Problem`` (cached)."""

    @abc.abstractmethod
    def reference_solution(self):
        """The minimiser read back from ``problem()``'s variables after a solve."""

    @abc.abstractmethod
    def certified_bound(self, sol) -> tuple:
        """``(bound or None, info)``: a certified lower bound on the block optimum from the point ``sol``
        (module docstring; ``info["lower_bound_reason"]`` when None)."""

    @abc.abstractmethod
    def objective_interval(self, sol) -> tuple:
        """``(lower, upper)``: a bracket of the exact block objective at ``sol`` (float64 + rounding allowance)."""

    @abc.abstractmethod
    def solve_fast(self, init=None, tol: float | None = None, max_iter: int = 10000) -> BlockResult:
        """The certified vectorised solver (module docstring)."""

    @abc.abstractmethod
    def solve_fixed(self, init=None, iters: int = 1) -> BlockResult:
        """The fixed-budget solver of the trainers (module docstring): no certificate."""

    @classmethod
    @abc.abstractmethod
    def from_state(cls, state, layer: int, **kw):
        """The block of weight/activation layer ``layer`` at a training state, unvalidated."""

    @classmethod
    @abc.abstractmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None):
        """The block of ``layer`` at the state (net, X0, y, Xs), validated."""

    @classmethod
    @abc.abstractmethod
    def layers(cls, net) -> list:
        """The layers of ``net`` that have a block of this kind."""

    def solve_reference(self, solver: str | None = "CLARABEL", **kwargs) -> BlockResult:
        t0 = time.perf_counter()
        prob = self.problem()
        t_build = time.perf_counter() - t0
        warn_large_reference(prob, self.name())  # before a solve that may take minutes
        primal, dual, times = solve_cvxpy(prob, self.name(), solver, **kwargs)
        sol = self.reference_solution()
        obj = self.objective(sol)
        t1 = time.perf_counter()
        lb, cinfo = self.certified_bound(sol)
        info = {"solver_primal": primal, "solver_dual": dual, "build_time": t_build, **times,
                "certificate_time": time.perf_counter() - t1, **cinfo}
        return BlockResult(solution=sol, objective=obj, lower_bound=certified_min(lb, obj),
                           time=t_build + times["compile"] + times["solve"], status="optimal",
                           method=(solver or "default").upper(), info=info)


def expect(value, kind, what: str, block: type):
    """Refuse a ``value`` that is not a ``kind`` (a class or tuple of classes) in a block's trusted
    ``__init__``, pointing to the validating constructors (an ``isinstance`` check: the trusted path
    stays cheap). Returns ``value``."""
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        cls = block.__name__
        raise TypeError(f"{what}: expected {names}, got {type(value).__name__} ({cls}(...) stores "
                        f"composed, trusted parts; build a block from arrays, names and numbers "
                        f"with {cls}.from_arrays(...) or from_network, which validate)")
    return value


def certified_min(bound, objective):
    """min(bound, objective): a certified bound lowered to the judged objective is still a lower bound (None
    stays None)."""
    if bound is None:
        return None
    return bound if objective is None or not bound > objective else float(objective)


def as_float(x) -> float:
    """A 0-d numpy array / tensor as a Python float."""
    return float(to_numpy(x)) if not isinstance(x, float) else x

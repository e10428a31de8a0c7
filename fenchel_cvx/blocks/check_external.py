r"""Cross-check someone else's block solver: the ``check-blocks`` table for a function you pass.

A BCD block is a small convex problem (:mod:`fenchel_cvx.blocks`), so a solver for it -- yours, a colleague's, a GPU
kernel, a library's -- can be judged exactly: on random instances that reach the kinks of φ and the edges of dom f*
(:func:`fenchel_cvx.blocks.instances.random_state`), its solution is evaluated by the block's own objective (the single
judge, :meth:`Block.objective`) and compared with the optimum of the block's CVXPY twin (:meth:`Block.solve_reference`).
:func:`cross_check` runs the same checks as ``fenchel-cvx check-blocks``, with your function in place of the library's
fast path, and returns the same rows.

What you pass: ``{kind: solve}`` with ``kind`` a key of :data:`~fenchel_cvx.blocks.BLOCKS` (``hidden_x``,
``last_x``, ``hidden_w``, ``last_w``; with ``conv=True`` of ``CONV_BLOCKS``) and ``solve(block)`` returning

* the solution: an array V (n x m, features x samples; X-blocks) or a pair ``(W, b)`` (W-blocks), numpy or
  torch, on the block's backend; or
* ``(solution, lower_bound)`` -- a 2-tuple whose second entry is a number: a claimed lower bound on the block's
  optimal value (your certificate); or
* a :class:`~fenchel_cvx.blocks.BlockResult` (its ``solution`` and ``lower_bound`` are used; its ``objective``
  is recomputed by the judge).

``block`` is the library's block object: its data are attributes (X-blocks: ``U``, ``W``, ``b``, ``lam``,
``act``, ``m`` and ``X_next``, ``lam_next``, ``act_next`` (hidden) or ``Y``, ``loss`` (last); W-blocks: ``X``,
``Y``, ``loss``, ``rho``, ``gamma``, ``bias``, ``W_prev``, ``b_prev``; the class docstrings give each
objective) and ``block.objective(solution)`` is the value you are judged by.

A row *agrees* (``ok``) when, with ``tol`` = 1e-7 (float64) or 1e-4 (float32) times (1 + |reference|):

* objective(your solution) ≤ reference objective + tol (your solution is optimal; outside the domain the
  objective is +inf), and it is finite;
* your claimed lower bound (if any) ≤ reference objective + tol: a bound above the optimum beyond the
  reference's accuracy is **invalid** and flagged ("certified bound above reference optimum");
* your function did not raise (an exception is reported in the row, never hidden).

Example -- a deliberately wrong output-layer solver (one majorise–minimise step instead of a solve, and a
bound that is not one) is caught, and the library's own fast path, wrapped as an external solver, passes::

    from fenchel_cvx.blocks.check_external import cross_check

    def sloppy(block):                           # one MM ridge step from the current weights
        sol = block.solve_fixed(iters=1).solution
        return sol, block.objective(sol)         # "lower bound" = its own objective: not a bound
    report = cross_check({"last_w": sloppy}, losses=["cross_entropy"])
    print(report.table())                        # NO: fast objective above reference; ...
    assert not report.ok

    def library(block):
        res = block.solve_fast()
        return res.solution, res.lower_bound
    assert cross_check({kind: library for kind in ("hidden_x", "last_x", "hidden_w", "last_w")},
                       activations=["relu", "sigmoid"]).ok
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .base import Block, BlockResult
from .check_library import CheckRow, format_table, run_checks, summary

__all__ = ["cross_check", "CrossCheckReport", "as_block_result", "external_solver", "load_solver"]


@dataclass
class CrossCheckReport:
    """The rows of a cross-check (one per block kind, activation, loss and backend), as ``check-blocks`` prints them."""

    rows: list[CheckRow]

    @property
    def ok(self) -> bool:
        """True when there is at least one row and every row agrees."""
        return bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def failures(self) -> list[CheckRow]:
        """The rows that disagree."""
        return [r for r in self.rows if not r.ok]

    def table(self) -> str:
        """The ``check-blocks`` table of the rows."""
        return format_table(self.rows)

    def summary(self) -> dict:
        """``{"rows", "disagreements", "max_abs_rel_gap"}``."""
        return summary(self.rows)


def _is_number(x) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, numbers.Real):
        return True
    return getattr(x, "ndim", None) == 0 and getattr(x, "dtype", None) is not None and getattr(x, "size", 0) == 1


def as_block_result(block: Block, out: Any, elapsed: float = 0.0, method: str = "external") -> BlockResult:
    """The :class:`BlockResult` of an external solver's return value ``out`` (module docstring), judged by
    ``block.objective``. A non-finite objective or a NaN bound is reported in ``status`` (never "optimal")."""
    if isinstance(out, BlockResult):
        solution, bound = out.solution, out.lower_bound
    elif isinstance(out, tuple) and len(out) == 2 and _is_number(out[1]):
        solution, bound = out
    else:
        solution, bound = out, None
    if isinstance(solution, list):
        solution = tuple(solution)
    objective = float(block.objective(solution))
    status = "optimal"
    if bound is not None:
        bound = float(bound)
        if math.isnan(bound):
            status = "claimed lower bound is NaN"
    if math.isnan(objective):
        status = "objective is NaN"
    return BlockResult(solution=solution, objective=objective, lower_bound=bound, time=elapsed, status=status,
                       method=method)


def external_solver(fn: Callable, kind: str) -> Callable:
    """``fn`` (block -> solution, module docstring) as a fast-path replacement returning a judged
    :class:`BlockResult`."""
    def solve(block):
        t0 = time.perf_counter()
        out = fn(block)
        return as_block_result(block, out, time.perf_counter() - t0, method=f"external:{kind}")

    return solve


def cross_check(solvers: dict, activations: Sequence[str] | None = None, losses: Sequence[str] | None = None,
                backends: Sequence[str] = ("numpy-float64",), sizes: Sequence[int] = (6, 5, 4, 3), m: int = 12,
                seed: int = 0, reference_solver: str = "CLARABEL", conv: bool = False, device: str = "cpu",
                progress: bool = False) -> CrossCheckReport:
    """Judge external block solvers against the CVXPY references (module docstring); returns a report.

    Parameters
    ----------
    solvers : ``{kind: solve(block)}``: block kinds of ``BLOCKS`` (or ``CONV_BLOCKS`` with ``conv=True``).
    activations, losses : restrict the instances (default: every activation / loss the block depends on).
    backends : ``"numpy-float64"`` (default), ``"numpy-float32"``, ``"torch-float64"``, ``"torch-float32"``:
        the arrays your function receives.
    sizes, m, seed : the dense network ``[d, n_1, ..., k]`` of the instances (at least two hidden layers),
        samples per instance, seed. ``conv=True`` uses the small conv instances of ``random_conv_state``.
    reference_solver : the CVXPY solver of the references (CLARABEL, SCS, ...).
    """
    from .kinds import BLOCKS

    registry, instance = BLOCKS, None
    if conv:
        from .conv_blocks import CONV_BLOCKS, random_conv_state

        registry, instance = CONV_BLOCKS, random_conv_state
    if not isinstance(solvers, dict) or not solvers:
        raise TypeError(f"solvers: expected a non-empty dict {{block kind: solve(block)}}, got {solvers!r}")
    for kind, fn in solvers.items():
        if kind not in registry:
            raise ValueError(f"solvers: unknown block kind {kind!r}; known: {', '.join(registry)}")
        if not callable(fn):
            raise TypeError(f"solvers[{kind!r}]: expected a function block -> solution, got {type(fn).__name__}")
    backends = list(backends)
    for be in backends:
        if be not in ("numpy-float64", "numpy-float32", "torch-float64", "torch-float32"):
            raise ValueError(f"backends: unknown entry {be!r}; use numpy-float64, numpy-float32, torch-float64, "
                             f"torch-float32")
    if any(be.startswith("torch") for be in backends):
        from ..backend import check_backend

        check_backend("torch", device)
    sizes = tuple(sizes)
    if not conv and (len(sizes) < 4 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes)):
        raise ValueError(f"sizes: expected at least four positive widths (two hidden layers), got {sizes}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 2:
        raise ValueError(f"m: expected an integer >= 2, got {m!r}")
    if not isinstance(reference_solver, str):
        raise TypeError(f"reference_solver: expected a CVXPY solver name, got {type(reference_solver).__name__}")
    wrapped = {kind: external_solver(fn, kind) for kind, fn in solvers.items()}
    rows = run_checks(list(solvers), activations, losses, tuple(backends), sizes, m, seed, reference_solver, device,
                      progress=progress, registry=registry, instance=instance, solvers=wrapped)
    return CrossCheckReport(rows)


def load_solver(spec: str) -> Callable:
    """The function named by ``"package.module:function"`` or ``"path/to/file.py:function"`` (the CLI's
    ``--external KIND=SPEC``). Raises ``ValueError``/``ImportError``/``FileNotFoundError`` naming ``spec``."""
    import importlib
    import importlib.util
    import os

    target, sep, attr = str(spec).rpartition(":")
    if not sep or not target or not attr:
        raise ValueError(f"--external: expected MODULE:FUNCTION or FILE.py:FUNCTION, got {spec!r}")
    if target.endswith(".py"):
        if not os.path.isfile(target):
            raise FileNotFoundError(f"--external: no such file {target!r}")
        mod_spec = importlib.util.spec_from_file_location(f"fenchel_cvx_external_{abs(hash(target))}", target)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"--external: {target!r} has no function {attr!r}")
    return fn

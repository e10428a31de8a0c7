r"""A global upper bound on the dual oracle S(λ) for any input dimension d, by SCIP (mixed-integer SOCP).

Shapes: X0 is d x m (features x samples); λ has m entries; a unit is u = (w, b), a_jᵀu = x_jᵀw + b.

**The model.** For one sign s = ±1 and c = sλ, sup_{‖w‖≤1, b} Σ_j c_j (x_jᵀw + b)₊ is the optimum of

    max Σ_j c_j z_j   over ‖w‖² ≤ 1, |b| ≤ B, z ≥ 0,
        c_j < 0:  z_j ≥ x_jᵀw + b                         (exact: the maximum pushes z_j down to (·)₊)
        c_j > 0:  z_j ≤ x_jᵀw + b + M_j(1 − δ_j),  z_j ≤ M_j δ_j,  δ_j ∈ {0, 1}
                                                          (z_j ≤ (x_jᵀw + b)₊ for the right δ_j),

with B = max_k ‖x_k‖ and the big-M constants M_j of :func:`big_m`. Restricting b to |b| ≤ B loses
nothing: with 1ᵀλ = 0 (bias) the supremum over b sits at a breakpoint b = −x_kᵀw, and |x_kᵀw| ≤ B
(without a bias b = 0). S(λ) is the larger of the two signs' optima.

**Why the model's optimum is S exactly.** Every feasible point has z_j ≤ (x_jᵀw + b)₊ for c_j > 0
(δ_j = 0 forces z_j ≤ 0; δ_j = 1 forces z_j ≤ x_jᵀw + b) and z_j ≥ (x_jᵀw + b)₊ for c_j < 0, so its
objective is ≤ F(w, b) ≤ S — whatever the M_j. And a maximiser (w*, b*) with
z_j = (x_jᵀw* + b*)₊ is feasible as soon as M_j ≥ |x_jᵀw* + b*| for *that* maximiser. Since one
maximiser sits at a breakpoint b* = −x_kᵀw* (bias; b* = 0 without), M_j = max_k ‖x_j − x_k‖ ≥
|(x_j − x_k)ᵀw*| suffices (bias; ‖x_j‖ without) — at most the previous ‖x_j‖ + B, and a tighter
LP relaxation (the δ_j relax to [0, 1] with z_j ≤ M_jδ_j).

**What the bound rests on.** SCIP's *dual bound* at any stopping point (optimality, time limit) is an upper bound on the
maximum, valid up to SCIP's LP and feasibility tolerances (its LPs are solved in floating point and not verified in
exact arithmetic). To cover the feasibility tolerance ε of the constraints, the bound returned adds ε·Σ_j|λ_j|·(1 + M_j)
and the relative ε of the ball constraint. With ``level`` given, SCIP is told that only values ≥ ``level`` matter (its
objective limit): a search that proves "no unit reaches level" is then much shorter, and the bound is max(level,
dual bound).

A unit SCIP finds with |F_λ| above ``level`` is returned (its F is re-evaluated directly): it is a
violated pattern for column generation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..problem import require_scip
from .arrangement import OracleResult

__all__ = ["scip_oracle_bound", "MipBoundResult", "SCIP_ORACLE_FEASTOL", "big_m"]

#: SCIP's feasibility tolerance in the oracle model (its effect is added to the bound)
SCIP_ORACLE_FEASTOL = 1e-9


@dataclass
class MipBoundResult:
    """What :func:`scip_oracle_bound` returns.

    bound    : an upper bound on S(λ) (SCIP's dual bound of both signs, plus the tolerance allowance)
    value    : the largest |F_λ| among the units SCIP found (re-evaluated directly; a lower estimate)
    status   : SCIP's status per sign ("optimal", "infeasible" = nothing reaches ``level``, "timelimit")
    proven   : True when SCIP closed both searches (bound = its optimum or ``level``)
    oracle   : the units found, as an :class:`OracleResult` of kind "scip"
    time     : seconds;  nodes : branch-and-bound nodes of both signs
    """

    bound: float
    value: float
    status: dict
    proven: bool
    oracle: OracleResult
    time: float
    nodes: int


def big_m(X0, bias: bool = True) -> np.ndarray:
    r"""The big-M constants of the model (module docstring), (m,): M_j = max_k ‖x_j − x_k‖ with
    a bias, ‖x_j‖ without (X0 d x m). Each ≥ |x_jᵀw + b| at every ‖w‖ ≤ 1 and breakpoint
    b = −x_kᵀw (resp. b = 0); computed with an upward allowance of 1e-12 relative + 1e-300 for the
    rounding of the norms."""
    X0 = np.asarray(X0, dtype=np.float64)
    if not bias:
        M = np.linalg.norm(X0, axis=0)
    else:
        Xt = X0.T
        M = np.zeros(Xt.shape[0])
        for s in range(0, Xt.shape[0], 256):  # blocks of rows: memory 256 x m x d
            D = Xt[s:s + 256, None, :] - Xt[None, :, :]
            M[s:s + 256] = np.sqrt(np.max(np.einsum("kjd,kjd->kj", D, D), axis=1))
    return M * (1.0 + 1e-12) + 1e-300


def _one_sign(
    scip,
    X0: np.ndarray,
    c: np.ndarray,
    bias: bool,
    level: float | None,
    time_limit: float,
    feastol: float,
):
    """max Σ c_j (x_jᵀw + b)₊ over the ball by SCIP (module docstring); returns (dual bound, status,
    units found [(w, b)], nodes)."""
    d, m = X0.shape
    norms = np.linalg.norm(X0, axis=0)
    B = float(norms.max(initial=0.0)) if bias else 0.0
    M = big_m(X0, bias)
    mdl = scip.Model("dual_oracle")
    mdl.hideOutput()
    mdl.setParam("timing/clocktype", 1)  # CPU seconds, as the callers' limits
    mdl.setParam("limits/time", max(1.0, float(time_limit)))
    mdl.setParam("numerics/feastol", feastol)
    w = [mdl.addVar(f"w{i}", lb=-1.0, ub=1.0) for i in range(d)]
    b = mdl.addVar("b", lb=-B, ub=B) if bias else None
    obj = []
    for j in range(m):
        if c[j] == 0.0:
            continue
        a = scip.quicksum(float(X0[i, j]) * w[i] for i in range(d) if X0[i, j] != 0.0)
        if bias:
            a = a + b
        z = mdl.addVar(f"z{j}", lb=0.0, ub=float(M[j]))
        if c[j] < 0:
            mdl.addCons(z >= a)
        else:
            dl = mdl.addVar(f"d{j}", vtype="B")
            mdl.addCons(z <= a + float(M[j]) * (1 - dl))
            mdl.addCons(z <= float(M[j]) * dl)
        obj.append(float(c[j]) * z)
    if not obj:
        return 0.0, "optimal", [], 0
    mdl.addCons(scip.quicksum(v * v for v in w) <= 1.0)
    mdl.setObjective(scip.quicksum(obj), "maximize")
    if level is not None:
        mdl.setObjlimit(float(level))
    mdl.optimize()
    status = mdl.getStatus()
    units = []
    for sol in mdl.getSols()[:16]:
        wv = np.array([mdl.getSolVal(sol, v) for v in w])
        nw = float(np.linalg.norm(wv))
        if nw > 0:
            units.append(
                (wv / max(nw, 1.0), (mdl.getSolVal(sol, b) / max(nw, 1.0)) if bias else 0.0)
            )
    if status == "infeasible" and level is not None:
        bound = float(level)  # nothing reaches level
    else:
        db = float(mdl.getDualbound())
        bound = db if math.isfinite(db) else math.inf
        if level is not None:
            bound = max(bound, float(level))
    return bound, status, units, int(mdl.getNNodes())


def scip_oracle_bound(
    X0,
    lam,
    bias: bool = True,
    level: float | None = None,
    time_limit: float = 60.0,
    feastol: float = SCIP_ORACLE_FEASTOL,
) -> MipBoundResult:
    r"""An upper bound on S(λ) = sup_{‖w‖≤1, b} |Σ_j λ_j (x_jᵀw + b)₊| by SCIP (module docstring), any d.

    ``X0`` d x m, ``lam`` (m,) (with ``bias``: 1ᵀλ = 0, which makes the sup over b a breakpoint; checked to rounding —
    the caller makes it exact); ``level``: values below it need not be resolved (the bound is then max(level, SCIP's
    dual bound)); ``time_limit`` CPU seconds for both signs together (SCIP's dual bound at the limit is still an upper
    bound); ``feastol`` SCIP's feasibility tolerance. Needs PySCIPOpt (ImportError naming the extra otherwise).
    """
    scip = require_scip()
    t0, c0 = time.perf_counter(), time.process_time()
    X0 = np.asarray(X0, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64).reshape(-1)
    d, m = X0.shape
    if lam.shape != (m,) or not np.all(np.isfinite(lam)):
        raise ValueError(
            f"lam: expected {m} finite entries (one per sample), got shape {lam.shape}"
        )
    if bias and abs(math.fsum(lam.tolist())) > 1e-12 * (1.0 + float(np.abs(lam).sum())):
        raise ValueError("lam: with a bias the oracle bound needs 1ᵀλ = 0 (use exact_zero_sum)")
    if not (time_limit > 0):
        raise ValueError(f"time_limit: expected a positive number of seconds, got {time_limit!r}")
    bounds, status, units, nodes = [], {}, [], 0
    for k, sgn in enumerate((1.0, -1.0)):
        left = time_limit - (time.process_time() - c0)
        share = left / (2 - k)
        bd, st, un, nd = _one_sign(scip, X0, sgn * lam, bias, level, max(share, 1e-3), feastol)
        bounds.append(bd)
        status["+" if sgn > 0 else "-"] = st
        units += un
        nodes += nd
    norms = np.linalg.norm(X0, axis=0)
    B = float(norms.max(initial=0.0)) if bias else 0.0
    allowance = feastol * float(np.abs(lam) @ (1.0 + norms + B))
    raw = max(bounds)
    bound = raw * (1.0 + feastol) + allowance if math.isfinite(raw) else math.inf
    if units:
        W = np.array([u[0] for u in units])
        bb = np.array([u[1] for u in units])
        F = np.maximum(W @ X0 + bb[:, None], 0.0) @ lam
        order = np.argsort(-np.abs(F))
        W, bb, F = W[order], bb[order], F[order]
    else:
        W, bb, F = np.zeros((0, d)), np.zeros(0), np.zeros(0)
    value = max(0.0, float(np.max(np.abs(F)))) if F.size else 0.0
    proven = all(s in ("optimal", "infeasible") for s in status.values())
    orc = OracleResult(
        value=value,
        allowance=bound - value,
        bound=bound,
        F=F,
        W=W,
        b=bb,
        n_evals=nodes,
        kind="scip",
    )
    return MipBoundResult(
        bound=bound,
        value=value,
        status=status,
        proven=proven,
        oracle=orc,
        time=time.perf_counter() - t0,
        nodes=nodes,
    )

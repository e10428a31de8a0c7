r"""The Lagrangian dual with finer multipliers: q(μ) = min_{W,X} F_μ(W, X), maximised by a bundle method.

Shapes: X0 is d x m; multipliers μ_l are n_{l+1} x m (neuron i, sample j of hidden layer l), as in
:func:`~fenchel_cvx.certify.expand_multipliers`.

**The dual function.** F_μ(x) = c(x) + ⟨g(x), μ⟩ is affine in μ for every point x = (W, b, X), with
c(x) = ℓ/m + Σ_l ρ_l/2‖W_l‖² and g(x)_l[i, j] = B_l[i, j](x)/m ≥ 0. So q(μ) = min_x F_μ(x) is concave, and
non-decreasing in μ; each point gives an affine over-estimator q(μ) ≤ c(x_k) + ⟨g(x_k), μ⟩, which is a
supergradient cut when x_k minimises F_{μ_k} (the divergences at a global minimiser are a supergradient).
Weak duality: q(μ) ≤ min J for every μ ≥ 0.

**Which multipliers.** Without a limit q increases to min J as μ → ∞ (the scalar sweep shows it), but SCIP's
solves get harder; the question is how much a *redistribution* gains at a fixed budget. The ascent keeps the
mean of each layer's multipliers at the scalar λ_l and maximises q over the distribution. Neurons of a layer
are interchangeable (J and F are invariant under permuting them with their weights), so q(πμ) = q(μ) for
every such permutation π, and by concavity q(mean_π πμ) ≥ q(μ): a per-neuron (or per-entry) multiplier never
beats its average over the neurons. Hence the useful refinement is **one multiplier per sample and layer**,
μ_l[i, j] = μ_l[j] (``kind="sample"``, the default, which also keeps SCIP's unit-scaled model applicable);
``kind="neuron"`` and ``"entry"`` are offered, and by this argument their maximum at a fixed budget equals
that of the scalar λ, respectively of ``"sample"``.

**The method** (proximal bundle with a box trust region, one global solve per iterate): the model
q̂(μ) = min_k c_k + ⟨g_k, μ⟩ over the points x_k found so far (SCIP's best point, polished) is maximised by
a linear program over {mean μ_l = λ_l, μ ≥ μ_min, ‖μ − μ̂‖_∞ ≤ Δ}; the maximiser is evaluated by SCIP; if its
certified bound beats the centre μ̂'s by a tenth of the predicted increase, it becomes the centre and Δ
doubles, else Δ halves (a null step, whose cut still refines the model). The best certified bound over all
iterates is kept whatever the steps (SCIP's bounds at a time limit are inexact values of q).

**What each iterate certifies**: SCIP's dual bound on min F_{μ_k} — a lower bound on min J valid up to
SCIP's feasibility tolerance (never the model value q̂, which over-estimates q, nor SCIP's primal value).
The result's ``best_lower`` is the largest of them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from ..problem import check_problem
from .solve import solve_relaxation

__all__ = ["DualResult", "dual_ascent", "KINDS"]

KINDS = ("sample", "neuron", "entry")


@dataclass
class DualResult:
    """Outcome of :func:`dual_ascent`.

    lam : the budget (scalar λ: each layer's multipliers keep mean λ); kind : "sample", "neuron" or "entry"
    iterates : per SCIP solve: dict(mu (list of n_l x m arrays), lower (SCIP dual bound on min F_μ), upper
        (judged F_μ at the best point), model (the cutting-plane model value predicted, an over-estimate of q),
        status, time, serious (became the centre))
    best_lower, best_mu : the largest certified bound and its multipliers; scalar_lower : the bound at μ ≡ λ
    """

    lam: float
    kind: str
    iterates: list = field(default_factory=list)
    feastol: float = 1e-8

    @property
    def best(self) -> dict:
        return max(self.iterates, key=lambda it: it["lower"])

    @property
    def best_lower(self) -> float:
        return float(self.best["lower"])

    @property
    def best_mu(self) -> list:
        return self.best["mu"]

    @property
    def scalar_lower(self) -> float:
        return float(self.iterates[0]["lower"])

    @property
    def status(self) -> str:
        return self.best["status"]

    @property
    def time(self) -> float:
        return float(sum(it["time"] for it in self.iterates))

    @property
    def rests_on(self) -> str:
        return (f"SCIP dual bound of min F_μ at the best iterate, valid up to SCIP's feasibility tolerance "
                f"feastol={self.feastol:g}")

    def summary(self) -> str:
        lines = [f"Lagrangian dual, one multiplier per {self.kind} (mean λ = {self.lam:g} per layer): "
                 f"certified min F_μ ≥ {self.best_lower:.6g} (scalar λ: {self.scalar_lower:.6g}, "
                 f"{'+' if self.best_lower >= self.scalar_lower else ''}{self.best_lower - self.scalar_lower:.3g})",
                 f"{'iter':>4} {'min F_μ ≥':>12} {'min F_μ ≤':>12} {'model':>10} {'status':<11} {'step':<7} "
                 f"{'time':>7}"]
        for k, it in enumerate(self.iterates):
            model = "" if it["model"] is None else f"{it['model']:.6g}"
            lines.append(f"{k:>4} {it['lower']:>12.6g} {it['upper']:>12.6g} {model:>10} {it['status']:<11} "
                         f"{'serious' if it['serious'] else 'null':<7} {it['time']:>6.1f}s")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"lam": self.lam, "kind": self.kind, "best_lower": self.best_lower, "scalar_lower": self.scalar_lower,
                "iterates": [{k: ([a.tolist() for a in v] if k == "mu" else v) for k, v in it.items()}
                             for it in self.iterates]}


def _reduce(kind, arrays):
    """The free parameters of ``kind`` from n_l x m arrays (sample: column sums; neuron: row sums; entry: all)."""
    if kind == "sample":
        return np.concatenate([a.sum(axis=0) for a in arrays])
    if kind == "neuron":
        return np.concatenate([a.sum(axis=1) for a in arrays])
    return np.concatenate([a.ravel() for a in arrays])


def _expand(kind, theta, shapes):
    """n_l x m multiplier arrays from the free parameters ``theta`` of ``kind``."""
    out, k = [], 0
    for n, m in shapes:
        size = {"sample": m, "neuron": n, "entry": n * m}[kind]
        part = theta[k:k + size]
        k += size
        if kind == "sample":
            out.append(np.tile(part[None, :], (n, 1)))
        elif kind == "neuron":
            out.append(np.tile(part[:, None], (1, m)))
        else:
            out.append(part.reshape(n, m))
    return out


def dual_ascent(net, X0, y, lam: float = 1.0, kind: str = "sample", iters: int = 5, time_limit: float = 30.0,
                gap: float = 1e-3, seed: int = 0, incumbent=None, start=None, mu_min: float = 0.05,
                allow_large: bool = False, model: str = "auto", feastol: float = 1e-8) -> DualResult:
    """Maximise q(μ) = min F_μ over multipliers of ``kind`` with each layer's mean fixed to ``lam`` (module docstring),
    from μ ≡ λ, with ``iters`` further SCIP solves of ``time_limit`` seconds each.

    ``incumbent``: (W, b) of a trained network (default: one L-BFGS run); ``start``: an existing
    :class:`~fenchel_cvx.certify.GlobalResult` at μ ≡ λ (skips the first solve); ``mu_min``: lower bound of
    each multiplier as a fraction of λ (SCIP's boxes need μ > 0). Returns a :class:`DualResult`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 0:
        raise ValueError(f"iters: expected a nonnegative integer, got {iters!r}")
    lam = float(lam)
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"lam: expected a finite budget > 0, got {lam}")
    if not (0 < mu_min < 1):
        raise ValueError(f"mu_min: expected a fraction in (0, 1), got {mu_min}")
    problem = check_problem(net, X0, y, need_lam=False, allow_large=allow_large)
    net, X0, yv, m = problem.net, problem.X0, problem.y, problem.m
    shapes = [(n, m) for n in net.sizes[1:-1]]
    counts = np.concatenate([np.full({"sample": m, "neuron": n, "entry": n * m}[kind], n * m /
                                     {"sample": m, "neuron": n, "entry": n * m}[kind]) for n, _ in shapes])
    # free parameter θ_p stands for `counts[p]` entries; the budget is Σ_p counts_p θ_p = λ·n_l·m per layer
    layer_of = np.concatenate([np.full({"sample": m, "neuron": n, "entry": n * m}[kind], l)
                               for l, (n, _) in enumerate(shapes)])
    res = DualResult(lam=lam, kind=kind, feastol=feastol)
    cuts = []  # (c_k, g_k) in the free parameters

    def evaluate(theta, predicted, inc):
        mu = _expand(kind, theta, shapes)
        t0 = time.perf_counter()
        r = solve_relaxation(net, X0, yv, lam=mu, incumbent=inc, time_limit=time_limit, gap=gap, seed=seed,
                             feastol=feastol, allow_large=allow_large, model=model)
        g = _reduce(kind, [B / m for B in r.divergences])
        c = r.judged - float(g @ theta)
        cuts.append((c, g))
        return {"mu": mu, "lower": float(r.dual), "upper": float(r.judged), "model": predicted, "status": r.status,
                "time": float(r.time if r.time else time.perf_counter() - t0), "serious": False,
                "point": (r.W, r.b)}

    theta = np.full(len(counts), lam)
    if start is not None:
        g = _reduce(kind, [B / m for B in start.divergences])
        cuts.append((start.judged - float(g @ theta), g))
        first = {"mu": _expand(kind, theta, shapes), "lower": float(start.dual), "upper": float(start.judged),
                 "model": None, "status": start.status, "time": float(start.time), "serious": True,
                 "point": (start.W, start.b)}
    else:
        first = evaluate(theta, None, incumbent)
        first["serious"] = True
    res.iterates.append(first)
    centre, centre_val = theta.copy(), first["lower"]
    inc = first["point"]
    delta = lam
    lo_bound = mu_min * lam
    for _ in range(int(iters)):
        cand, pred = _model_step(cuts, centre, delta, lo_bound, counts, layer_of, lam, len(shapes))
        it = evaluate(cand, pred, inc)
        if it["lower"] >= centre_val + 0.1 * max(pred - centre_val, 0.0) and it["lower"] > centre_val:
            centre, centre_val, delta = cand, it["lower"], 2.0 * delta
            it["serious"] = True
        else:
            delta *= 0.5
        res.iterates.append(it)
    for it in res.iterates:
        it.pop("point", None)
    return res


def _model_step(cuts, centre, delta, lo_bound, counts, layer_of, lam, L):
    """argmax of min_k c_k + g_k·θ over {Σ_p counts_p θ_p = λ·size_l per layer, θ ≥ lo, |θ − centre| ≤ Δ} (an LP)."""
    P = len(centre)
    # variables (θ, t): maximise t  s.t.  t − g_k·θ ≤ c_k
    cost = np.zeros(P + 1)
    cost[-1] = -1.0
    A_ub = np.array([np.append(-g, 1.0) for _, g in cuts])
    b_ub = np.array([c for c, _ in cuts])
    A_eq = np.zeros((L, P + 1))
    b_eq = np.zeros(L)
    for l in range(L):
        sel = layer_of == l
        A_eq[l, :P][sel] = counts[sel]
        b_eq[l] = lam * counts[sel].sum()
    bounds = [(max(lo_bound, centre[p] - delta), centre[p] + delta) for p in range(P)] + [(None, None)]
    out = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if out.status != 0:  # pragma: no cover - the centre is always feasible
        return centre.copy(), float(min(c + g @ centre for c, g in cuts))
    return out.x[:P], float(out.x[-1])

r"""Brackets on the optimal training loss of a tiny network: :func:`certify` and its report.

For a network ``[d, n, 1]`` (one hidden ReLU layer, squared loss, weight decay), data X0
(d x m) and targets y (1 x m), :func:`certify` collects

* **upper bounds** on min J: J of trained networks from a list of *providers* (default:
  backprop L-BFGS from several random starts; lifted BCD plugs in as another provider),
  of SCIP's best point for min J, and of the network recovered from the convex reference
  when it fits the width; every value is judged by ``FenchelNetwork.objective``;
* **certified lower bounds** on min J: SCIP's dual bound for min J, SCIP's dual bounds for
  min F_λ (weak duality: min F_λ ≤ min J), and the convex reference's optimum;
* a **λ sweep** of the relaxation, λ ∈ ``lams``: lower (dual) and upper (judged) bounds on
  min F_λ, which is non-decreasing in λ and tends to min J;

so that   lower ≤ min F_λ ≤ min J ≤ upper,   each number with its provenance.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from ._problem import check_problem, require_scip
from .convex import ConvexResult, convex_reference
from .scip import GlobalResult, check_scope, solve_relaxation, solve_standard
from .upper import UpperBound, bcd_provider, lbfgs_provider

__all__ = ["Bound", "SweepPoint", "CertifyReport", "certify", "format_gap"]


@dataclass
class Bound:
    """One number of the bracket: ``side`` "lower" or "upper" bound on ``quantity`` ("min J" or
    "min F_lambda"; a lower bound on min F_λ is also one on min J), with its ``provenance``."""

    side: str
    value: float
    quantity: str
    provenance: str
    lam: float | None = None
    status: str = ""
    time: float = 0.0


@dataclass
class SweepPoint:
    """The relaxation at one λ: ``lower`` ≤ min F_λ ≤ ``upper`` (SCIP dual bound; judged F_λ)."""

    lam: float
    lower: float
    upper: float
    status: str
    time: float
    result: GlobalResult | None = field(default=None, repr=False)


@dataclass
class CertifyReport:
    """What :func:`certify` returns (see the module docstring)."""

    sizes: list
    m: int
    rho: list
    lower: list = field(default_factory=list)
    upper: list = field(default_factory=list)
    sweep: list = field(default_factory=list)
    standard: GlobalResult | None = None
    convex: ConvexResult | None = None
    notes: list = field(default_factory=list)

    @property
    def best_lower(self) -> Bound:
        return max(self.lower, key=lambda bd: bd.value)

    @property
    def best_upper(self) -> Bound:
        return min(self.upper, key=lambda bd: bd.value)

    @property
    def rel_gap(self) -> float:
        """(best upper − best lower) / best upper."""
        up = self.best_upper.value
        return (up - self.best_lower.value) / max(abs(up), 1e-300)

    def consistent(self, rtol: float = 0.0) -> bool:
        """True when every lower bound is ≤ every upper bound (up to ``rtol`` relative)."""
        up = self.best_upper.value
        return all(bd.value <= up + rtol * abs(up) for bd in self.lower)

    def bracket(self) -> str:
        """The chain lower ≤ min F_λ ≤ min J ≤ upper (λ of the tightest relaxation) and the bracket on min J."""
        lo, up = self.best_lower, self.best_upper
        chain = ""
        if self.sweep:
            top = max(self.sweep, key=lambda s: s.lower)
            chain = (f"{top.lower:.6g} ≤ min F_λ(λ={_fmt_lam(top.lam)}) ≤ {top.upper:.6g};  "
                     f"min F_λ ≤ min J;  ")
        return (f"{chain}{lo.value:.6g} ({lo.provenance}) ≤ min J ≤ {up.value:.6g} ({up.provenance}); "
                f"relative gap {format_gap(self.rel_gap)}")

    def table(self) -> str:
        """The report as plain-text tables: bounds with provenance, bracket, λ sweep."""
        out = [f"network {self.sizes} (ReLU, squared loss), m = {self.m} samples, rho = {self.rho}", ""]
        head = f"{'bound':<6} {'value':>12}  {'on':<16} {'provenance':<44} {'status':<11} {'time':>8}"
        out += [head, "-" * len(head)]
        for bd in sorted(self.lower, key=lambda b: b.value) + sorted(self.upper, key=lambda b: b.value):
            on = bd.quantity if bd.lam is None else f"min F_λ, λ={_fmt_lam(bd.lam)}"
            t = f"{bd.time:.2f}s" if bd.time else ""
            out.append(f"{bd.side:<6} {bd.value:>12.6g}  {on:<16} {bd.provenance[:44]:<44} {bd.status:<11} {t:>8}")
        out += ["", "bracket: " + self.bracket()]
        if self.sweep:
            out += ["", f"{'λ':>8} {'min F_λ ≥':>12} {'min F_λ ≤':>12} {'gap':>9} {'status':<11} {'time':>8}"]
            for s in self.sweep:
                g = (s.upper - s.lower) / max(abs(s.upper), 1e-300)
                out.append(f"{_fmt_lam(s.lam):>8} {s.lower:>12.6g} {s.upper:>12.6g} {g:>9.2e} {s.status:<11} "
                           f"{s.time:>7.2f}s")
        if self.convex is not None:
            c = self.convex
            lo = "none" if c.lower is None else f"{c.lower:.10g}"
            out += ["", f"convex reference: certified lower bound {lo}, solver value {c.value:.10g} over "
                        f"{c.n_patterns} patterns, recovered network "
                        f"needs {c.n_active} units (width {c.width}): "
                        + ("exact, min J = optimum" if c.exact else "width too small, lower bound only")
                        + f"; J(recovered) = {c.J_recovered:.8g}"]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def plot(self, path):
        """Save a plot of the bounds against λ (log x axis) to ``path`` (matplotlib, Agg backend)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        if self.sweep:
            lams = [s.lam for s in self.sweep]
            ax.plot(lams, [s.lower for s in self.sweep], "o-", label="min F_λ ≥ (SCIP dual bound)")
            ax.plot(lams, [s.upper for s in self.sweep], "x--", label="min F_λ ≤ (best point, judged)")
        up = self.best_upper
        ax.axhline(up.value, color="k", lw=1.2, label=f"min J ≤ {up.value:.5g} (best upper)")
        if self.standard is not None:
            ax.axhline(self.standard.dual, color="tab:red", ls=":", lw=1.5,
                       label=f"min J ≥ {self.standard.dual:.5g} (SCIP)")
        if self.convex is not None and self.convex.lower is not None:
            ax.axhline(self.convex.lower, color="tab:green", ls="-.", lw=1.2,
                       label=f"min J ≥ {self.convex.lower:.5g} (convex, certified dual)")
        ax.set_xscale("log")
        ax.set_xlabel("λ (Lagrange multiplier of the divergence constraint)")
        ax.set_ylabel("objective value")
        ax.set_title(f"bounds on min J, network {self.sizes}, m = {self.m}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def format_gap(gap: float) -> str:
    """A relative gap for display; |gap| < 1e-7 (the accuracy of the convex solver, which can put a lower
    bound a hair above an upper one) is shown as "< 1e-7"."""
    return "< 1e-7" if abs(gap) < 1e-7 else f"{gap:.1e}"


def _fmt_lam(lam) -> str:
    return f"{lam:g}"


def certify(net, X0, y, lams=(0.1, 1.0, 10.0, 100.0), upper_providers=None, time_limit: float = 60.0,
            gap: float = 1e-3, standard: bool = True, convex: bool | None = None, progress: bool = False,
            seed: int = 0, allow_large: bool = False) -> CertifyReport:
    """Bracket min J of a tiny network (module docstring).

    Parameters
    ----------
    net, X0, y : the problem (``net`` gives sizes ``[d, n, 1]``, ReLU, squared loss, ρ; its λ is not used).
    lams : multipliers of the λ sweep (each > 0); may be empty.
    upper_providers : list of callables ``provider(net, X0, y) -> list[UpperBound]`` (default:
        ``[lbfgs_provider(starts=5), bcd_provider(starts=2)]``: backprop and lifted BCD); every value is re-judged by ``net.objective``.
    time_limit : seconds per SCIP solve (min J and each λ); ``gap`` : SCIP's relative gap limit.
    standard : also solve min J by SCIP; ``convex`` : the convex reference (True: required, raising
        when the patterns are too many; None: when enumerable; False: skipped).
    progress : show a tqdm progress bar on stderr.
    """
    problem = check_problem(net, X0, y, need_lam=False, allow_large=allow_large)
    check_scope(problem)
    require_scip()
    lams = [float(v) for v in np.atleast_1d(np.asarray(lams, dtype=float))] if len(lams) else []
    if any(not (math.isfinite(v) and v > 0) for v in lams):
        raise ValueError(f"lams: expected multipliers > 0, got {lams}")
    providers = ([lbfgs_provider(starts=5, seed=seed), bcd_provider(starts=2, seed=seed)]
                 if upper_providers is None else list(upper_providers))
    if not providers:
        raise ValueError("upper_providers: expected at least one provider (an incumbent bounds the search space)")
    net, X0, yv = problem.net, problem.X0, problem.y
    rep = CertifyReport(sizes=list(net.sizes), m=problem.m, rho=net.rho.tolist())
    from tqdm.auto import tqdm

    steps = len(providers) + (convex is not False) + bool(standard) + len(lams)
    bar = tqdm(total=steps, disable=not progress, file=sys.stderr, desc="certify", leave=False)
    try:
        ups = []
        for prov in providers:
            bar.set_postfix_str(getattr(prov, "__name__", "upper bounds"))
            for ub in prov(net, X0, yv):
                if not isinstance(ub, UpperBound):
                    raise TypeError(f"upper_providers: a provider returned {type(ub).__name__}, expected UpperBound")
                J = net.objective(X0, yv, ub.W, ub.b)  # the single judge
                ups.append(UpperBound(J, ub.provenance, ub.W, ub.b, ub.info))
                rep.upper.append(Bound("upper", J, "min J", ub.provenance))
            bar.update()
        inc = min(ups, key=lambda u: u.value)
        incumbent = (inc.W, inc.b)
        if convex is not False:
            bar.set_postfix_str("convex reference")
            try:
                cres = convex_reference(net, X0, yv, allow_large=allow_large)
            except ValueError as e:
                if convex:
                    raise
                rep.notes.append(f"convex reference skipped: {e}")
                cres = None
            if cres is not None:
                rep.convex = cres
                if cres.lower is not None:  # the certified dual bound, not the solver's primal value (issue 13)
                    rep.lower.append(Bound("lower", cres.lower, "min J", "convex reformulation, certified dual",
                                           status=cres.status, time=cres.time))
                else:
                    rep.notes.append(f"convex reference: {cres.lower_provenance}")
                if cres.exact:
                    rep.upper.append(Bound("upper", cres.J_recovered, "min J", "network recovered from convex",
                                           status=cres.status))
            bar.update()
        if standard:
            bar.set_postfix_str("SCIP min J")
            sres = solve_standard(net, X0, yv, incumbent=incumbent, time_limit=time_limit, gap=gap, seed=seed,
                                  allow_large=allow_large)
            rep.standard = sres
            rep.lower.append(Bound("lower", sres.dual, "min J", "SCIP dual bound, complementarity model",
                                   status=sres.status, time=sres.time))
            rep.upper.append(Bound("upper", sres.judged, "min J", "SCIP best point (polished)",
                                   status=sres.status, time=sres.time))
            bar.update()
        for lam in lams:
            bar.set_postfix_str(f"SCIP min F_λ, λ={lam:g}")
            r = solve_relaxation(net, X0, yv, lam=lam, incumbent=incumbent, time_limit=time_limit, gap=gap,
                                 seed=seed, allow_large=allow_large)
            rep.sweep.append(SweepPoint(lam, r.dual, r.judged, r.status, r.time, r))
            rep.lower.append(Bound("lower", r.dual, "min F_lambda", "SCIP dual bound, Fenchel relaxation",
                                   lam=lam, status=r.status, time=r.time))
            bar.update()
    finally:
        bar.close()
    return rep

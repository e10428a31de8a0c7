r"""Brackets on the optimal training loss of a tiny network: :func:`certify` and its report.

For a problem that :func:`~fenchel_cvx.certify.check_problem` accepts (network ``[d, n1, (n2,) k]``,
data X0 d x m, targets y) :func:`certify` collects

* **upper bounds** on min J from *upper-bound providers* — callables ``provider(net, X0, y) ->
  list[UpperBound]`` (default: backprop L-BFGS from several starts and full-batch lifted BCD) — and
  from SCIP's best points; every value is re-judged by ``FenchelNetwork.objective`` (the single judge);
* **lower bounds** on min J from *lower-bound providers* — callables
  ``provider(net, X0, y, incumbent) -> list[LowerBound | UpperBound]`` (``incumbent``: the best
  :class:`~fenchel_cvx.certify.UpperBound` so far). Built in (:mod:`fenchel_cvx.certify.lower`):
  :func:`scip_standard_provider` (SCIP's dual bound on min J, valid up to SCIP's feasibility tolerance),
  :func:`convex_dual_provider` (the certified dual bound of the convex reformulation of two-layer ReLU networks,
  which rests on the oracle that bounded S(λ) — exact, SDP or SCIP — plus the recovered network as an upper
  bound when it fits the width) and
  :func:`convex_primal_provider` (the same reformulation solved by CLARABEL over all enumerated patterns:
  its *primal* value is listed for information, never used as a bound). Both SCIP and the convex dual
  provider are the default where they apply; any other bound plugs in as a provider returning
  ``LowerBound(..., certified=True, rests_on="...")``;
* a **λ sweep** of the relaxation (SCIP's dual bound on min F_λ for each λ; weak duality makes each one a
  lower bound on min J), and optionally the **Lagrangian dual** with one multiplier per sample
  (:mod:`fenchel_cvx.certify.scip.lagrangian`);

so that   lower ≤ min F_λ ≤ min J ≤ upper,   each number with its provenance and what it rests on.

**Honest brackets.** Only bounds with ``certified=True`` enter the bracket. Its gap is
max(upper − lower, 0)/|upper|; if a lower bound exceeds the best upper bound (possible only through
the tolerances a lower bound rests on — SCIP's feasibility tolerance — or a bug), both numbers are
shown with the overshoot and its explanation (:attr:`Bracket.note`), never a negative gap, and an
overshoot larger than :data:`OVERLAP_RTOL` makes :meth:`CertifyReport.consistent` false.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .envelope import SweepEnvelope, sweep_envelope
from .lower import (
    CONVEX_DUAL_RESTS_ON,
    CONVEX_DUAL_SCIP_RESTS_ON,
    CONVEX_DUAL_SDP_RESTS_ON,
    Bound,
    LowerBound,
    convex_dual_provider,
    convex_primal_provider,
    convex_upper_label,
    scip_standard_provider,
    vector_dual_provider,
)
from .problem import ScopeError, check_problem, global_size_excess, relative_gap, require_scip
from .scip.solve import GlobalResult, solve_relaxation
from .upper import UpperBound, bcd_provider, lbfgs_provider

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Bound", "LowerBound", "SweepPoint", "SweepEnvelope", "sweep_envelope", "Bracket", "CertifyReport",
           "certify", "format_gap", "scip_standard_provider", "convex_primal_provider", "convex_dual_provider",
           "vector_dual_provider", "CONVEX_DUAL_RESTS_ON", "CONVEX_DUAL_SCIP_RESTS_ON", "CONVEX_DUAL_SDP_RESTS_ON",
           "OVERLAP_RTOL", "UPPER_RESTS_ON", "DEFAULT_LAMS"]

#: The largest relative overshoot of a lower bound over an upper bound that SCIP's tolerances
#: (feasibility 1e-8 on the scaled constraints, LP dual feasibility 1e-7) are taken to explain; beyond it
#: the report is flagged inconsistent.
OVERLAP_RTOL = 1e-6
UPPER_RESTS_ON = "J of a network, evaluated in float64 by FenchelNetwork.objective (any network bounds min J above)"


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
class Bracket:
    """lower ≤ min J ≤ upper with the two bounds that make it; ``gap`` = max(upper − lower, 0)/|upper|."""

    lower: Bound
    upper: Bound

    @property
    def overlap(self) -> float:
        """max(lower − upper, 0): by how much the lower bound overshoots (0 for a proper bracket)."""
        return max(self.lower.value - self.upper.value, 0.0)

    @property
    def gap(self) -> float:
        return relative_gap(self.lower.value, self.upper.value)

    @property
    def consistent(self) -> bool:
        """True unless the lower bound overshoots by more than :data:`OVERLAP_RTOL` (relative)."""
        return self.overlap <= OVERLAP_RTOL * max(abs(self.upper.value), 1e-300)

    @property
    def note(self) -> str:
        """Empty for a proper bracket; else both numbers and why the lower one can sit above."""
        if self.overlap == 0.0:
            return ""
        rel = self.overlap / max(abs(self.upper.value), 1e-300)
        why = (f"within what the lower bound rests on ({self.lower.rests_on}): the two bounds agree to {rel:.1e} "
               "relative, the gap is reported as 0" if self.consistent else
               f"MORE than the tolerance it rests on ({self.lower.rests_on}) explains (> {OVERLAP_RTOL:g}): one of the "
               "two numbers is wrong")
        return (f"the lower bound {self.lower.value:.10g} ({self.lower.provenance}) exceeds the upper bound "
                f"{self.upper.value:.10g} ({self.upper.provenance}) by {self.overlap:.2e}, {why}")


@dataclass
class CertifyReport:
    """What :func:`certify` returns (see the module docstring). ``lower`` and ``upper`` list every bound,
    ``info`` the uncertified numbers (e.g. a convex primal value), ``dual`` the Lagrangian dual ascent."""

    sizes: list
    m: int
    rho: list
    kind: str = ""
    lower: list = field(default_factory=list)
    upper: list = field(default_factory=list)
    info: list = field(default_factory=list)
    sweep: list = field(default_factory=list)
    standard: GlobalResult | None = None
    convex: object | None = None
    convex_certificate: object | None = None
    dual: object | None = None
    notes: list = field(default_factory=list)
    cpu_time: float = 0.0  # CPU seconds of this process for the whole of certify() (training, bounds, sweep, dual)

    @property
    def certified_lower(self) -> list:
        return [bd for bd in self.lower if bd.certified]

    @property
    def best_lower(self) -> Bound:
        """The largest certified lower bound (a trivial 0 from J ≥ 0 when there is none)."""
        cands = self.certified_lower
        if not cands:
            return Bound("lower", 0.0, "min J", "J ≥ 0 (every term of J is nonnegative)", rests_on="J ≥ 0")
        return max(cands, key=lambda bd: bd.value)

    @property
    def best_upper(self) -> Bound:
        return min(self.upper, key=lambda bd: bd.value)

    @property
    def bracket_(self) -> Bracket:
        return Bracket(self.best_lower, self.best_upper)

    @property
    def rel_gap(self) -> float:
        """max(best upper − best lower, 0) / |best upper| (never negative; see :class:`Bracket`)."""
        return self.bracket_.gap

    def consistent(self, rtol: float = OVERLAP_RTOL) -> bool:
        """True when every certified lower bound is ≤ every upper bound up to ``rtol`` (relative)."""
        up = self.best_upper.value
        return all(bd.value <= up + rtol * abs(up) for bd in self.certified_lower)

    def envelope(self) -> SweepEnvelope:
        """The λ sweep's monotone bracket on min F_λ (:func:`sweep_envelope`, capped by the best upper bound)."""
        return sweep_envelope(self.sweep, self.best_upper.value)

    def bracket(self) -> str:
        """The chain lower ≤ min F_λ ≤ min J ≤ upper (λ of the tightest relaxation) and the bracket on min J."""
        br = self.bracket_
        lo, up = br.lower, br.upper
        chain = ""
        if self.sweep:  # the largest λ carries the running maximum of the lower bounds (min F_λ never decreases)
            env = self.envelope()
            chain = (f"{env.lower[-1]:.6g} ≤ min F_λ(λ={_fmt_lam(env.lam[-1])}) ≤ {env.upper[-1]:.6g};  "
                     f"min F_λ ≤ min J;  ")
        out = (f"{chain}{lo.value:.6g} ({lo.provenance}) ≤ min J ≤ {up.value:.6g} ({up.provenance}); "
               f"relative gap {format_gap(br.gap)}")
        if br.note:
            out += f"  [{br.note}]"
        return out

    def table(self) -> str:
        """The report as plain-text tables: every bound with its provenance and a key to what it rests on (listed
        below the table), the bracket, the λ sweep, the dual ascent, the convex certificate and the notes."""
        out = [f"network {self.sizes} ({self.kind}), m = {self.m} samples, rho = {self.rho}", ""]
        rows = sorted(self.lower, key=lambda b: b.value) + sorted(self.upper, key=lambda b: b.value) + self.info
        keys: dict = {}
        for bd in rows:
            keys.setdefault(bd.rests_on or "(not stated)", f"[{len(keys) + 1}]")
        width = max([len("provenance")] + [len(bd.provenance) + (15 if not bd.certified else 0) for bd in rows])
        head = f"{'bound':<6} {'value':>12}  {'on':<16} {'provenance':<{width}} {'status':<11} {'time':>8}  rests on"
        out += [head, "-" * len(head)]
        for bd in rows:
            on = bd.quantity if bd.lam is None else f"min F_λ, λ={_fmt_lam(bd.lam)}"
            t = f"{bd.time:.2f}s" if bd.time else ""
            side = bd.side if bd.certified else "info"
            prov = bd.provenance + ("" if bd.certified else " (not a bound)")
            out.append(f"{side:<6} {bd.value:>12.6g}  {on:<16} {prov:<{width}} {bd.status:<11} {t:>8}  "
                       f"{keys[bd.rests_on or '(not stated)']}")
        out += ["", "what each bound rests on:"]
        out += [f"  {key} {text}" for text, key in keys.items()]
        out += ["", "bracket: " + self.bracket()]
        if self.sweep:
            env = self.envelope()
            pts = sorted(self.sweep, key=lambda s: s.lam)
            out += ["", "λ sweep (min F_λ never decreases in λ: a lower bound at λ' also holds at every λ ≥ λ', an "
                        "upper bound at every λ ≤ λ')",
                    f"{'λ':>8} {'this solve ≥':>12} {'min F_λ ≥':>12} {'min F_λ ≤':>12} {'gap':>9} {'status':<11} "
                    f"{'time':>8}"]
            for i, s in enumerate(pts):
                g = relative_gap(env.lower[i], env.upper[i])
                src = "" if env.lower_from[i] == s.lam else f"  (≥: the bound at λ={_fmt_lam(env.lower_from[i])})"
                out.append(f"{_fmt_lam(s.lam):>8} {s.lower:>12.6g} {env.lower[i]:>12.6g} {env.upper[i]:>12.6g} "
                           f"{g:>9.2e} {s.status:<11} {s.time:>7.2f}s{src}")
        if self.dual is not None:
            out += ["", self.dual.summary()]
        if self.convex_certificate is not None:
            c = self.convex_certificate
            out += ["", f"two-layer convex certificate: lower bound {c.lower:.10g} on min J for every width "
                        f"({c.lower_provenance}); oracle: {c.oracle}; {c.n_patterns} patterns, {c.rounds} rounds, "
                        f"status {c.status}; "
                        f"the recovered network needs r = {c.n_active} unit{'s' * (c.n_active != 1)} (width n = "
                        f"{c.width}): "
                        + (f"J({convex_upper_label(c)}) = {c.upper:.10g}, an upper bound on min J"
                           if c.n_active <= c.width else
                           f"J(recovered, width {c.n_active}) = {c.upper:.10g} is NOT an upper bound for width "
                           f"{c.width} (not listed)")]
        if self.convex is not None:
            c = self.convex
            out += ["", f"convex reformulation (primal value, not certified): {c.value:.8g} over {c.n_patterns} "
                        f"patterns, recovered network needs {c.n_active} units (width {c.width}): "
                        + ("exact, J(recovered) = " if c.exact else "width too small; J(recovered, wider) = ")
                        + f"{c.J_recovered:.8g}"]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def plot(self, path: str | os.PathLike | None = None, *, ax: Axes | None = None, dpi: int = 120) -> Figure:
        """Plot the bounds against λ (log x axis): the monotone bracket on min F_λ (:meth:`envelope`: the
        running maximum of SCIP's lower bounds, each solve's own bound as an open marker), the bracket on
        min J, and the per-sample dual's certified bound. Draws on ``ax`` (a matplotlib axes) when given, otherwise
        on a new ``matplotlib.figure.Figure`` not registered with pyplot (no backend is selected, no window
        opens); saves to ``path`` (PNG, ``dpi``) when given; returns the figure."""
        from matplotlib.figure import Figure

        if ax is None:
            fig = Figure(figsize=(6.4, 4.2))
            ax = fig.subplots()
        elif not hasattr(ax, "plot") or not hasattr(ax, "figure"):
            raise TypeError(f"ax: expected a matplotlib Axes, got {type(ax).__name__}")
        else:
            fig = ax.figure
        if self.sweep:
            env = self.envelope()
            ax.plot(env.lam, env.raw_lower, "o", mfc="none", color="tab:blue", alpha=0.6,
                    label="SCIP dual bound of each solve")
            ax.plot(env.lam, env.lower, "-", drawstyle="steps-post", color="tab:blue",
                    label="min F_λ ≥ (running max over λ' ≤ λ: min F_λ never decreases)")
            ax.plot(env.lam, env.upper, "x--", color="tab:green", label="min F_λ ≤ (best point at λ' ≥ λ, judged)")
        br = self.bracket_
        ax.axhline(br.upper.value, color="k", lw=1.2,
                   label=f"min J ≤ {br.upper.value:.5g} ({br.upper.provenance[:28]})")
        if self.certified_lower:
            ax.axhline(br.lower.value, color="tab:red", ls=":", lw=1.5,
                       label=f"min J ≥ {br.lower.value:.5g} ({br.lower.provenance[:28]})")
        if self.dual is not None and self.dual.iterates:
            ax.plot([self.dual.lam], [self.dual.best_lower], "*", ms=13, color="tab:purple",
                    label=f"per-sample dual ≥ {self.dual.best_lower:.5g} (same budget)")
        if self.sweep:
            ax.set_xscale("log")
        ax.set_xlabel("λ (Lagrange multiplier of the divergence constraint)")
        ax.set_ylabel("objective value")
        ax.set_title(f"bounds on min J, network {self.sizes}, m = {self.m}")
        ax.legend(fontsize=7)
        if path is not None:
            fig.savefig(path, dpi=dpi, bbox_inches="tight")
        return fig

    def to_dict(self) -> dict:
        """JSON-ready numbers: every bound with provenance and what it rests on, the sweep, the bracket, the dual
        ascent, the two-layer convex certificate and the notes."""
        br = self.bracket_

        def row(b):
            return {"side": b.side, "value": b.value, "quantity": b.quantity, "lam": b.lam, "provenance": b.provenance,
                    "rests_on": b.rests_on, "certified": b.certified, "status": b.status, "time": b.time}

        return {"sizes": self.sizes, "m": self.m, "rho": self.rho, "kind": self.kind,
                "bounds": [row(b) for b in self.lower + self.upper], "info": [row(b) for b in self.info],
                "sweep": [{"lam": s.lam, "lower": s.lower, "upper": s.upper, "status": s.status, "time": s.time}
                          for s in self.sweep],
                "sweep_envelope": _envelope_rows(self.envelope()) if self.sweep else [],
                "bracket": {"lower": br.lower.value, "lower_from": br.lower.provenance, "upper": br.upper.value,
                            "upper_from": br.upper.provenance, "rel_gap": br.gap, "overlap": br.overlap,
                            "note": br.note},
                "dual": self.dual.to_dict() if self.dual is not None else None,
                "convex_certificate": _convex_summary(self.convex_certificate), "notes": list(self.notes),
                "cpu_time": self.cpu_time}


def _envelope_rows(env: SweepEnvelope) -> list:
    return [{"lam": float(env.lam[i]), "lower": float(env.lower[i]), "lower_from_lam": float(env.lower_from[i]),
             "upper": float(env.upper[i])} for i in range(len(env.lam))]


def _convex_summary(c) -> dict | None:
    """The numbers of a two-layer convex certificate for :meth:`CertifyReport.to_dict`."""
    if c is None:
        return None
    return {"lower": c.lower, "lower_provenance": c.lower_provenance, "upper_recovered": c.upper,
            "units": c.n_active, "width": c.width, "exact": c.exact, "patterns": c.n_patterns, "rounds": c.rounds,
            "converged": c.converged, "status": c.status, "time": c.time, "notes": list(c.notes),
            "oracle": getattr(c, "oracle", "")}


def format_gap(gap: float) -> str:
    """A relative gap (≥ 0) for display."""
    return f"{gap:.1e}" if gap > 0 else "0"


def _fmt_lam(lam) -> str:
    return f"{lam:g}"


#: the λ sweep of :func:`certify` when ``lams`` is None
DEFAULT_LAMS = (0.1, 1.0, 10.0, 100.0)


def certify(net, X0, y, lams=None, upper_providers=None, lower_providers=None,
            time_limit: float = 60.0, gap: float = 1e-3, standard: bool | None = None, convex: bool | None = None,
            dual: dict | None = None, progress: bool = False, seed: int = 0, allow_large: bool = False,
            model: str = "auto") -> CertifyReport:
    """Bracket min J of a tiny network (module docstring).

    Parameters
    ----------
    net, X0, y : the problem (any architecture, activation and loss :func:`~fenchel_cvx.certify.check_problem`
        accepts; the network's λ is not used).
    lams : multipliers of the λ sweep (each > 0, one per layer alike); may be empty; None: :data:`DEFAULT_LAMS`.
    upper_providers : callables ``provider(net, X0, y) -> list[UpperBound]`` (default:
        ``[lbfgs_provider(starts=5), bcd_provider(starts=2)]``); every value is re-judged by ``net.objective``.
    lower_providers : callables ``provider(net, X0, y, incumbent) -> list`` of :func:`LowerBound` /
        :class:`UpperBound` items (other objects are kept as raw results); default: SCIP on min J
        (``standard``) and the certified dual bound of the two-layer convex reformulation
        (:func:`convex_dual_provider`; ``convex``: True required, None when applicable, False skipped), and
        for ``[d, n, 2]`` ReLU squared-loss networks the vector dual bound at the incumbent's residual
        (:func:`vector_dual_provider`; skipped with ``convex=False``).
    time_limit : CPU seconds per SCIP solve (min J, each λ, each dual iterate) and for the two-layer convex
        certificate; ``gap`` : SCIP's relative gap limit.
    dual : keyword arguments of :func:`~fenchel_cvx.certify.dual_ascent` (e.g. ``{"lam": 1.0, "iters": 5}``)
        to also maximise the Lagrangian dual with one multiplier per sample at the budget of that λ.
    progress : show a tqdm progress bar on stderr; ``model`` : SCIP model ("auto", "unit", "direct").
    allow_large : lift the size limits :data:`~fenchel_cvx.certify.GLOBAL_LIMITS` of the SCIP solves and those of
        the convex certificate. Without SCIP in the run (``standard=False``, no ``lams``, no ``dual``: e.g. the
        convex certificate alone at hundreds of samples) the global limits do not apply and SCIP need not be installed.
        ``standard`` left at None and ``lams`` at None or empty on a problem beyond those limits, with the convex
        certificate applicable and no ``dual``/``lower_providers``: SCIP is skipped (a note says so) and the convex
        certificate answers; SCIP asked for explicitly (``standard=True``, λ values, ``dual``) is refused there.
    """
    cpu0 = time.process_time()
    from .twolayer import out_of_scope

    over = {} if allow_large else global_size_excess(net, X0)
    skip_scip = (bool(over) and (lams is None or not len(lams)) and standard is None and dual is None
                 and lower_providers is None and convex is not False and not out_of_scope(net))
    lams, standard = ((), False) if skip_scip else (DEFAULT_LAMS if lams is None else lams, standard is not False)
    lams = [float(v) for v in np.atleast_1d(np.asarray(lams, dtype=float))] if len(lams) else []
    if any(not (math.isfinite(v) and v > 0) for v in lams):
        raise ValueError(f"lams: expected multipliers > 0, got {lams}")
    # SCIP runs here for min J (default providers), the λ sweep and the dual; other providers check their own sizes
    uses_scip = bool(lams) or dual is not None or (lower_providers is None and standard)
    problem = check_problem(net, X0, y, need_lam=False, allow_large=allow_large or not uses_scip)
    if uses_scip:
        require_scip()
    providers = ([lbfgs_provider(starts=5, seed=seed), bcd_provider(starts=2, seed=seed)]
                 if upper_providers is None else list(upper_providers))
    if not providers:
        raise ValueError("upper_providers: expected at least one provider (an incumbent bounds the search space)")
    if lower_providers is None:
        lower_providers = []
        if standard:
            lower_providers.append(scip_standard_provider(time_limit, gap, seed, allow_large=allow_large, model=model))
        if convex or (convex is None and not out_of_scope(problem.net)):
            lower_providers.append(convex_dual_provider(time_limit=time_limit, allow_large=allow_large))
        from .vector_dual import vector_dual_applies

        if convex is not False and not vector_dual_applies(problem.net, problem.m, allow_large):
            lower_providers.append(vector_dual_provider(allow_large=allow_large))
    net, X0, yv = problem.net, problem.X0, problem.y
    rep = CertifyReport(sizes=list(net.sizes), m=problem.m, rho=net.rho.tolist(), kind=problem.kind)
    if skip_scip:
        rep.notes.append(f"beyond the global models' sizes ({over} exceeds GLOBAL_LIMITS): SCIP's solve of min J and "
                         "the λ sweep are skipped and the two-layer convex certificate answers (allow_large=True, "
                         "--allow-large, runs them anyway)")
    from tqdm.auto import tqdm

    steps = len(providers) + len(lower_providers) + len(lams) + (dual is not None)
    bar = tqdm(total=steps, disable=not progress, file=sys.stderr, desc="certify", leave=False)
    try:
        ups = []

        def add_upper(ub):
            shapes = ([np.shape(w) for w in ub.W], [np.shape(v) for v in ub.b])
            if shapes != ([w.shape for w in net.W], [v.shape for v in net.b]):
                raise ValueError(f"upper_providers: {ub.provenance!r} returned weights of shapes {shapes}, expected "
                                 f"those of the network {net.sizes}")
            J = net.objective(X0, yv, ub.W, ub.b)  # the single judge
            ups.append(UpperBound(J, ub.provenance, ub.W, ub.b, ub.info))
            rep.upper.append(Bound("upper", J, "min J", ub.provenance, status=str(ub.info.get("status", "")),
                                   time=float(ub.info.get("time", 0.0)), rests_on=UPPER_RESTS_ON))

        for prov in providers:
            bar.set_postfix_str(getattr(prov, "__name__", "upper bounds"))
            for ub in prov(net, X0, yv):
                if not isinstance(ub, UpperBound):
                    raise TypeError(f"upper_providers: a provider returned {type(ub).__name__}, expected UpperBound")
                add_upper(ub)
            bar.update()
        if not ups:
            raise ValueError("upper_providers: the providers returned no upper bound (an incumbent bounds the "
                             "search space)")
        incumbent = min(ups, key=lambda u: u.value)
        if net.bias and bool(np.all(X0 == X0[:, :1])):  # one sample, or all samples identical (issue 22)
            rep.lower.append(LowerBound(0.0, "J >= 0 (nonnegative loss and weight decay)", "the definition of J"))
            rep.notes.append("all samples are identical (or m = 1): every network predicts one constant, so min J = "
                             "min over constant outputs; SCIP's global solves and the λ sweep are skipped (they need "
                             "activation patterns); the two-layer convex certificate answers where it applies")
            lower_providers = [p for p in lower_providers if getattr(p, "__name__", "") == "convex dual bound"]
            lams, dual = [], None
        for prov in lower_providers:
            name = getattr(prov, "__name__", "lower bounds")
            bar.set_postfix_str(name)
            try:
                items = prov(net, X0, yv, incumbent)
            except ScopeError as e:  # e.g. too many samples for the exact dual oracle
                if name in ("convex reformulation", "convex dual bound") and convex is None:
                    rep.notes.append(f"two-layer convex certificate skipped: {e}")
                    items = []
                else:
                    raise
            for it in items:
                if isinstance(it, UpperBound):
                    add_upper(it)
                elif isinstance(it, Bound):
                    if it.side != "lower":
                        raise TypeError("lower_providers: Bound items must be lower bounds (use UpperBound for upper)")
                    (rep.lower if it.certified else rep.info).append(it)
                elif isinstance(it, GlobalResult):
                    rep.standard = it
                elif type(it).__name__ == "ConvexResult":
                    rep.convex = it
                elif type(it).__name__ == "ConvexCertificate":
                    rep.convex_certificate = it
                    rep.notes += [f"two-layer convex certificate: {n}" for n in it.notes]
            incumbent = min(ups, key=lambda u: u.value)
            bar.update()
        for lam in lams:
            bar.set_postfix_str(f"SCIP min F_λ, λ={lam:g}")
            r = solve_relaxation(net, X0, yv, lam=lam, incumbent=(incumbent.W, incumbent.b), time_limit=time_limit,
                                 gap=gap, seed=seed, allow_large=allow_large, model=model)
            rep.sweep.append(SweepPoint(lam, r.dual, r.judged, r.status, r.time, r))
            rep.lower.append(LowerBound(r.dual, f"SCIP dual bound on min F_λ ({r.model} model)", r.rests_on,
                                        quantity="min F_lambda", lam=lam, status=r.status, time=r.time))
            bar.update()
        if dual is not None:
            from .scip.lagrangian import dual_ascent

            bar.set_postfix_str("per-sample dual")
            opts = {"time_limit": time_limit, "gap": gap, "seed": seed, "allow_large": allow_large, "model": model,
                    **dual}
            start = next((s.result for s in rep.sweep if s.lam == opts.get("lam")), None)
            res = dual_ascent(net, X0, yv, incumbent=(incumbent.W, incumbent.b), start=start, **opts)
            rep.dual = res
            rep.lower.append(LowerBound(res.best_lower, f"SCIP dual bound on min F_μ, per-sample μ (mean {res.lam:g})",
                                        res.rests_on, quantity="min F_lambda", status=res.status, time=res.time))
            bar.update()
    finally:
        bar.close()
    br = rep.bracket_
    if br.note:
        rep.notes.append(br.note)
    rep.cpu_time = time.process_time() - cpu0
    return rep

r"""Section ``relaxation``: the relaxation gap vs λ on tiny problems, with certified bounds.

For a few tiny instances (``fenchel_cvx.certify.tiny_regression``: ReLU network d-2-1, squared
loss, weight decay ρ, m samples from a random ReLU teacher, targets standardised) the section
runs ``fenchel_cvx.certify.certify``, which gives

* the best upper bound J_hi on min J (backprop L-BFGS from several starts, SCIP's best point,
  the network recovered from the convex reformulation) and certified lower bounds on min J
  (SCIP's dual bound, valid up to its feasibility tolerance; the convex reformulation's optimum is a
  solver's primal value and is not used as a bound);
* for each λ of a sweep, SCIP's dual bound F_lo (a certified lower bound on min F_λ, hence on
  min J by weak duality) and its best point F_hi ≥ min F_λ.

Every term λ·B(X_{l+1}, W_l X_l) of F_λ is ≥ 0 (Fenchel–Young), so F_λ grows with λ pointwise and
min F_λ is nondecreasing in λ: a certified lower bound at λ' ≤ λ is one at λ, and a point's F_λ''
with λ'' ≥ λ (or J) bounds min F_λ from above. The figure uses these monotone envelopes of SCIP's
bounds (a solve that hit its time limit then borrows the bound of a smaller λ instead of showing
SCIP's looser one), and shows

* left: the relative relaxation gap (min J − min F_λ)/min J against λ, bracketed by
  (J_lo − F_hi)/J_hi ≤ · ≤ (J_hi − F_lo)/J_hi, for each instance (it shrinks as min F_λ ↑ min J);
* right: min F_λ / J_hi with its bracket;

the table lists every number with SCIP's status and time.
"""

from __future__ import annotations

import numpy as np
from _cache import source_fingerprint
from _fig_util import SectionResult, markdown_table, require, save, setup_matplotlib

NAME = "relaxation"
TITLE = "Relaxation gap vs λ on tiny problems (certified bounds, SCIP)"
VERSION = 1
#: library modules whose source is part of every run's cache key
CODE = ("fenchel_cvx.certify", "fenchel_cvx.network", "fenchel_cvx.activations", "fenchel_cvx.losses")

#: FULL: three tiny instances (d-2-1, m = 6 samples; the instances of benchmarks/certify.py with n = 2),
#: 7 values of λ, SCIP limited to 20 s per solve (at most 3 x 8 solves, ≤ 8 minutes of one core; most
#: solves finish in ~5 s on an idle core)
FULL = {"instances": [{"d": 1, "m": 6, "seed": 0}, {"d": 1, "m": 6, "seed": 1}, {"d": 2, "m": 6, "seed": 0}],
        "hidden": 2, "rho": 0.1, "noise": 0.1, "lams": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
        "time_limit": 20.0, "starts": 5}
QUICK = {"instances": [{"d": 1, "m": 4, "seed": 0}], "hidden": 2, "rho": 0.1, "noise": 0.1,
         "lams": [0.1, 10.0], "time_limit": 2.0, "starts": 2}
RUN_KEYS = ("hidden", "rho", "noise", "lams", "time_limit", "starts", "code")


def certify_run(inst: dict, p: dict) -> dict:
    """``certify`` on one tiny instance; returns the numbers the figure and the table need."""
    from fenchel_cvx.certify import certify, lbfgs_provider, tiny_regression

    net, X0, y = tiny_regression(d=inst["d"], hidden=p["hidden"], m=inst["m"], rho=p["rho"], seed=inst["seed"],
                                 noise=p["noise"])
    rep = certify(net, X0, y, lams=p["lams"], upper_providers=[lbfgs_provider(starts=p["starts"], seed=inst["seed"])],
                  time_limit=p["time_limit"], seed=inst["seed"])
    std = rep.standard
    return {"J_hi": rep.best_upper.value, "J_hi_from": rep.best_upper.provenance,
            "J_lo": rep.best_lower.value if rep.lower else float("-inf"), "J_lo_from": rep.best_lower.provenance,
            "scip_J": {"dual": std.dual, "status": std.status, "time": std.time} if std is not None else None,
            "convex": ({"value": rep.convex.value,
                        "exact": bool(rep.convex.exact)} if rep.convex is not None else None),
            "sweep": [{"lam": sp.lam, "F_lo": sp.lower, "F_hi": sp.upper, "status": sp.status, "time": sp.time}
                      for sp in rep.sweep],
            "consistent": bool(rep.consistent(1e-6)), "bracket": rep.bracket()}


def envelopes(res: dict):
    """(λ, lower, upper, status) of min F_λ over the sweep, sorted by λ: lower = running max of SCIP's dual
    bounds over λ' ≤ λ, upper = running min of its best points over λ'' ≥ λ and J_hi (min F_λ is
    nondecreasing in λ and ≤ min J; module docstring)."""
    sw = sorted(res["sweep"], key=lambda r: r["lam"])
    lams = np.array([r["lam"] for r in sw])
    lo = np.maximum.accumulate(np.array([r["F_lo"] for r in sw]))
    hi = np.minimum(np.minimum.accumulate(np.array([r["F_hi"] for r in sw])[::-1])[::-1], res["J_hi"])
    return lams, lo, hi, [r["status"] for r in sw]


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    require("pyscipopt", (), "SCIP for the global bounds (the 'global' extra: pip install 'fenchel-cvx[global]')")
    require("fenchel_cvx.certify", ("certify", "lbfgs_provider", "tiny_regression"), "certificates (issue 6)")
    p = {**(QUICK if quick else FULL), "code": source_fingerprint(*CODE)}
    base = {k: p[k] for k in RUN_KEYS}
    results = []
    for inst in p["instances"]:
        tag = f"d{inst['d']}-m{inst['m']}-s{inst['seed']}"
        res = cache.run(NAME, f"certify-{tag}", {**base, "inst": inst}, lambda inst=inst: certify_run(inst, p), VERSION)
        results.append((inst, tag, res))

    plt = setup_matplotlib()
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.6))
    rows = []
    floor = 1e-4  # log-scale floor of the gap bracket (its lower end may be ≤ 0: J_lo ≤ F_hi)
    ys_lo = []
    for k, (inst, tag, res) in enumerate(results):
        color = f"C{k}"
        lams, lo, hi, status = envelopes(res)
        J_hi, J_lo = res["J_hi"], res["J_lo"]
        gap_hi, gap_lo = (J_hi - lo) / J_hi, (J_lo - hi) / J_hi
        label = f"d = {inst['d']}, m = {inst['m']}, seed {inst['seed']} (min J = {J_hi:.3f})"
        ok = np.array([st == "optimal" for st in status])
        ys_lo.append(float(np.maximum(gap_lo, floor).min()))
        for ax, y_hi, y_lo in ((axes[0], np.maximum(gap_hi, floor), np.maximum(gap_lo, floor)),
                               (axes[1], lo / J_hi, hi / J_hi)):
            ax.fill_between(lams, y_lo, y_hi, color=color, alpha=0.25, lw=0)
            main = y_hi if ax is axes[0] else y_lo
            ax.plot(lams, main, "-", color=color, label=label)
            ax.plot(lams[ok], main[ok], "o", color=color, ms=6)
            ax.plot(lams[~ok], main[~ok], "o", mfc="white", mec=color, ms=6)
        for r, lo_r, hi_r in zip(res["sweep"], lo, hi, strict=True):
            rows.append([tag, f"{r['lam']:g}", r["status"], f"{r['time']:.1f}", f"{r['F_lo']:.5f}",
                         f"{lo_r:.5f}", f"{hi_r:.5f}", f"[{J_lo:.5f}, {J_hi:.5f}]",
                         f"{max(J_lo - hi_r, 0.0) / J_hi:.1e} – {(J_hi - lo_r) / J_hi:.1e}"])
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_ylim(bottom=max(floor, 0.5 * min(ys_lo)) if ys_lo else floor)
    axes[0].set_ylabel(r"relaxation gap (min J − min $F_\lambda$) / min J")
    axes[0].set_title("relaxation gap (band: certified bracket)")
    axes[1].axhline(1.0, color="k", lw=1.2)
    axes[1].set_xscale("log")
    axes[1].set_ylabel(r"min $F_\lambda$ / min J")
    axes[1].set_title(r"min $F_\lambda$ rises to min J (band: bracket)")
    for ax in axes:
        ax.set_xlabel(r"multiplier $\lambda$ (log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], ls="", marker="o", color="0.3", label="SCIP solved to its gap limit"),
                Line2D([], [], ls="", marker="o", mfc="white", mec="0.3",
                       label=f"SCIP hit its {p['time_limit']:g} s limit (envelope bound)")]
    fig.legend(handles=handles, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.0), fontsize=10.5,
               frameon=False)
    fig.suptitle(f"Fenchel relaxation gap on tiny ReLU networks\n(d-{p['hidden']}-1, squared loss, "
                 f"ρ = {p['rho']:g}, m = {'/'.join(str(m) for m in sorted({i['m'] for i in p['instances']}))} samples; "
                 "certified by SCIP)", fontsize=12.5)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    figs = [save(fig, out_dir, "relaxation_gap_vs_lambda.png")]
    head = ["instance", "λ", "SCIP status (F_λ)", "SCIP s", "SCIP lower bound on min F_λ",
            "certified min F_λ ≥ (envelope)", "min F_λ ≤ (envelope)", "min J bracket",
            "relative relaxation gap (min J − min F_λ)/min J"]
    notes = [f"instances: fenchel_cvx.certify.tiny_regression(d, hidden={p['hidden']}, m, rho={p['rho']:g}, "
             f"seed, noise={p['noise']:g}); upper bounds: best of {p['starts']} L-BFGS trainings, SCIP's best point, "
             "the network recovered from the convex reformulation",
             f"SCIP: time limit {p['time_limit']:g} s per solve, relative gap limit 1e-3; a status 'timelimit' "
             "means SCIP stopped before closing its gap: its lower bound is still certified, only looser",
             "the envelope columns (and the figure) use that min F_λ is nondecreasing in λ and ≤ min J: the lower "
             "bound is the largest SCIP dual bound over λ' ≤ λ, the upper bound the smallest best point over "
             "λ'' ≥ λ (and min J's upper bound)"]
    for _, tag, res in results:
        notes.append(f"{tag}: {res['bracket']}")
    bad = [tag for _, tag, res in results if not res["consistent"]]
    notes.append("every certified lower bound ≤ every upper bound: " + ("yes" if not bad else f"NO ({', '.join(bad)})"))
    return SectionResult(TITLE, figs, markdown_table(head, rows), notes)

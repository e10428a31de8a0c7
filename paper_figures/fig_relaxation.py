r"""Section ``relaxation``: the relaxation gap vs λ on tiny problems, with certified bounds.

For a few tiny instances (``fenchel_cvx.certify.tiny_regression``: ReLU network d-2-1, squared
loss, weight decay ρ, m samples from a random ReLU teacher, targets standardised) the section
runs ``fenchel_cvx.certify.certify``, which gives

* the best upper bound J_hi on min J (backprop L-BFGS from several starts, SCIP's best point,
  the network recovered from the convex reformulation) and certified lower bounds on min J
  (SCIP's dual bound; the convex reformulation);
* for each λ of a sweep, SCIP's dual bound F_lo (a certified lower bound on min F_λ, hence on
  min J by weak duality) and its best point F_hi ≥ min F_λ.

The figure shows the relative gap (J_hi − F_lo)/J_hi of the certified bound against λ for each
instance (it shrinks as the relaxation tightens, min F_λ ↑ min J) and each instance's bracket
on min F_λ / J_hi; the table lists every number with SCIP's status and time.
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

FULL = {"instances": [{"d": 1, "m": 6, "seed": 0}, {"d": 1, "m": 8, "seed": 1}, {"d": 2, "m": 6, "seed": 2}],
        "hidden": 2, "rho": 0.1, "noise": 0.1, "lams": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
        "time_limit": 30.0, "starts": 5}
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
            "convex": ({"value": rep.convex.value, "exact": bool(rep.convex.exact)} if rep.convex is not None else None),
            "sweep": [{"lam": sp.lam, "F_lo": sp.lower, "F_hi": sp.upper, "status": sp.status, "time": sp.time}
                      for sp in rep.sweep],
            "consistent": bool(rep.consistent(1e-6)), "bracket": rep.bracket()}


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
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    rows = []
    for inst, tag, res in results:
        sw = res["sweep"]
        lams = np.array([r["lam"] for r in sw])
        J_hi = res["J_hi"]
        lo = np.array([r["F_lo"] for r in sw])
        hi = np.minimum(np.array([r["F_hi"] for r in sw]), J_hi)  # F_λ(W, forward W) = J(W): J_hi bounds min F_λ too
        label = f"d = {inst['d']}, m = {inst['m']} (min J ≤ {J_hi:.4f})"
        line, = axes[0].plot(lams, np.maximum((J_hi - lo) / J_hi, 1e-16), "-o", label=label)
        axes[1].fill_between(lams, lo / J_hi, hi / J_hi, color=line.get_color(), alpha=0.25)
        axes[1].plot(lams, lo / J_hi, "-o", color=line.get_color(), label=label)
        axes[1].plot(lams, hi / J_hi, "--", color=line.get_color())
        jlo = res["scip_J"]["dual"] if res["scip_J"] else float("nan")
        for r, h in zip(sw, hi, strict=True):
            rows.append([tag, f"{r['lam']:g}", f"{r['F_lo']:.6g}", f"{h:.6g}", f"{jlo:.6g}", f"{J_hi:.6g}",
                         f"{(J_hi - r['F_lo']) / J_hi:.2e}", r["status"], f"{r['time']:.1f}"])
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel(r"Lagrange multiplier $\lambda$ (log scale)")
    axes[0].set_ylabel(r"(min J − certified lower bound on min $F_\lambda$) / min J")
    axes[0].set_title("relative gap of the certified lower bound")
    axes[0].legend()
    axes[1].axhline(1.0, color="k", lw=1.5, label="min J (upper bound, normalised)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel(r"Lagrange multiplier $\lambda$ (log scale)")
    axes[1].set_ylabel(r"min $F_\lambda$ / min J  (band: certified – best found)")
    axes[1].set_title(r"min $F_\lambda$ ↑ min J as λ grows")
    axes[1].legend(loc="lower right")
    fig.suptitle(f"Fenchel relaxation on tiny ReLU networks (d-{p['hidden']}-1, squared loss, ρ = {p['rho']:g}; "
                 f"SCIP, {p['time_limit']:g} s per solve)", fontsize=12)
    fig.tight_layout()
    figs = [save(fig, out_dir, "relaxation_gap_vs_lambda.png")]
    head = ["instance", "λ", "min F_λ ≥ (certified)", "min F_λ ≤ (best found)", "min J ≥ (certified)",
            "min J ≤ (best found)", "rel. gap (J_hi − F_lo)/J_hi", "SCIP status (F_λ)", "SCIP s"]
    notes = [f"instances: fenchel_cvx.certify.tiny_regression(d, hidden={p['hidden']}, m, rho={p['rho']:g}, "
             f"seed, noise={p['noise']:g}); upper bounds: best of {p['starts']} L-BFGS trainings, SCIP's best point, "
             "the network recovered from the convex reformulation",
             "a status 'timelimit' means SCIP stopped before closing its gap: the lower bound is still certified, "
             "only looser"]
    for _, tag, res in results:
        notes.append(f"{tag}: {res['bracket']}")
    bad = [tag for _, tag, res in results if not res["consistent"]]
    notes.append("every certified lower bound ≤ every upper bound: " + ("yes" if not bad else f"NO ({', '.join(bad)})"))
    return SectionResult(TITLE, figs, markdown_table(head, rows), notes)

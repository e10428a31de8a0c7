r"""Demo 6 -- how far is a trained classifier from the global optimum? A certified bracket on two moons.

A tiny binary classifier (2 inputs, a few hidden ReLU units, 2 outputs with the cross-entropy, weight
decay ρ on every layer; m points of two moons) is trained by backprop (L-BFGS, several starts) and lifted
BCD: each trained network's training loss J is an **upper bound** on the optimum min J. SCIP then solves,
by spatial branch-and-bound,

* min J itself (the binary cross-entropy is the logistic loss of the output difference, so the model is the
  unit-scaled one with sign patterns and an exponential-cone loss);
* the Fenchel relaxation min F_λ for a sweep of λ (weak duality: each is ≤ min J);
* the Lagrangian dual with one multiplier per sample at the budget λ = ``dual_lam`` (the mean multiplier is
  kept at λ; the bundle method moves weight between samples, each step a certified global solve).

Every lower bound is SCIP's dual bound, valid up to its feasibility tolerance (1e-8). The figure shows the
data with the best network's decision boundary, the bounds against λ with the per-sample dual's iterates,
and where the dual puts its multipliers. min F_λ never decreases in λ, so the certified lower bound drawn at
λ is the running maximum of the solves' bounds at λ' ≤ λ (a solve stopped at its time limit can return a
weaker bound than one at a smaller λ; each solve's own bound is an open marker).

    python demos/06_certify_classifier.py [--m 8] [--hidden 3] [--time-limit 20] [--quick] [--out DIR]

At its defaults it takes about 3 CPU-minutes (measured: 193 CPU-s; 18 minutes wall on a shared, heavily
loaded 2-core machine): most SCIP solves of the sweep and of the dual run to their 20 CPU-s limit
(``--time-limit 5`` is faster and gives looser, still certified, bounds).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _demo_util import parse_config  # noqa: E402


@dataclass
class Config:
    """Certified bracket and Lagrangian dual bounds for a tiny two-moons classifier."""

    m: int = 8                      # samples
    hidden: int = 3                 # hidden ReLU units
    data: str = "moons"             # moons or xor
    rho: float = 0.1                # weight decay of every layer (bounds the search space)
    noise: float = 0.1
    lams: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)
    dual_lam: float = 1.0           # budget of the per-sample dual (mean multiplier)
    dual_iters: int = 4             # SCIP solves of the dual ascent after μ ≡ λ
    time_limit: float = 20.0        # SCIP seconds per solve
    starts: int = 5                 # backprop (L-BFGS) starts
    bcd_starts: int = 1             # lifted BCD starts (another trainer for the upper bound)
    seed: int = 0

    def __post_init__(self):
        if self.m < 2 or self.hidden < 1:
            raise ValueError(f"m >= 2 and hidden >= 1 expected, got m={self.m}, hidden={self.hidden}")
        if self.data not in ("moons", "xor"):
            raise ValueError(f"data: expected 'moons' or 'xor', got {self.data!r}")
        if not self.rho > 0:
            raise ValueError(f"rho: the global bounds need weight decay rho > 0, got {self.rho}")
        if any(not (lam > 0 and math.isfinite(lam)) for lam in self.lams) or not self.dual_lam > 0:
            raise ValueError(f"lams, dual_lam: expected positive finite multipliers, got {self.lams}, {self.dual_lam}")
        if not self.time_limit > 0 or self.starts < 1 or self.dual_iters < 0:
            raise ValueError("time_limit > 0, starts >= 1 and dual_iters >= 0 expected")


QUICK = {"m": 4, "hidden": 2, "data": "xor", "lams": (0.3, 1.0), "dual_iters": 1, "time_limit": 2.0, "starts": 2,
         "bcd_starts": 0}


def main(argv=None) -> dict:
    cfg, out = parse_config(Config, QUICK, argv, __doc__.splitlines()[0])
    from matplotlib.figure import Figure

    from fenchel_cvx.certify import bcd_provider, certify, lbfgs_provider, tiny_problem

    net, X0, y = tiny_problem(f"2-{cfg.hidden}-2", loss="cross_entropy", m=cfg.m, rho=cfg.rho, seed=cfg.seed,
                              data=cfg.data, noise=cfg.noise)
    lams = sorted(set(cfg.lams) | {cfg.dual_lam})
    providers = [lbfgs_provider(starts=cfg.starts, seed=cfg.seed)]
    if cfg.bcd_starts:
        providers.append(bcd_provider(starts=cfg.bcd_starts, seed=cfg.seed))
    rep = certify(net, X0, y, lams=lams, upper_providers=providers, time_limit=cfg.time_limit, seed=cfg.seed,
                  dual={"lam": cfg.dual_lam, "iters": cfg.dual_iters})
    print(rep.table())
    br = rep.bracket_
    J_lo, J_hi = br.lower.value, br.upper.value
    print(f"\nevery certified lower bound <= every upper bound on min J: {'yes' if rep.consistent() else 'NO'}")

    fig = Figure(figsize=(16.5, 5.0))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.0, 1.35, 1.0]})
    # (a) data and the decision boundary of the best network found (the upper bound)
    ax = axes[0]
    best = min((u for u in rep.upper), key=lambda u: u.value)
    W, b = _best_weights(rep, net, X0, y)
    g = np.linspace(X0.min() - 0.6, X0.max() + 0.6, 200)
    G1, G2 = np.meshgrid(g, g)
    Z = net.forward(np.vstack([G1.ravel(), G2.ravel()]), W, b)[1]
    margin = (Z[0] - Z[1]).reshape(G1.shape)
    ax.contourf(G1, G2, margin, levels=[-1e9, 0, 1e9], colors=["tab:orange", "tab:blue"], alpha=0.15)
    ax.contour(G1, G2, margin, levels=[0], colors="k", linewidths=1.2)
    for c, col in ((0, "tab:blue"), (1, "tab:orange")):
        sel = y == c
        ax.scatter(X0[0, sel], X0[1, sel], c=col, edgecolors="k", s=60, label=f"class {c}")
    ax.set_title(f"data and the best network (J = {best.value:.4f}, gap ≤ {100 * br.gap:.2g}%)")
    ax.legend(loc="best")
    # (b) bounds against λ, the bracket on min J, the per-sample dual at its budget
    ax = axes[1]
    # min F_λ never decreases in λ: a lower bound at λ' holds at every λ ≥ λ' (running maximum), an upper bound
    # at every λ ≤ λ' (running minimum from the right)
    env = rep.envelope()
    lam, lo, up = env.lam, env.lower, env.upper
    ax.fill_between(lam, lo, up, step="post", color="tab:blue", alpha=0.2,
                    label=r"bracket on min $F_\lambda$ (scalar λ)")
    ax.plot(lam, lo, "-", drawstyle="steps-post", color="tab:blue",
            label=r"certified min $F_\lambda$ ≥ (running max: min $F_\lambda$ never decreases in λ)")
    ax.plot(lam, env.raw_lower, "o", mfc="none", color="tab:blue", label="SCIP dual bound of each solve")
    ax.axhspan(J_lo, J_hi, color="tab:red", alpha=0.2)
    ax.axhline(J_hi, color="tab:red", lw=2, label=f"min J ∈ [{J_lo:.4f}, {J_hi:.4f}]")
    d = rep.dual
    its = [it["lower"] for it in d.iterates]
    ax.plot([d.lam] * len(its), its, "_", color="tab:purple", ms=18, mew=2,
            label="per-sample dual iterates (certified)")
    ax.plot([d.lam], [d.best_lower], "*", color="tab:purple", ms=16,
            label=f"per-sample dual: {d.best_lower:.4f} (scalar {d.scalar_lower:.4f})")
    ax.set_xscale("log")
    ax.set_xlabel(r"multiplier $\lambda$ (per-sample dual: mean multiplier)")
    ax.set_ylabel("objective value")
    ax.set_title("lower bounds on min J (all certified by SCIP, feastol 1e-8)")
    ax.legend(loc="upper left", fontsize=8)
    # (c) where the dual puts its multipliers
    ax = axes[2]
    mu = d.best_mu[0][0]
    sc = ax.scatter(X0[0], X0[1], c=mu, s=80 + 220 * mu / mu.max(), cmap="viridis", edgecolors="k")
    fig.colorbar(sc, ax=ax, label=r"$\mu_j$ (mean = λ)")
    ax.set_title(f"per-sample multipliers of the best dual iterate (λ = {d.lam:g})")
    for a in axes:
        a.grid(alpha=0.3)
    fig.suptitle(f"How far from the global optimum? 2-{cfg.hidden}-2 ReLU classifier, cross-entropy, ρ = {cfg.rho:g}, "
                 f"m = {cfg.m} ({cfg.data}); SCIP ≤ {cfg.time_limit:g} s per solve", fontsize=12)
    fig.tight_layout()
    path = os.path.join(out, "06_certify_classifier.png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"saved {path}")
    print(f"\nReading the picture: the trained classifier is within {100 * br.gap:.2g}% of the global optimum "
          f"(certified); the per-sample dual gains {d.best_lower - d.scalar_lower:.3g} over the scalar λ = {d.lam:g} "
          "at the same multiplier budget.")
    return {"config": cfg, "report": rep, "bracket": (J_lo, J_hi), "dual": d, "envelope": env, "files": [path]}


def _best_weights(rep, net, X0, y):
    """Weights of the best upper bound: SCIP's point for min J or a retrained L-BFGS start (re-judged)."""
    best = rep.best_upper
    if rep.standard is not None and rep.standard.judged <= best.value * (1 + 1e-12):
        return rep.standard.W, rep.standard.b
    from fenchel_cvx.certify import lbfgs_train

    cands = [lbfgs_train(net, X0, y, seed=s) for s in range(3)]
    W, b, _, _ = min(cands, key=lambda c: c[2])
    return W, b


if __name__ == "__main__":
    main()

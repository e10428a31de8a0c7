"""Issue 21: how tight is the Shor + RLT SDP bound on the dual oracle S(λ), against SCIP's, at a real dual point?

For one data set of ``benchmarks/certify_realdata.py`` (same problem: features standardised, ρ = 0.01, width 100):

1. run ``convex_certificate`` with a short CPU limit and record the λ of its last SCIP certification (the
   search-scaled point λ_t of ``dual._scip_certificate``: the heuristic search finds no unit above the level mβ);
   the λ is cached in ``--cache`` (an .npz) so that a second run skips this step;
2. at λ_t: the search value (a lower estimate of S), the rigorous SDP bound (:func:`sdp_oracle_bound`), SCIP's
   bound (:func:`scip_oracle_bound`, ``--scip-time`` CPU seconds, objective limit mβ), the level mβ;
3. for each upper bound S̄ the certified lower bound on min J it gives: D(cλ_t) − allowance with
   c = argmax_{c ≤ min(1, level/S̄)} D(cλ_t) (:func:`dual.scale_to_level`, as ``certified_dual_bound`` does);
   for the search value this is only what the bound *would* be if the search were exact.

    python experiments/sdp_oracle_bound.py --data diabetes --cert-time 200
    python experiments/sdp_oracle_bound.py --data diabetes --pairs all --eps 1e-4

``--families D M`` instead compares families of valid constraints on random instances (3 seeds, X0 Gaussian d x m,
λ Gaussian made zero-sum): the relaxation's optimum (CLARABEL, primal; not a rigorous bound) against the exact
oracle (d ≤ 2) or the search (d ≥ 4):

    python experiments/sdp_oracle_bound.py --families 2 20      # base, +z_i z_j >= 0, +z_i (z_j - a_j u) >= 0, ...
    python experiments/sdp_oracle_bound.py --families 6 40

Prints one JSON object (also written to ``--out`` when given). Heavy: at m = 442 one SDP sign took ~370 s of one
core and 1.4 GB (SCS, eps 1e-4, all pairs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))

from certify_realdata import DATASETS, load  # noqa: E402

import fenchel_cvx.certify.twolayer.dual as dual  # noqa: E402
from fenchel_cvx.certify.twolayer import TwoLayerProblem, convex_certificate  # noqa: E402
from fenchel_cvx.certify.twolayer.mipbound import scip_oracle_bound  # noqa: E402
from fenchel_cvx.certify.twolayer.sdpbound import sdp_oracle_bound  # noqa: E402
from fenchel_cvx.certify.twolayer.search import search_oracle  # noqa: E402


def dual_point(pb: TwoLayerProblem, name: str, cert_time: float, cache: str) -> np.ndarray:
    """λ_t of the last SCIP certification of a short ``convex_certificate`` run (cached in ``cache``)."""
    if os.path.exists(cache):
        return np.load(cache)["lam"]
    seen = []
    orig = dual.scip_oracle_bound

    def record(X0, lam, *a, **k):
        seen.append(np.array(lam))
        return orig(X0, lam, *a, **k)

    dual.scip_oracle_bound = record
    try:
        loss, target, _ = DATASETS[name]
        convex_certificate(problem=pb, tol=min(target, 1e-7) if target < 1e-3 else target / 10, time_limit=cert_time)
    finally:
        dual.scip_oracle_bound = orig
    if not seen:
        raise RuntimeError("the certificate made no SCIP certification (time limit too short?)")
    np.savez(cache, lam=seen[-1])
    return seen[-1]


def lower_from(pb: TwoLayerProblem, lam: np.ndarray, sbar: float) -> float:
    """The certified lower bound D(cλ) − allowance the upper bound ``sbar`` on S(λ) gives (dual.scale_to_level)."""
    lo, hi = pb.loss.box()
    lam_s, _, _ = dual.scale_to_level(pb, lam, sbar, lo, hi)
    v, a = dual.dual_value(pb.loss, lam_s)
    return v - a


def relaxation_value(A, c, B, M, families, solver="CLARABEL"):
    """max Σ c_j z_j over the moment matrix P = [1 uᵀ zᵀ; u U Yᵀ; z Y Z] ⪰ 0 (u = (w, b), A m x (d+1) with a last
    column of ones) with: P_00 = 1, tr U_ww ≤ 1, U_bb ≤ B², |b| ≤ B, z ≥ 0, z ≥ Au, Z_jj = a_jᵀY_j, Z_jj ≤ M_j z_j,
    and the RLT families named: "box" |Au| ≤ M; "zz" Z ≥ 0; "zr" Z_ij ≥ a_jᵀY_i (all i, j); "zr_opp" the same for
    c_i c_j < 0 only. Returns (value, seconds)."""
    import cvxpy as cp

    m, p = A.shape
    d = p - 1
    n = 1 + p + m
    P = cp.Variable((n, n), PSD=True)
    u, z = P[0, 1:1 + p], P[0, 1 + p:]
    U, Y, Z = P[1:1 + p, 1:1 + p], P[1 + p:, 1:1 + p], P[1 + p:, 1 + p:]
    Au = A @ u
    cons = [P[0, 0] == 1, cp.trace(U[:d, :d]) <= 1, U[d, d] <= B * B, u[d] <= B, u[d] >= -B, z >= 0, z >= Au,
            cp.diag(Z) == cp.sum(cp.multiply(Y, A), axis=1), cp.diag(Z) <= cp.multiply(M, z)]
    if "box" in families:
        cons += [Au <= M, Au >= -M]
    if "zz" in families:
        cons += [Z >= 0]
    if "zr" in families:
        cons += [Z - Y @ A.T >= 0]
    if "zr_opp" in families:
        mask = (np.outer(c > 0, c < 0) | np.outer(c < 0, c > 0)).astype(float)
        cons += [cp.multiply(mask, Z - Y @ A.T) >= 0]
    prob = cp.Problem(cp.Maximize(c @ z), cons)
    t = time.perf_counter()
    prob.solve(solver=solver)
    return float(prob.value), time.perf_counter() - t


def families(d: int, m: int) -> list:
    """The relaxation with several constraint families on 3 random instances (module docstring)."""
    from fenchel_cvx.certify.twolayer.arrangement import data_matrix, dual_oracle
    from fenchel_cvx.certify.twolayer.dual import exact_zero_sum
    from fenchel_cvx.certify.twolayer.mipbound import big_m

    rows = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        X0 = rng.normal(size=(d, m))
        lam = exact_zero_sum(rng.normal(size=m))
        ref = dual_oracle(X0, lam, True).value if d <= 2 else search_oracle(X0, lam, True).value
        A, M = data_matrix(X0, True), big_m(X0)
        B = float(np.linalg.norm(X0, axis=0).max())
        for fam in [(), ("box",), ("box", "zz"), ("box", "zr"), ("box", "zr_opp"), ("box", "zz", "zr")]:
            vals = [relaxation_value(A, s * lam, B, M, fam) for s in (1.0, -1.0)]
            v = max(x[0] for x in vals)
            rows.append(dict(seed=seed, families="+".join(fam) or "base", reference=ref,
                             reference_kind="exact" if d <= 2 else "search", relaxation=v, ratio=v / ref,
                             seconds=sum(x[1] for x in vals)))
            print(f"seed {seed} {rows[-1]['families']:>12}: {rows[-1]['reference_kind']} {ref:.6g}, relaxation "
                  f"{v:.6g} (ratio {v / ref:.4f}), {rows[-1]['seconds']:.1f} s", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="diabetes", choices=sorted(DATASETS))
    p.add_argument("--cert-time", type=float, default=200.0, help="CPU seconds of the convex_certificate run")
    p.add_argument("--cache", help="λ cache (.npz; default /tmp/sdp_oracle_<data>.npz)")
    p.add_argument("--pairs", default="opposite", choices=("all", "opposite"))
    p.add_argument("--eps", type=float, default=1e-4, help="SCS tolerance")
    p.add_argument("--sdp-time", type=float, default=3600.0, help="wall seconds for the SDP (both signs)")
    p.add_argument("--scip-time", type=float, default=60.0, help="CPU seconds for SCIP (both signs)")
    p.add_argument("--out", help="write the JSON here too")
    p.add_argument("--families", nargs=2, type=int, metavar=("D", "M"),
                   help="compare constraint families on random d x m instances instead")
    args = p.parse_args(argv)
    if args.families:
        rows = families(*args.families)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(rows, f, indent=1)
        return rows
    loss = DATASETS[args.data][0]
    X0, y = load(args.data)
    pb = TwoLayerProblem.from_arrays(X0, y, 0.01, loss=loss, width=100, allow_large=True)
    lam = dual_point(pb, args.data, args.cert_time, args.cache or f"/tmp/sdp_oracle_{args.data}.npz")
    level = pb.beta_m_safe
    t = time.perf_counter()
    srch = search_oracle(X0, lam, pb.bias)
    t_search = time.perf_counter() - t
    sdp = sdp_oracle_bound(X0, lam, pb.bias, time_limit=args.sdp_time, eps=args.eps, pairs=args.pairs)
    mip = scip_oracle_bound(X0, lam, pb.bias, level=level, time_limit=args.scip_time) if args.scip_time > 0 else None
    out = dict(data=args.data, d=pb.d, m=pb.m, level=level, search=srch.value, search_time=t_search,
               sdp=sdp.bound, sdp_time=sdp.time, sdp_pairs=args.pairs, sdp_eps=args.eps,
               sdp_signs={k: {kk: (vv if not isinstance(vv, float) else float(vv)) for kk, vv in v.items()}
                          for k, v in sdp.signs.items()},
               scip=None if mip is None else mip.bound, scip_time=None if mip is None else mip.time,
               scip_status=None if mip is None else mip.status,
               lower_if_search_exact=lower_from(pb, lam, srch.value), lower_sdp=lower_from(pb, lam, sdp.bound),
               lower_scip=None if mip is None else lower_from(pb, lam, mip.bound),
               command="python experiments/sdp_oracle_bound.py " + " ".join(sys.argv[1:] if argv is None else argv))
    text = json.dumps(out, indent=1, default=str)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return out


if __name__ == "__main__":
    main()

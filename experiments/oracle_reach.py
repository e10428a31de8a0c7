"""Research script: how far the dual-oracle bounds are from what the d >= 4 targets of issue 21 need.

For a data set of ``benchmarks/certify_realdata.py`` (features standardised, rho = 0.01, width 100) it

1. runs ``convex_certificate`` for ``--cert-time`` CPU-seconds and takes its final dual point, re-scaled by the
   heuristic search alone (``estimated_dual_bound``): D(lambda_t) is what an *exact* oracle could certify there
   at most, against the run's upper bound;
2. prints the Lipschitz scale of the oracle at that point, sum_j |lambda_j| ||x_j||, against the level m*beta
   (a branch-and-bound region of angular radius r is bounded to within about that times r), and the number
   of chambers of the arrangement of the m sample hyperplanes in R^(d+1) (exact enumeration's size):
   2 sum_{k <= d} C(m - 1, k);
3. with ``--scs``: builds the Shor + RLT relaxation of one sign exactly as
   ``fenchel_cvx.certify.twolayer.sdpbound`` does and times CVXPY's compilation, SCS's set-up and
   ``--iters`` SCS iterations separately.

    python experiments/oracle_reach.py --data diabetes --cert-time 200 --scs
    python experiments/oracle_reach.py --data breast_cancer --cert-time 100 --scs --iters 10

Results: ``experiments/FINDINGS.md`` §6a. Nothing here is a bound: it measures why the bounds are loose.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))


def chambers(m: int, p: int) -> int:
    """Upper bound on the number of chambers of m hyperplanes through the origin of R^p: 2 sum_{k<p} C(m-1, k)
    (attained in general position)."""
    return 2 * sum(math.comb(m - 1, k) for k in range(p))


def time_scs(X0: np.ndarray, lam: np.ndarray, iters: int) -> dict:
    """Seconds of CVXPY's compilation, SCS's set-up and ``iters`` SCS iterations on the relaxation of the sign +
    (``sdpbound.relaxation_problem`` with all RLT pairs, as the certificate solves it)."""
    import scs

    from fenchel_cvx.certify.twolayer.sdpbound import _scaled_data, relaxation_problem

    Ahat, M, c, _, _ = _scaled_data(X0, lam, True)
    prob, _, _ = relaxation_problem(Ahat, M, c, True)
    t0 = time.process_time()
    data, _, _ = prob.get_problem_data("SCS")
    t1 = time.process_time()
    dims = data["dims"]
    solver = scs.SCS(dict(A=data["A"], b=data["b"], c=data["c"]), dict(z=dims.zero, l=dims.nonneg, s=list(dims.psd)),
                     eps_abs=1e-4, eps_rel=1e-4, max_iters=iters, verbose=False)
    t2 = time.process_time()
    solver.solve()
    t3 = time.process_time()
    return dict(rows=data["A"].shape[0], cols=data["A"].shape[1], nnz=int(data["A"].nnz), compile=t1 - t0,
                setup=t2 - t1, per_iteration=(t3 - t2) / iters)


def main(argv=None) -> None:
    from certify_realdata import DATASETS, load

    from fenchel_cvx.certify.twolayer import TwoLayerProblem, convex_certificate
    from fenchel_cvx.certify.twolayer.dual import estimated_dual_bound

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="diabetes", choices=sorted(DATASETS))
    ap.add_argument("--cert-time", type=float, default=200.0, help="CPU seconds of the convex_certificate run")
    ap.add_argument("--scs", action="store_true", help="also time the SDP relaxation's compilation and SCS")
    ap.add_argument("--iters", type=int, default=40, help="SCS iterations timed with --scs")
    args = ap.parse_args(argv)
    loss = DATASETS[args.data][0]
    X0, y = load(args.data)
    pb = TwoLayerProblem.from_arrays(X0, y, 0.01, loss=loss, width=100, allow_large=True)
    res = convex_certificate(problem=pb, tol=1e-7, time_limit=args.cert_time)
    lam_c = res.dual.lam / res.dual.scale
    est = estimated_dual_bound(pb, lam_c)
    level = pb.beta_m_safe
    lip = float(np.abs(est.lam) @ np.linalg.norm(X0, axis=0))
    d, m = X0.shape
    print(f"{args.data} (d = {d}, m = {m}): certified [{res.lower:.6g}, {res.upper:.6g}] after {args.cert_time:g} s "
          f"({res.status})")
    print(f"  search-scaled dual point: D = {est.lower:.6g} (the most an exact oracle could certify there), "
          f"relative gap to the upper bound {(res.upper - est.lower) / res.upper:.3g}")
    print(f"  sum_j |lam_j| ||x_j|| = {lip:.4g} = {lip / level:.3g} x the level m*beta = {level:.4g}")
    print(f"  chambers of the arrangement: <= {chambers(m, d + 1):.3e}")
    if args.scs:
        t = time_scs(X0, est.lam, args.iters)
        print(f"  SDP (one sign): A {t['rows']} x {t['cols']}, {t['nnz']} nonzeros; CVXPY compilation "
              f"{t['compile']:.1f} s, SCS set-up {t['setup']:.1f} s, {t['per_iteration']:.3f} s per iteration "
              f"(CPU)")


if __name__ == "__main__":
    main()

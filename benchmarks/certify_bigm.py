"""SCIP's bound on S(λ) with the big-M constants of ``mipbound.big_m`` against the previous ones.

``big_m``: max_k ‖x_j − x_k‖; previous: ‖x_j‖ + max_k ‖x_k‖; on one dual point of a real data set.

The dual point: the residual of a ridge fit on 200 random ReLU features (seed 0), made zero-sum
and scaled by the heuristic search so that no unit it finds exceeds the level mβ
(``estimated_dual_bound``). Both models get the same CPU limit; printed: SCIP's bound / mβ
(≤ 1 would certify the point unscaled).

    python benchmarks/certify_bigm.py diabetes --time-limit 40
    python benchmarks/certify_bigm.py breast_cancer --time-limit 30
"""

import argparse
import time

import numpy as np
from certify_realdata import DATASETS, load

import fenchel_cvx.certify.twolayer.mipbound as mipbound
from fenchel_cvx.certify.twolayer import TwoLayerProblem
from fenchel_cvx.certify.twolayer.dual import estimated_dual_bound


def dual_point(pb: TwoLayerProblem, X0: np.ndarray, y, loss: str) -> np.ndarray:
    """λ (m,) at a ridge fit on random ReLU features, scaled to the level by the search."""
    rng = np.random.default_rng(0)
    Wr, br = rng.normal(size=(200, pb.d)), rng.normal(size=200)
    H = np.hstack([np.maximum(Wr @ X0 + br[:, None], 0.0).T, np.ones((pb.m, 1))])
    yt = np.asarray(y, dtype=np.float64).reshape(-1)
    target = yt if loss == "squared" else 2 * yt - 1
    yhat = H @ np.linalg.solve(H.T @ H + np.eye(H.shape[1]), H.T @ target)
    if loss != "squared":
        yhat = 4 * yhat
    return estimated_dual_bound(pb, pb.loss.grad(yhat)).lam


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(DATASETS))
    p.add_argument("--time-limit", type=float, default=30.0, help="SCIP CPU seconds per model")
    args = p.parse_args(argv)
    loss = DATASETS[args.name][0]
    X0, y = load(args.name)
    pb = TwoLayerProblem.from_arrays(X0, y, 0.01, loss=loss, width=100, allow_large=True)
    lam = dual_point(pb, X0, y, loss)
    level = pb.beta_m_safe
    norms = np.linalg.norm(X0, axis=0)
    tight = mipbound.big_m
    def previous(X, bias=True):
        return norms + norms.max()

    for tag, fn in (("max_k |x_j - x_k|", tight), ("|x_j| + max_k |x_k|", previous)):
        mipbound.big_m = fn
        c0 = time.process_time()
        r = mipbound.scip_oracle_bound(X0, lam, True, level=level, time_limit=args.time_limit)
        print(f"{args.name}: big-M {tag} (mean {fn(X0, True).mean():.3f}): bound / mβ = "
              f"{r.bound / level:.3f}, {r.status}, {r.nodes} nodes, "
              f"{time.process_time() - c0:.1f} CPU-s", flush=True)
    mipbound.big_m = tight


if __name__ == "__main__":
    main()

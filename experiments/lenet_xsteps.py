"""Research script: LeNet-5 on mnist5k with fewer or cheaper X-steps — test accuracy over several seeds.

The shipped conv schedule (``tuned_conv``: the certified FISTA X-steps, at most 5 iterations) against variants of
it given as JSON dicts of :class:`fenchel_cvx.BCDConfig` fields (default: the fixed-budget APG with 2 and with 1
iteration, the cheaper schedules of ``benchmarks/results/epoch_cost_lenet5_round4_optin.md``); each trains
LeNet-5 (float32, batch 500, one thread) from the same initialisation per seed and prints the mean ± std test
accuracy after every epoch and the mean seconds per epoch. Information for a later fair comparison (the test set
chooses nothing here).

    python experiments/lenet_xsteps.py --epochs 6 --seeds 0 1 2

Results: ``experiments/FINDINGS.md`` §2 ("Round 4").
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from fenchel_cvx import data
from fenchel_cvx.comparison import LIFTED, MethodSpec, make_runner, network_factory, shipped_specs


def run(spec: MethodSpec, ds, epochs: int, seeds) -> tuple[np.ndarray, float]:
    """Test accuracy [%] per epoch (seeds x epochs) and the mean seconds per epoch of one schedule."""
    make_net = network_factory("lenet5", ds.n_features, ds.n_classes)
    accs, secs = [], []
    for s in seeds:
        it = make_runner(spec, {}, make_net(s), ds.X_train, ds.y_train, ds.X_test, ds.y_test, epochs=epochs,
                         batch_size=500, seed=s).iterate()
        recs = list(it)[1:]
        accs.append([100 * r["test_acc"] for r in recs])
        secs.append(np.mean([r["epoch_time"] for r in recs]))
    return np.asarray(accs), float(np.mean(secs))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--variant", action="append", default=None,
                   help='JSON dict of BCDConfig fields over the shipped conv schedule (repeatable; default: '
                        '{"x_solver": "apg", "x_iters": 2} and {"x_solver": "apg", "x_iters": 1})')
    args = p.parse_args(argv)
    variants = args.variant or ['{"x_solver": "apg", "x_iters": 2}', '{"x_solver": "apg", "x_iters": 1}']
    ds = data.load("mnist5k", dtype=np.float32)
    base = shipped_specs(4, conv=True)["lifted (default)"]
    specs = {"shipped (certified FISTA, <= 5 iterations)": base}
    specs.update({v: MethodSpec(v, LIFTED, [], fixed=dict(base.fixed, **json.loads(v))) for v in variants})
    for name, spec in specs.items():
        acc, sec = run(spec, ds, args.epochs, args.seeds)
        per_epoch = "  ".join(f"ep{e + 1}={acc[:, e].mean():.2f}" for e in range(acc.shape[1]))
        print(f"{name:<45} {per_epoch}  final {acc[:, -1].mean():.2f} ± {acc[:, -1].std():.2f}  "
              f"s/ep={sec:.2f}", flush=True)


if __name__ == "__main__":
    main()

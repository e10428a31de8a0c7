"""Research script: what the fixed batch partition (``shuffle="batches"``) costs in test accuracy.

The ``tuned_fashion`` schedule (the shipped default when this was measured; 784-300-10, ReLU, cross-entropy,
float32, batch 500) with shuffled samples (the default) and with a fixed partition whose batch order is shuffled,
on the final seeds 0, 1, 2 (not a choice: the option's effect on that schedule). Prints the test accuracy [%]
(mean ± std over the seeds) after epochs 1, 3, 5, 10 and the last.

    python experiments/fixed_partition_accuracy.py mnist5k 20
    python experiments/fixed_partition_accuracy.py fashion-mnist 5 10000   # a 10,000-image subset
"""

from __future__ import annotations

import sys

import numpy as np

from fenchel_cvx import data
from fenchel_cvx.comparison import LIFTED, MethodSpec, make_runner, network_factory
from fenchel_cvx.training import tuned_fashion


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    name, epochs = argv[0], int(argv[1])
    ds = data.load(name, dtype=np.float32)
    if len(argv) > 2:
        ds = ds.subset(int(argv[2]))
    make_net = network_factory("784-300-10", ds.n_features, ds.n_classes)
    for label, extra in (("shuffled samples", {}), ("fixed partition", {"shuffle": "batches"})):
        spec = MethodSpec(label, LIFTED, [], fixed=dict(tuned_fashion(1), **extra))
        accs = []
        for s in (0, 1, 2):
            runner = make_runner(spec, {}, make_net(s), ds.X_train, ds.y_train, ds.X_test,
                                 ds.y_test, epochs=epochs, batch_size=500, seed=s)
            accs.append([100 * r["test_acc"] for r in list(runner.iterate())[1:]])
        a = np.array(accs)
        cols = sorted({e for e in (1, 3, 5, 10, epochs) if e <= epochs})
        print(label, " ".join(f"ep{e}={a[:, e - 1].mean():.2f}±{a[:, e - 1].std():.2f}"
                              for e in cols), flush=True)


if __name__ == "__main__":
    main()

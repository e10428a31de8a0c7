"""Section ``lenet``: test accuracy vs epoch for LeNet-5, lifted BCD vs Adam vs SGD.

The protocol of the ``training`` section (``fig_training.run_protocol``: same initialisation
per seed, learning rates of Adam and SGD chosen on a validation split, same batch size and
epochs, test accuracy after every epoch) with the LeNet-5 preset of ``fenchel_cvx.conv``
(28 x 28 inputs padded to 32 x 32: 6@5x5 → avg-pool 2 → 16@5x5 → avg-pool 2 → 120 → 84 → 10,
ReLU) on mnist5k, with the library's LeNet-5 schedule ``fenchel_cvx.training.tuned_lenet5()``.
Fashion-MNIST is left to ``benchmarks/lenet5.py`` (a lifted LeNet-5 epoch on its 60,000 images
takes 134–200 s on one CPU core).

Depends on issue 5 (convolutional lifted layers): the section is reported MISSING while
``fenchel_cvx.conv`` lacks the preset or while ``fenchel_cvx.train`` /
``fenchel_cvx.baselines.train_backprop`` cannot train a ``ConvFenchelNetwork`` (probed on
eight images for one step before any long run).
"""

from __future__ import annotations

import fig_training
from _cache import source_fingerprint
from _fig_util import Missing, SectionResult, require

NAME = "lenet"
TITLE = "LeNet-5 test accuracy: lifted BCD vs Adam vs SGD"
CODE = fig_training.CODE + ("fenchel_cvx.conv", "fenchel_cvx.layers")

#: FULL: mnist5k only (4,000 training images), 3 seeds, 5 epochs, batch 500 (~7.5 minutes of one CPU core:
#: lifted ~10 s of training and ~12 s of evaluation per epoch, Adam/SGD ~2 s, plus the learning-rate
#: selections). Fashion-MNIST is left to
#: benchmarks/lenet5.py: its lifted LeNet-5 takes 134–200 s per epoch on one core.
LIFTED = {"base": "tuned_lenet5", "dtype": "float32"}
FULL = {**fig_training.FULL, "datasets": [{"name": "mnist5k", "arch": "lenet5", "seeds": [0, 1, 2]}],
        "epochs": 5, "batch_size": 500, "rho": 0.0, "lifted": LIFTED}
QUICK = {**fig_training.QUICK, "datasets": [{"name": "mnist5k", "arch": "lenet5", "n_train": 400, "n_test": 200}],
         "epochs": 1, "batch_size": 200, "lifted": {**LIFTED, "dtype": "float64"}}


def probe(p: dict):
    """One lifted and one backprop step of LeNet-5 on eight mnist5k images; raise Missing if either cannot run."""
    from fenchel_cvx.baselines import train_backprop
    from fenchel_cvx.training import train

    d = fig_training.load_data({"name": "mnist5k"})
    X, y = d.X_train[:, :8], d.y_train[:8]
    for who, fn in (("fenchel_cvx.train", lambda net: train(net, X, y,
                                                                   config=fig_training.lifted_config(p["lifted"], net),
                                                                   epochs=1, batch_size=8, verbose=0, progress=False)),
                    ("fenchel_cvx.baselines.train_backprop",
                     lambda net: train_backprop(net, X, y, method="adam", lr=1e-3, epochs=1, batch_size=8, verbose=0,
                                                progress=False))):
        try:
            fn(fig_training.make_net("lenet5", p, 0))
        except Exception as e:  # noqa: BLE001 - any failure means the piece has not landed; its message is reported
            raise Missing(who, f"training a ConvFenchelNetwork (LeNet-5, issue 5) fails: {type(e).__name__}: {e}") from e


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    conv = require("fenchel_cvx.conv", ("ConvFenchelNetwork", "PRESETS"), "convolutional lifted layers (issue 5)")
    if "lenet5" not in conv.PRESETS:
        raise Missing("fenchel_cvx.conv", "the LeNet-5 preset 'lenet5' (issue 5)")
    require("fenchel_cvx.training", ("train",), "lifted BCD training (issue 4)")
    require("fenchel_cvx.baselines", ("train_backprop", "select_learning_rate"), "backprop baselines (issue 4)")
    p = {**(QUICK if quick else FULL), "code": source_fingerprint(*CODE)}
    probe(p)
    res = fig_training.run_protocol(cache, out_dir, p, NAME, TITLE, "lenet_accuracy.png")
    if not quick:
        res.notes.append("Fashion-MNIST is not in this figure: one lifted LeNet-5 epoch on its 60,000 images takes "
                         "134–200 s on one CPU core; it is measured by `benchmarks/lenet5.py --datasets fashion-mnist` "
                         "(see the README's LeNet-5 table)")
    return res

"""Section ``lenet``: test accuracy vs epoch for LeNet-5, lifted BCD vs Adam vs SGD.

The protocol of the ``training`` section (``fig_training.run_protocol``: same initialisation
per seed, learning rates of Adam and SGD chosen on a validation split, same batch size and
epochs, test accuracy after every epoch) with the LeNet-5 preset of ``fenchel_cvx.conv``
(28 x 28 inputs padded to 32 x 32: 6@5x5 → avg-pool 2 → 16@5x5 → avg-pool 2 → 120 → 84 → 10,
ReLU) on mnist5k and Fashion-MNIST.

Depends on issue 5 (convolutional lifted layers): the section is reported MISSING while
``fenchel_cvx.conv`` lacks the preset or while ``fenchel_cvx.train.train`` /
``fenchel_cvx.baselines.train_backprop`` cannot train a ``ConvFenchelNetwork`` (probed on
eight images for one step before any long run).
"""

from __future__ import annotations

import fig_training
from _cache import source_fingerprint
from _fig_util import Missing, SectionResult, require

NAME = "lenet"
TITLE = "Test accuracy vs epoch for LeNet-5: lifted BCD vs Adam vs SGD"
CODE = fig_training.CODE + ("fenchel_cvx.conv", "fenchel_cvx.layers")

FULL = {**fig_training.FULL, "datasets": [{"name": "mnist5k", "arch": "lenet5"},
                                          {"name": "fashion-mnist", "arch": "lenet5"}]}
QUICK = {**fig_training.QUICK, "datasets": [{"name": "mnist5k", "arch": "lenet5", "n_train": 400, "n_test": 200}],
         "epochs": 1, "batch_size": 200}


def probe(p: dict):
    """One lifted and one backprop step of LeNet-5 on eight mnist5k images; raise Missing if either cannot run."""
    from fenchel_cvx.baselines import train_backprop
    from fenchel_cvx.train import train

    d = fig_training._data({"name": "mnist5k"})
    X, y = d.X_train[:, :8], d.y_train[:8]
    for who, fn in (("fenchel_cvx.train.train", lambda net: train(net, X, y,
                                                                   config=fig_training.lifted_config(p["lifted"], net),
                                                                   epochs=1, batch_size=8, verbose=0, progress=False)),
                    ("fenchel_cvx.baselines.train_backprop",
                     lambda net: train_backprop(net, X, y, method="adam", lr=1e-3, epochs=1, batch_size=8, verbose=0,
                                                progress=False))):
        try:
            fn(fig_training._net("lenet5", p, 0))
        except Exception as e:  # noqa: BLE001 - any failure means the piece has not landed; its message is reported
            raise Missing(who, f"training a ConvFenchelNetwork (LeNet-5, issue 5) fails: {type(e).__name__}: {e}") from e


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    conv = require("fenchel_cvx.conv", ("ConvFenchelNetwork", "PRESETS"), "convolutional lifted layers (issue 5)")
    if "lenet5" not in conv.PRESETS:
        raise Missing("fenchel_cvx.conv", "the LeNet-5 preset 'lenet5' (issue 5)")
    require("fenchel_cvx.train", ("train",), "lifted BCD training (issue 4)")
    require("fenchel_cvx.baselines", ("train_backprop", "select_learning_rate"), "backprop baselines (issue 4)")
    p = {**(QUICK if quick else FULL), "code": source_fingerprint(*CODE)}
    probe(p)
    return fig_training.run_protocol(cache, out_dir, p, NAME, TITLE, "lenet_accuracy.png")

"""Section ``lenet``: LeNet-5 lifted vs backprop under an equal tuning budget.

The protocol and the drawing of the ``training`` section (``fig_training``) for the ``lenet5`` preset of
``fenchel_cvx.conv`` (28 x 28 inputs padded to 32 x 32: 6@5x5 → avg-pool 2 → 16@5x5 → avg-pool 2 → 120 → 84 → 10,
ReLU). Full mode draws the stored results of ``benchmarks/compare.py --archs lenet5`` (hours of one CPU core);
quick mode runs the protocol on 300 mnist5k images for one epoch.

Depends on issue 5 (convolutional lifted layers): reported MISSING while ``fenchel_cvx.conv`` lacks the preset.
"""

from __future__ import annotations

import fig_training
from _cache import source_fingerprint
from _fig_util import Missing, SectionResult, require

NAME = "lenet"
TITLE = "LeNet-5: lifted training vs backprop under an equal tuning budget"
ARCH = "lenet5"
COMMAND = "python benchmarks/compare.py --datasets mnist5k --archs lenet5 --methods lifted mm-then-adaptive adam"
QUICK = {**fig_training.QUICK, "dataset": "mnist5k", "arch": ARCH, "n_train": 300, "n_test": 150, "epochs": 1,
         "batch_size": 150, "methods": ["lifted", "mm-then-adaptive", "adam"]}


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    conv = require("fenchel_cvx.conv", ("ConvFenchelNetwork", "PRESETS"), "convolutional lifted layers (issue 5)")
    if "lenet5" not in conv.PRESETS:
        raise Missing("fenchel_cvx.conv", "the LeNet-5 preset 'lenet5' (issue 5)")
    require("fenchel_cvx.comparison", ("compare", "Comparison"), "the fair comparison protocol (issue 14)")
    if quick:
        p = {**QUICK, "code": source_fingerprint(*fig_training.CODE)}
        cmp = fig_training.run_quick(cache, p, NAME)
        return fig_training.section([(cmp,)], out_dir, TITLE + " -- quick mode", "lenet_accuracy.png", [])
    found = fig_training.stored(ARCH)
    if not found:
        raise Missing("benchmarks/results/compare*.json", f"no stored comparison for {ARCH}; run `{COMMAND}`")
    return fig_training.section([(c,) for c, *_ in found], out_dir, TITLE, "lenet_accuracy.png",
                                sorted({(src, cmd) for _, cmd, src in found}))

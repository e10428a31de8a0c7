"""Plots of training histories (matplotlib), drawn on axes the caller may give; no global backend change.

:func:`plot_history` draws on ``ax`` (a pair of matplotlib axes) when given, otherwise on a new
``matplotlib.figure.Figure`` that is not registered with pyplot (so no backend is selected or changed and no
window opens), and returns the figure; ``path`` saves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_history"]


def plot_history(histories: list | Sequence[list], path: str | None = None, *, title: str = "",
                 labels: Sequence[str | None] | None = None, ax: Sequence[Axes] | None = None,
                 dpi: int = 110) -> Figure:
    """Accuracy or MSE (left axes) and the objectives J, F_λ (right axes) per epoch; returns the figure.

    ``histories``: one history (a list of per-epoch records, :attr:`fenchel_cvx.TrainResult.history`) or a
    list of them (``labels`` name them). ``ax``: two matplotlib axes to draw on (default: a new 10 x 3.8 inch
    figure). ``path``: where to save the figure (PNG, ``dpi``); None draws only.
    """
    from matplotlib.figure import Figure

    if not histories:
        raise ValueError("histories: expected a history (list of per-epoch records) or a list of them, got nothing")
    if isinstance(histories[0], dict):
        histories = [histories]
    labels = list(labels) if labels is not None else [None] * len(histories)
    if len(labels) != len(histories):
        raise ValueError(f"labels: expected {len(histories)} labels (one per history), got {len(labels)}")
    if ax is None:
        fig = Figure(figsize=(10, 3.8))
        a1, a2 = fig.subplots(1, 2)
    else:
        try:
            a1, a2 = ax
        except (TypeError, ValueError):
            raise TypeError("ax: expected two matplotlib axes (accuracy, objectives)") from None
        fig = a1.figure
    for h, lab in zip(histories, labels, strict=True):
        ep = [r["epoch"] for r in h]
        pre = f"{lab} " if lab else ""
        for key, style in (("train_acc", "--"), ("test_acc", "-"), ("val_acc", ":"),
                           ("train_mse", "--"), ("test_mse", "-"), ("val_mse", ":")):
            if key in h[0]:
                a1.plot(ep, [r[key] for r in h], style, label=pre + key)
        a2.plot(ep, [r["J"] for r in h], "-", label=pre + "J")
        if h[0].get("F") is not None:
            a2.plot(ep, [r["F"] for r in h], "--", label=pre + "F_λ")
    a1.set_xlabel("epoch")
    a1.set_ylabel("accuracy" if "train_acc" in histories[0][0] else "mean squared error")
    a1.legend(fontsize=7)
    a2.set_xlabel("epoch")
    a2.set_yscale("log")
    a2.set_ylabel("objective")
    a2.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    if ax is None:
        fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig

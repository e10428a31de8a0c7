"""Shared pieces of the figure sections: the section protocol, missing pieces, plotting style, tables."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field


class Missing(Exception):
    """A section cannot run because a library piece has not landed (names the module and the issue)."""

    def __init__(self, module: str, what: str):
        self.module = module
        self.what = what
        super().__init__(f"waiting on {module}: {what}")


def require(module: str, attrs: tuple = (), what: str = "") -> object:
    """Import ``module`` and check that it has ``attrs``; raise :class:`Missing` naming it otherwise."""
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise Missing(module, f"{what} (import failed: {e})") from e
    lacking = [a for a in attrs if not hasattr(mod, a)]
    if lacking:
        raise Missing(module, f"{what} (module has no {', '.join(lacking)})")
    return mod


@dataclass
class SectionResult:
    """What a section produced: figure paths, a markdown table, notes (all shown in results.md)."""

    title: str
    figures: list = field(default_factory=list)
    table: str = ""
    notes: list = field(default_factory=list)
    command: str = ""


def setup_matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 110, "font.size": 11, "axes.titlesize": 12,
        "axes.labelsize": 11, "legend.fontsize": 9, "axes.grid": True, "grid.alpha": 0.3,
    })
    return plt


def save(fig, out_dir: str, name: str) -> str:
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    print(f"  saved {path}")
    return path


def markdown_table(head: list, rows: list) -> str:
    esc = lambda c: str(c).replace("|", "\\|")  # noqa: E731 - a literal | would split the cell
    lines = ["| " + " | ".join(esc(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)

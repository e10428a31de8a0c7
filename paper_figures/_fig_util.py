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
        "figure.dpi": 100, "savefig.dpi": 100, "font.size": 12, "axes.titlesize": 12,
        "axes.labelsize": 12, "legend.fontsize": 10.5, "axes.grid": True, "grid.alpha": 0.3,
    })
    return plt


def save(fig, out_dir: str, name: str) -> str:
    """Save ``fig`` as ``out_dir/name`` (PNG), reduced to a 256-colour palette without dithering when Pillow
    is available: line plots look the same and the file is ~3x smaller (the PNGs are committed)."""
    import io

    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    try:
        from PIL import Image

        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        img.quantize(colors=256, dither=Image.Dither.NONE).save(path, format="PNG", optimize=True)
    except ImportError:  # pragma: no cover - matplotlib depends on Pillow
        with open(path, "wb") as fh:
            fh.write(buf.getvalue())
    print(f"  saved {path} ({os.path.getsize(path) / 1024:.0f} kB)")
    return path


def markdown_table(head: list, rows: list) -> str:
    esc = lambda c: str(c).replace("|", "\\|")  # noqa: E731 - a literal | would split the cell
    lines = ["| " + " | ".join(esc(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)

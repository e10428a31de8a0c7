"""Shared plumbing of the demo scripts (not part of the library; the library never imports it).

Every demo has a dataclass ``Config``; :func:`parse_config` turns its fields into
command-line options (``--field-name VALUE``; booleans as ``--flag/--no-flag``) and adds

* ``--quick``: apply the demo's ``QUICK`` overrides (tiny sizes, for the smoke tests);
* ``--out DIR``: where the PNGs go (default ``demos/output/``).

:func:`setup_matplotlib` selects the Agg backend and a style readable at README size.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "output")


def _parse_tuple(kind):
    def conv(text: str):
        parts = [p for p in text.replace("x", ",").replace("-", ",").split(",") if p.strip()]
        return tuple(kind(p) for p in parts)

    return conv


def parse_config(cls, quick: dict | None = None, argv=None, description: str | None = None):
    """Parse ``argv`` into an instance of the dataclass ``cls``; returns ``(config, out_dir)``.

    Tuple fields of ints/floats are given as comma-separated lists (``--sizes 2,16,2``).
    Explicit options win over the ``--quick`` overrides.
    """
    parser = argparse.ArgumentParser(description=description or (cls.__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder for the PNGs (default {DEFAULT_OUT})")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        opt = "--" + f.name.replace("_", "-")
        typ = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if typ is bool:
            parser.add_argument(opt, action=argparse.BooleanOptionalAction, default=None,
                                help=f"(default {default})")
            continue
        origin = typing.get_origin(typ)
        if origin is tuple:
            args = typing.get_args(typ)
            conv = _parse_tuple(args[0] if args else float)
        else:
            conv = typ
        parser.add_argument(opt, type=conv, default=None, help=f"(default {default})")
    ns = parser.parse_args(argv)
    values = {}
    if ns.quick and quick:
        values.update(quick)
    for f in dataclasses.fields(cls):
        v = getattr(ns, f.name)
        if v is not None:
            values[f.name] = v
    try:
        cfg = cls(**values)
    except (ValueError, TypeError) as e:  # a bad option: usage message and exit status 2
        parser.error(str(e))
    os.makedirs(ns.out, exist_ok=True)
    return cfg, ns.out


def setup_matplotlib():
    """Select the Agg backend and a readable style; returns ``matplotlib.pyplot``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 110,
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.fontsize": 9,
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    return plt


def save(fig, out_dir: str, name: str) -> str:
    """Save ``fig`` as ``out_dir/name`` (tight bounding box), close it, return the path."""
    path = os.path.join(out_dir, name)
    fig.savefig(path, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"saved {path}")
    return path

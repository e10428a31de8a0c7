"""The ``fenchel-cvx`` command.

Subcommands (each implemented in ``fenchel_cvx.commands.<name>`` with
``configure(parser)`` and ``run(args) -> int``)::

    fenchel-cvx check-blocks   cross-check every fast block solver against its CVXPY twin
    fenchel-cvx train          train a lifted network (or a backprop baseline)
    fenchel-cvx certify        bracket the optimal training loss of a tiny network

``fenchel-cvx SUBCOMMAND --help`` documents the options.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

COMMANDS = {
    "check-blocks": ("check_blocks", "cross-check fast block solvers against their CVXPY references"),
    "train": ("train", "train a lifted network by BCD, or a backprop baseline"),
    "certify": ("certify", "certified bracket on the optimal training loss of a tiny network"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fenchel-cvx", description="Fenchel lifted networks: blocks, training, certificates.")
    parser.add_argument("--version", action="version", version=f"fenchel-cvx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        try:
            mod = importlib.import_module(f"fenchel_cvx.commands.{module}")
        except ImportError as e:  # a subcommand whose module is not available stays listed with the reason
            p = sub.add_parser(name, help=f"{help_} (unavailable: {e})")
            p.set_defaults(_unavailable=str(e))
            continue
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip().splitlines()[0])
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "_unavailable", None):
        print(f"fenchel-cvx {args.command}: unavailable: {args._unavailable}", file=sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as e:
        print(f"fenchel-cvx {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The ``fenchel-cvx`` command.

Subcommands (each implemented in ``fenchel_cvx.commands.<name>`` with
``configure(parser)`` and ``run(args) -> int``)::

    fenchel-cvx check-blocks   cross-check every fast block solver against its CVXPY twin
    fenchel-cvx train          train a lifted network (or a backprop baseline)
    fenchel-cvx certify        bracket the optimal training loss of a tiny network
    fenchel-cvx predict        a saved model + a data file -> predictions, accuracy and loss

``fenchel-cvx SUBCOMMAND --help`` documents the options, each with its default (flags are off by default). A bad option,
a missing or unwritable file, an unreachable scheduler or any other error of the package ends the command with a
one-line message on stderr (``fenchel-cvx <command>: error: ...``) and exit status 2; a failed check ends it with
status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import FenchelError

COMMANDS = {
    "check-blocks": ("check_blocks", "cross-check fast block solvers against their CVXPY references"),
    "train": ("train", "train a lifted network by BCD, or a backprop baseline"),
    "certify": ("certify", "certified bracket on the optimal training loss of a tiny network"),
    "predict": ("predict", "predictions, accuracy and loss of a saved model on a data file"),
}


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default: ``(default: VALUE)``, ``(default: none)`` for an unset
    option, unless the help already says it; flags (``store_true``) are off by default and say nothing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.nargs == 0 or action.required \
                or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: {'none' if action.default is None else '%(default)s'})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fenchel-cvx",
                                     description="Fenchel lifted networks: blocks, training, certificates.")
    parser.add_argument("--version", action="version", version=f"fenchel-cvx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        try:
            mod = importlib.import_module(f"fenchel_cvx.commands.{module}")
        except ImportError as e:  # a subcommand whose module is not available stays listed with the reason
            p = sub.add_parser(name, help=f"{help_} (unavailable: {e})", formatter_class=DefaultsHelpFormatter)
            p.set_defaults(_unavailable=str(e))
            continue
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip().splitlines()[0],
                           formatter_class=DefaultsHelpFormatter)
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
    except (ValueError, TypeError, OSError, ImportError, FenchelError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__  # one line
        if isinstance(e, OSError) and not isinstance(e, FenchelError) and e.filename and str(e.filename) not in msg:
            msg = f"{msg}: {e.filename!r}"
        print(f"fenchel-cvx {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fenchel-cvx {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

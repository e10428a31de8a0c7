"""Cross-check every fast block solver against its CVXPY twin and print a table.

Runs every (block, activation, loss, backend) combination on random small instances
that hit kinks and domain edges; exits with status 1 on any disagreement beyond
tolerance (1e-7 relative in float64, 1e-4 in float32), and when it checked nothing (every
requested backend unavailable). Backends that cannot run here (torch not installed, CUDA
unavailable) are named, with the reason, on every run. Example::

    fenchel-cvx check-blocks --sizes 6-5-4-3 --samples 12 --seed 0
    fenchel-cvx check-blocks --blocks hidden_w --activations relu,sigmoid --backends numpy-float64
    fenchel-cvx check-blocks --conv          # the convolutional blocks
    fenchel-cvx check-blocks --external last_w=mypkg.solvers:solve_last_w   # judge your own solver

``--external KIND=MODULE:FUNCTION`` (or ``KIND=FILE.py:FUNCTION``, repeatable) replaces the library's fast
path of that block kind by your function ``block -> solution`` (or ``(solution, lower_bound)``), judged the
same way (:mod:`fenchel_cvx.blocks.check_external`); only those kinds are checked.
"""

from __future__ import annotations

import argparse
import json
import sys

from .options import ensure_parent, named_options


def _csv(s):
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--blocks", help="comma-separated block kinds (default: all)")
    p.add_argument("--activations", help="comma-separated activation names (default: all)")
    p.add_argument("--losses", help="comma-separated losses (default: all)")
    p.add_argument("--backends", default="numpy-float64,torch-float64,torch-float32",
                   help="comma-separated BACKEND-DTYPE (numpy|torch)-(float64|float32) (default: %(default)s)")
    p.add_argument("--sizes", default="6-5-4-3", help="layer widths d-n1-...-k (at least two hidden layers "
                   "for hidden_x) (default: %(default)s)")
    p.add_argument("--samples", "-m", type=int, default=12, help="samples m (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random instances (default: %(default)s)")
    p.add_argument("--solver", default="CLARABEL",
                   help="CVXPY solver of the reference: CLARABEL, SCS, OSQP (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default: %(default)s)")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE (default: none)")
    p.add_argument("--conv", action="store_true", help="check the convolutional blocks (CONV_BLOCKS) on small "
                   "random conv instances instead of the dense ones (--sizes is ignored)")
    p.add_argument("--external", action="append", metavar="KIND=MODULE:FUNCTION",
                   help="judge your solver of block KIND (repeatable): MODULE:FUNCTION or FILE.py:FUNCTION "
                        "(default: none, the library's fast paths)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..blocks.check_library import format_table, run_checks, split_backends, summary

    try:
        sizes = tuple(int(s) for s in args.sizes.split("-"))
    except ValueError:
        raise ValueError(f"--sizes: expected widths like 6-5-4-3, got {args.sizes!r}") from None
    if len(sizes) < 4:
        raise ValueError(f"--sizes: need at least two hidden layers so that every block exists, got {args.sizes!r}")
    if args.samples < 2:
        raise ValueError(f"--samples: expected at least 2, got {args.samples}")
    backends = _csv(args.backends) or []
    if not backends:
        raise ValueError("--backends: expected at least one of numpy-float64, numpy-float32, torch-float64, "
                         "torch-float32")
    for b in backends:
        if b not in ("numpy-float64", "numpy-float32", "torch-float64", "torch-float32"):
            raise ValueError(f"--backends: unknown entry {b!r}; use numpy-float64, numpy-float32, torch-float64, "
                             "torch-float32")
    from ..backend import check_backend, have_torch

    if any(b.startswith("torch") for b in backends) and have_torch():  # without torch its rows are skipped
        with named_options({"device": "--device"}):
            check_backend("torch", args.device)
    elif args.device != "cpu":
        raise ValueError(f"--device: {args.device!r} needs a torch backend (--backends torch-float64,...); numpy "
                         f"runs on the CPU")
    if args.json:
        from ..validation import check_output_file

        check_output_file(args.json, "--json")
    backends, skipped = split_backends(backends, args.device)
    for be, why in skipped.items():
        print(f"check-blocks: skipped backend {be}: {why}", file=sys.stderr)
    if not backends:
        print(f"check-blocks: FAILED: nothing to check -- every requested backend is unavailable "
              f"({', '.join(skipped)})", file=sys.stderr)
        return 1
    registry = instance = None
    if args.conv:
        from ..blocks.conv_blocks import CONV_BLOCKS, random_conv_state

        registry, instance = CONV_BLOCKS, random_conv_state
    kinds, solvers = _csv(args.blocks), None
    if args.external:
        from ..blocks.check_external import external_solver, load_solver

        solvers = {}
        for item in args.external:
            kind, sep, spec = item.partition("=")
            if not sep:
                raise ValueError(f"--external: expected KIND=MODULE:FUNCTION, got {item!r}")
            solvers[kind.strip()] = external_solver(load_solver(spec.strip()), kind.strip())
        kinds = list(solvers)
    rows = run_checks(kinds, _csv(args.activations), _csv(args.losses), backends, sizes,
                      args.samples, args.seed, args.solver, args.device, progress=not args.quiet,
                      registry=registry, instance=instance, solvers=solvers)
    print(format_table(rows))
    s = summary(rows, skipped)
    print(f"\n{s['rows']} checks, {s['disagreements']} disagreements, max |rel gap| {s['max_abs_rel_gap']:.1e}")
    if skipped:
        print("skipped backends (unavailable): " + ", ".join(f"{be} ({why})" for be, why in skipped.items()))
    if args.json:
        with open(ensure_parent(args.json), "w") as fh:
            json.dump({"summary": s, "rows": [r.as_dict() for r in rows]}, fh, indent=1)
    if s["disagreements"]:
        print("check-blocks: FAILED", file=sys.stderr)
        return 1
    if not s["rows"]:
        print("check-blocks: FAILED: no block was checked", file=sys.stderr)
        return 1
    return 0

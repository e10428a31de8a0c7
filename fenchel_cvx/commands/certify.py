"""Certified bracket on the optimal training loss of a tiny ReLU network, with a λ sweep.

Builds a tiny regression problem (a random ReLU teacher, or your data from an .npz file with
arrays ``X0`` (d x m) and ``y`` (m,) or (1 x m)), trains it by backprop L-BFGS from several starts
(upper bounds), then certifies lower bounds: the Fenchel relaxation min F_λ and the standard problem
min J solved globally by SCIP (PySCIPOpt: pip install 'fenchel-cvx[global]'), and the exact convex
reformulation over activation patterns. Prints the bounds with their provenance, the bracket
lower ≤ min F_λ ≤ min J ≤ upper and the λ sweep, and saves a plot of the bounds against λ. Example::

    fenchel-cvx certify --features 1 --hidden 2 --samples 6 --rho 0.1 --lams 0.1 1 10 100 --plot certify.png
"""

from __future__ import annotations

import argparse
import json
import math
import os


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", "-d", type=int, default=1, help="input features d (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=2, help="hidden ReLU units n (default: %(default)s)")
    p.add_argument("--samples", "-m", type=int, default=6, help="samples m (default: %(default)s)")
    p.add_argument("--rho", type=float, nargs="+", default=[0.1],
                   help="weight decay: one value for both layers or rho_0 rho_1 (default: %(default)s)")
    p.add_argument("--lams", type=float, nargs="*", default=[0.1, 1.0, 10.0, 100.0],
                   help="multipliers of the λ sweep (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.1, help="teacher noise level (default: %(default)s)")
    p.add_argument("--data", metavar="NPZ", help="use X0 (d x m) and y from this .npz file instead of a teacher")
    p.add_argument("--starts", type=int, default=5, help="random starts of backprop L-BFGS (default: %(default)s)")
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="seconds per SCIP solve (min J, and each λ) (default: %(default)s)")
    p.add_argument("--gap", type=float, default=1e-3, help="SCIP's relative gap limit (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-convex", action="store_true", help="skip the convex reference")
    p.add_argument("--no-standard", action="store_true", help="skip SCIP's global solve of min J")
    p.add_argument("--plot", default="certify.png", help="where to save the plot (default: %(default)s)")
    p.add_argument("--no-plot", action="store_true", help="do not save a plot")
    p.add_argument("--json", metavar="FILE", help="also write the bounds as JSON to FILE")
    p.add_argument("--allow-large", action="store_true", help="try problems beyond the supported sizes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _load(args):
    import numpy as np

    from ..certify import tiny_regression
    from ..network import FenchelNetwork

    if len(args.rho) not in (1, 2):
        raise ValueError(f"--rho: expected one value or two (rho_0 rho_1), got {args.rho}")
    rho = args.rho[0] if len(args.rho) == 1 else args.rho
    if args.data is None:
        return tiny_regression(d=args.features, hidden=args.hidden, m=args.samples, rho=rho, seed=args.seed,
                               noise=args.noise)
    if not os.path.exists(args.data):
        raise FileNotFoundError(f"--data: no such file {args.data!r}")
    with np.load(args.data) as f:
        if "X0" not in f or "y" not in f:
            raise ValueError(f"--data: expected arrays 'X0' (d x m) and 'y' in {args.data!r}, found {sorted(f)}")
        X0, y = np.asarray(f["X0"], dtype=float), np.asarray(f["y"], dtype=float).reshape(1, -1)
    if X0.ndim != 2:
        raise ValueError(f"--data: X0 must be d x m, got shape {X0.shape}")
    net = FenchelNetwork([X0.shape[0], args.hidden, 1], activation="relu", loss="squared", rho=rho, seed=args.seed)
    return net, X0, y


def run(args: argparse.Namespace) -> int:
    from ..certify import certify, lbfgs_provider
    from ..validation import check_output_file

    if args.starts < 1:
        raise ValueError(f"--starts: expected at least 1, got {args.starts}")
    if not args.no_plot:
        check_output_file(args.plot, "--plot")  # before any solve
    if args.json:
        check_output_file(args.json, "--json")
    net, X0, y = _load(args)
    convex = False if args.no_convex else None
    rep = certify(net, X0, y, lams=args.lams, upper_providers=[lbfgs_provider(args.starts, seed=args.seed)],
                  time_limit=args.time_limit, gap=args.gap, standard=not args.no_standard, convex=convex,
                  progress=not args.quiet, seed=args.seed, allow_large=args.allow_large)
    print(rep.table())
    if not args.no_plot:
        rep.plot(args.plot)
        print(f"\nplot saved to {args.plot}")
    if args.json:
        rows = [{"side": b.side, "value": b.value, "quantity": b.quantity, "lam": b.lam, "provenance": b.provenance,
                 "status": b.status, "time": b.time} for b in rep.lower + rep.upper]
        sweep = [{"lam": s.lam, "lower": s.lower, "upper": s.upper, "status": s.status, "time": s.time}
                 for s in rep.sweep]
        with open(args.json, "w") as fh:
            json.dump({"bounds": rows, "sweep": sweep, "rel_gap": rep.rel_gap}, fh, indent=1,
                      default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v)
    return 0 if rep.consistent(rtol=1e-6) else 1

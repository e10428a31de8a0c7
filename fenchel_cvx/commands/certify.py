"""Certified bracket on the optimal training loss of a tiny network, with a λ sweep and a per-sample dual.

Builds a tiny problem — a random ReLU teacher (regression), two moons / XOR / blobs (classification), or
your data from an .npz file with arrays ``X0`` (d x m) and ``y`` (m labels for the cross-entropy, k x m or
(m,) targets for the squared loss) — trains it from several starts (upper bounds: backprop L-BFGS and
lifted BCD), then certifies lower bounds:

* SCIP's global solves of min J and of the Fenchel relaxation min F_λ (PySCIPOpt: pip install
  'fenchel-cvx[global]'), each valid up to SCIP's feasibility tolerance;
* for two-layer ReLU networks ``[d, n, 1]`` (squared loss) or ``[d, n, 2]`` (two-class cross-entropy), any
  d: the certified dual bound of the exact convex reformulation (it bounds min J for every width, and the
  recovered network is an upper bound when it needs at most n units — else the report says so); its dual
  oracle is exact for d ≤ 3 (no solver tolerance) and bounded by SCIP beyond (valid up to SCIP's tolerances);
* optionally the Lagrangian dual with one multiplier per sample (SCIP).

Prints every bound with its provenance and a key to what it rests on, the bracket lower ≤ min F_λ ≤ min J ≤ upper (gap
never negative; an overshoot within tolerance is shown with both numbers), the notes of the convex certificate, and,
with ``--plot FILE``, a plot of the bounds against λ (none by default). Exit status 1 when a lower bound exceeds an
upper bound by more than its tolerance explains. Examples::

    fenchel-cvx certify --arch 1-2-1 --samples 6 --lams 0.1 1 10 100 --plot certify.png
    fenchel-cvx certify --arch 2-3-2 --loss logistic --dataset moons --samples 8 --dual 1
    fenchel-cvx certify --arch 2-3-3-1 --activation relu --samples 8 --lams 1 --time-limit 120
    fenchel-cvx certify --arch 2-60-1 --samples 200 --rho 0.01 --no-standard --lams   # convex certificate only
    fenchel-cvx certify --network model.npz --data data.npz     # the certified optimality gap of a trained network

With ``--network`` (a model saved by ``fenchel-cvx train`` or ``fc.save``; two-layer ReLU, squared loss with
one output or cross-entropy with two) only the convex certificate runs: the network's J (an upper bound
labelled as that network), the certified lower bound on min J and the network's certified optimality gap.

Supported: dense [d, n1, k] / [d, n1, n2, k]; relu, leaky_relu, hardtanh; squared loss, cross-entropy
(logistic = 2 outputs); weight decay > 0. Anything else is refused with the list of what is supported.
Without SCIP solves (``--no-standard`` and no ``--lams``) the size limits of the global models do not apply; and
beyond them, when the two-layer convex certificate applies, SCIP's solves are skipped unless asked for (``--lams``
values, ``--dual``, ``--allow-large``), so ``fenchel-cvx certify --data FILE.npz --hidden 100`` on a real data set
runs the convex certificate (the report's notes say so)::

    fenchel-cvx certify --data iris.npz --loss logistic --hidden 100 --rho 0.01
"""

from __future__ import annotations

import argparse
import json
import math

from .options import ensure_parent, named_options

#: library argument names -> the options that set them (errors name what the user typed)
_OPTION_NAMES = {"net.rho": "--rho", "rho": "--rho", "lams": "--lams", "lam": "--lams", "iters": "--dual-iters",
                 "dual": "--dual", "time_limit": "--time-limit", "gap": "--gap", "model": "--model",
                 "m": "--samples", "arch": "--arch", "activation": "--activation", "loss": "--loss",
                 "a": "--slope", "noise": "--noise", "data": "--dataset", "seed": "--seed"}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", help="layer sizes d-n1-[n2-]k, e.g. 2-3-3-1 (default: FEATURES-HIDDEN-1; with --data: "
                                  "the file's d-HIDDEN-k)")
    p.add_argument("--features", "-d", type=int, help="input features d, instead of --arch (default: 1)")
    p.add_argument("--hidden", type=int, help="hidden units n, instead of --arch (default: 2)")
    p.add_argument("--activation", default="relu",
                   help="hidden activation(s): relu, leaky_relu, hardtanh; comma list for one per layer (default: "
                        "%(default)s)")
    p.add_argument("--slope", type=float, default=0.1, help="leaky_relu slope a in (0, 1) (default: %(default)s)")
    p.add_argument("--loss", default="squared", help="squared, cross_entropy, or logistic (= cross-entropy, 2 outputs) "
                                                     "(default: %(default)s)")
    p.add_argument("--samples", "-m", type=int, default=6, help="samples m (default: %(default)s)")
    p.add_argument("--dataset", choices=("auto", "teacher", "moons", "xor", "blobs"),
                   help="generated data: teacher (regression) or moons/xor/blobs (classification, d = 2); auto picks "
                        "teacher for the squared loss, moons or blobs for the cross-entropy (default: auto)")
    p.add_argument("--network", metavar="NPZ", help="certify the optimality gap of this trained two-layer network "
                   "(needs --data; uses the network's weight decay, or --rho when the network has none; default: none)")
    p.add_argument("--data", metavar="NPZ", help="use X0 (d x m) and y from this .npz file instead of generated "
                                                 "data (default: none, generated data)")
    p.add_argument("--rho", type=float, nargs="+", default=[0.1],
                   help="weight decay: one value for every layer or one per layer (default: %(default)s)")
    p.add_argument("--lams", type=float, nargs="*", default=None,
                   help="multipliers of the λ sweep; none (a bare --lams): no sweep (default: 0.1 1 10 100, or no "
                        "sweep beyond the global models' sizes when the convex certificate applies)")
    p.add_argument("--dual", type=float, metavar="LAM",
                   help="also maximise the Lagrangian dual with one multiplier per sample, at the budget of this λ "
                        "(default: none, no dual)")
    p.add_argument("--dual-iters", type=int, default=4,
                   help="SCIP solves of the dual ascent after μ ≡ λ (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.1, help="noise of the generated data (default: %(default)s)")
    p.add_argument("--starts", type=int, default=5, help="random starts of backprop L-BFGS (default: %(default)s)")
    p.add_argument("--bcd-starts", type=int, default=2,
                   help="random starts of lifted BCD (0: none) (default: %(default)s)")
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="CPU seconds per SCIP solve (min J, each λ, each dual iterate) (default: %(default)s)")
    p.add_argument("--gap", type=float, default=1e-3, help="SCIP's relative gap limit (default: %(default)s)")
    p.add_argument("--model", default="auto", choices=("auto", "unit", "direct"),
                   help="SCIP model (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="data, starts and solver seeds (default: %(default)s)")
    p.add_argument("--no-convex", action="store_true",
                   help="skip the two-layer convex certificate (run by default where it applies: relu [d, n, 1] "
                        "squared or [d, n, 2] cross-entropy, any d; and the vector dual bound of relu [d, n, 2] "
                        "squared, d <= 3)")
    p.add_argument("--no-standard", action="store_true",
                   help="skip SCIP's global solve of min J (skipped anyway beyond the global models' sizes when the "
                        "convex certificate applies, unless --allow-large)")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="save a plot of the bounds against λ to FILE (default: no plot)")
    p.add_argument("--no-plot", action="store_true", help="do not save a plot (the default; refused beside --plot)")
    p.add_argument("--json", metavar="FILE", help="also write the bounds as JSON to FILE (default: none)")
    p.add_argument("--allow-large", action="store_true", help="try problems beyond the supported sizes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _arch_text(text: str) -> str:
    """``--arch`` as given, refused when empty or when a width is missing (``2--3-1``, ``-2-1``)."""
    parts = str(text).replace(",", "-").replace("x", "-").split("-")
    if not str(text).strip() or any(not p.strip() for p in parts):
        raise ValueError(f"--arch: expected positive layer sizes separated by '-', e.g. 2-3-1, got {text!r}")
    return text


def _check_choices(args: argparse.Namespace) -> None:
    """Refuse options that would be silently ignored, conflict, or are out of range (before any work)."""
    if args.arch is not None:
        for opt, value in (("--features", args.features), ("--hidden", args.hidden)):
            if value is not None:
                raise ValueError(f"{opt}: conflicts with --arch {args.arch!r} (the architecture gives every width); "
                                 f"give one of them")
    if args.data is not None:
        if args.dataset is not None:
            raise ValueError(f"--dataset: conflicts with --data {args.data!r} (the file is the data); give one of "
                             f"them")
        if args.features is not None:
            raise ValueError(f"--features: conflicts with --data {args.data!r} (the file's X0 gives d)")
    for opt, value in (("--features", args.features), ("--hidden", args.hidden), ("--samples", args.samples)):
        if value is not None and value < 1:
            raise ValueError(f"{opt}: expected a positive integer, got {value}")
    if args.dual_iters < 0:
        raise ValueError(f"--dual-iters: expected 0 or more, got {args.dual_iters}")
    for opt, value in (("--time-limit", args.time_limit), ("--gap", args.gap)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{opt}: expected a finite number > 0, got {value}")


def _load(args):
    import numpy as np

    from ..archives import read_archive
    from ..certify import tiny_problem
    from ..certify.examples import parse_arch
    from ..network import FenchelNetwork

    _check_choices(args)
    hidden = 2 if args.hidden is None else args.hidden
    if args.arch is not None:
        sizes = parse_arch(_arch_text(args.arch))
    else:
        sizes = [1 if args.features is None else args.features, hidden, 1]
    L = len(sizes) - 2
    if len(args.rho) not in (1, L + 1):
        raise ValueError(f"--rho: expected one value or {L + 1} (one per weight layer), got {args.rho}")
    rho = args.rho[0] if len(args.rho) == 1 else args.rho
    acts = [a.strip() for a in args.activation.split(",")]
    if len(acts) not in (1, L):
        raise ValueError(f"--activation: expected one activation or {L} (one per hidden layer), got "
                         f"{args.activation!r}")
    acts = acts * L if len(acts) == 1 else acts
    loss = args.loss.replace("-", "_")
    if loss not in ("squared", "cross_entropy", "logistic"):
        raise ValueError(f"--loss: expected squared, cross_entropy or logistic, got {args.loss!r}")
    if args.data is None:
        return tiny_problem(sizes, activation=acts, loss=loss, m=args.samples, rho=rho, seed=args.seed,
                            data=args.dataset or "auto", noise=args.noise, a=args.slope)
    f = read_archive(args.data, "--data", "data file")
    if "X0" not in f or "y" not in f:
        raise ValueError(f"--data: expected arrays 'X0' (d x m) and 'y' in {args.data!r}, found {sorted(f)}")
    if not (np.issubdtype(f["X0"].dtype, np.number) and np.issubdtype(f["y"].dtype, np.number)):
        raise ValueError(f"--data: X0 and y must be numeric arrays, got dtypes {f['X0'].dtype} and {f['y'].dtype}")
    X0, y = np.asarray(f["X0"], dtype=float), np.asarray(f["y"])
    if X0.ndim != 2 or X0.shape[1] == 0:
        raise ValueError(f"--data: X0 must be d x m with m >= 1, got shape {X0.shape}")
    if y.size == 0 or y.size % X0.shape[1]:
        raise ValueError(f"--data: y must hold one label (or one target column) per sample of X0 "
                         f"({X0.shape[1]}), got shape {y.shape}")
    if args.arch is None:
        sizes = [X0.shape[0], hidden, 1 if loss == "squared" else int(np.max(y)) + 1]
    if X0.shape[0] != sizes[0]:
        raise ValueError(f"--data: X0 has {X0.shape[0]} features, --arch starts with {sizes[0]}")
    if loss == "logistic":
        loss = "cross_entropy"
    if loss == "squared":
        y = y.astype(float).reshape(sizes[-1], -1) if y.ndim == 1 else y.astype(float)
    from .. import activations

    acts = [activations.get("leaky_relu", a=args.slope) if a in ("leaky_relu", "leaky") else a for a in acts]
    net = FenchelNetwork(sizes, activation=acts, loss=loss, rho=rho, seed=args.seed)
    return net, X0, y


def _network_gap(args) -> int:
    """``--network``: the certified optimality gap of a saved network on ``--data`` (module docstring)."""
    import numpy as np

    from ..archives import check_input_file, read_archive
    from ..certify import certify_network
    from ..model_io import load
    from ..validation import check_output_file

    if args.data is None:
        raise ValueError("--network: needs --data FILE.npz with the arrays X0 (d x m) and y")
    check_input_file(args.network, "--network", "model file")
    if args.json is not None:
        check_output_file(args.json, "--json")  # before the work
    net = load(args.network)
    f = read_archive(args.data, "--data", "data file")
    if "X0" not in f or "y" not in f:
        raise ValueError(f"--data: expected arrays 'X0' (d x m) and 'y' in {args.data!r}, found {sorted(f)}")
    X0, y = np.asarray(f["X0"], dtype=float), np.asarray(f["y"])
    if np.any(np.asarray(net.rho, dtype=float) <= 0):
        rho = args.rho * 2 if len(args.rho) == 1 else args.rho
        if len(rho) != 2:
            raise ValueError(f"--rho: expected one value or two (one per weight layer), got {args.rho}")
        print(f"the network has weight decay {np.asarray(net.rho, dtype=float).tolist()}; certifying with --rho {rho}")
        net.rho = np.asarray(rho, dtype=float)
    if net.loss.name == "squared":
        y = y.astype(float).reshape(1, -1) if y.ndim == 1 else y.astype(float)
    res = certify_network(net, X0, y, time_limit=args.time_limit, allow_large=args.allow_large, seed=args.seed)
    print(res.summary())
    if args.json is not None:
        with open(ensure_parent(args.json), "w") as fh:
            json.dump(res.to_dict(), fh, indent=1)
    return 0 if res.lower <= res.J else 1


def run(args: argparse.Namespace) -> int:
    from ..certify import bcd_provider, certify, lbfgs_provider
    from ..validation import check_output_file

    if args.network:
        if args.json:
            check_output_file(args.json, "--json")
        return _network_gap(args)
    if args.starts < 1:
        raise ValueError(f"--starts: expected at least 1, got {args.starts}")
    if args.bcd_starts < 0:
        raise ValueError(f"--bcd-starts: expected 0 or more, got {args.bcd_starts}")
    if args.dual is not None and not (math.isfinite(args.dual) and args.dual > 0):
        raise ValueError(f"--dual: expected a multiplier budget > 0, got {args.dual}")
    if args.no_plot and args.plot is not None:
        raise ValueError("--plot/--no-plot: give one of them (no plot is written unless --plot FILE is given)")
    if args.plot is not None:
        check_output_file(args.plot, "--plot")  # before any solve
    if args.json is not None:
        check_output_file(args.json, "--json")
    with named_options(_OPTION_NAMES):
        net, X0, y = _load(args)
    providers = [lbfgs_provider(args.starts, seed=args.seed)]
    if args.bcd_starts:
        providers.append(bcd_provider(args.bcd_starts, seed=args.seed))
    convex = False if args.no_convex else None
    dual = None if args.dual is None else {"lam": args.dual, "iters": args.dual_iters}
    with named_options(_OPTION_NAMES):
        rep = certify(net, X0, y, lams=args.lams, upper_providers=providers, time_limit=args.time_limit,
                      gap=args.gap, standard=False if args.no_standard else None, convex=convex, dual=dual,
                      progress=not args.quiet, seed=args.seed, allow_large=args.allow_large, model=args.model)
    print(rep.table())
    if args.plot is not None:
        rep.plot(ensure_parent(args.plot))
        print(f"\nplot saved to {args.plot}")
    if args.json is not None:
        with open(ensure_parent(args.json), "w") as fh:
            json.dump(rep.to_dict(), fh, indent=1,
                      default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v)
    return 0 if rep.consistent() else 1

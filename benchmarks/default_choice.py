"""The shipped default of pure lifted BCD from the fair protocol's runs: one setting for every data set.

The protocol (``benchmarks/compare.py``, :mod:`fenchel_cvx.comparison`) tunes λ_0 × hidden γ × ρ of ``lifted`` per
data set and budget, and the choices differ (README, training section). The default of ``fenchel-cvx train`` must be
one setting, so it is the protocol's choice **pooled** over its runs: among the grid points tried in every run, the
one with the smallest mean validation regret, regret = the run's best mean validation accuracy − the point's
(:func:`fenchel_cvx.comparison.pooled_choice`; validation scores only, the test set plays no part). The runs pooled
by default are the four dense runs whose tuning trials are as long as their budget (issue 23): mnist5k with 10 and
20 epochs, the Fashion-MNIST 10k subset and Fashion-MNIST 60k with 10 epochs. The shipped preset
(:func:`fenchel_cvx.training.tuned`) is marked; ``tests/test_comparison.py`` checks that it is the pooled choice of
the stored runs.

The pooled grid is the grid common to all runs, and a pooled choice on an extendable edge of it (a log axis, as
in :func:`fenchel_cvx.comparison.tune`) means that grid is too small: ``--extend`` then trains the next value of
that axis (× every common value of the other axes) on each run's validation protocol where the run has not tried it
(same split, tuning seeds, tuning epochs and batch size, read from the run's stored command), at most 3 times. The
extra trials are kept in ``benchmarks/results/default_choice.json`` (``--extra``) and pooled with the stored ones
on every later call; only missing points are ever trained.

    python benchmarks/default_choice.py                       # writes benchmarks/results/default_choice.md
    python benchmarks/default_choice.py --extend              # trains the extension points the choice needs
    python benchmarks/default_choice.py --runs benchmarks/results/compare_mnist5k.json --top 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys

if __name__ == "__main__":  # before numpy is imported
    from _threads import limit_threads_from_argv

    limit_threads_from_argv()

from fenchel_cvx.comparison import (  # noqa: E402
    Axis,
    MethodSpec,
    TuneResult,
    default_specs,
    grid_value,
    network_factory,
    point_key,
    pooled_choice,
    tune,
)
from fenchel_cvx.training import tuned  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: the protocol's dense runs with trials as long as their budget (module docstring)
RUNS = tuple(os.path.join(HERE, "results", f"compare_{n}.json")
             for n in ("mnist5k_10ep", "mnist5k", "fashion10k", "fashion_10ep_all"))


def shipped_point(n_hidden: int = 1) -> dict:
    """The grid coordinates of the shipped preset :func:`~fenchel_cvx.training.tuned`: λ_0, the hidden layers' γ
    (one value, as the grid's ``gamma_hidden`` axis) and ρ = 0 (the network's default weight decay)."""
    t = tuned(n_hidden)
    gh = set(t["gamma"][:n_hidden])
    if len(gh) != 1:
        raise ValueError(f"tuned: expected one γ on the hidden layers, got {sorted(gh)}")
    return {"lam": float(t["lam"]), "gamma_hidden": float(gh.pop()), "rho": 0.0}


def load_runs(paths, method: str = "lifted") -> list:
    """``[(label, TuneResult, run)]``: the tuning of ``method`` in each comparison of each JSON file of ``paths``;
    ``run`` = (file, stored command, data set label, arch) identifies the run's protocol."""
    out = []
    for path in paths:
        try:
            with open(path) as fh:
                d = json.load(fh)
            results, command = d["results"], d["command"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"--runs: cannot read a comparison from {path}: {e}") from None
        for r in results:
            if method not in r["tuning"]:
                raise SystemExit(f"--runs: {path} has no tuning of {method!r} ({r['dataset']} {r['arch']})")
            label = f"{r['dataset']} {r['arch']}, {r['epochs']} epochs ({os.path.basename(path)})"
            out.append((label, TuneResult.from_dict(r["tuning"][method]),
                        (os.path.basename(path), command, r["dataset"], r["arch"])))
    return out


def run_key(run) -> str:
    """The key of a run's extra trials in the ``--extra`` file: file name, data set label, arch."""
    return f"{run[0]} | {run[2]} | {run[3]}"


def common_axes(tunings, method: str, n_hidden: int = 1) -> list:
    """The pooled grid: for each hyperparameter of every run's trials in ``tunings``, the values that every run has
    tried (12 significant digits; stored and extension trials); log-spaced (extendable) where ``method``'s axis of
    that name in :func:`~fenchel_cvx.comparison.default_specs` is."""
    known = {a.name: a for a in default_specs(n_hidden)[method].axes}
    tried = [{} for _ in tunings]
    for seen, t in zip(tried, tunings, strict=True):
        for tr in t.trials:
            for k, v in tr["params"].items():
                seen.setdefault(k, {})[grid_value(v)] = float(v)
    out = []
    for name in [n for n in tried[0] if all(n in s_ for s_ in tried[1:])]:
        vals = sorted(v for k, v in tried[0][name].items() if all(k in s_[name] for s_ in tried[1:]))
        if not vals:
            raise SystemExit(f"--runs: no value of {name!r} was tried in every run")
        a = known.get(name)
        out.append(Axis(name, vals, log=bool(a and a.log), integer=bool(a and a.integer), upper=a and a.upper))
    return out


def train_points(run, points: list, method: str) -> list:
    """Trials (as :func:`~fenchel_cvx.comparison.tune` stores them) of ``points`` on the validation protocol of
    ``run``: the data, network, tuning epochs, seeds, batch size and threads of its stored ``compare.py`` command."""
    import compare

    parser = compare.build_parser()
    args = parser.parse_args(run[1].split()[2:])
    compare.apply_quick(args)
    name = run[2].split(" (")[0]
    ds, label = compare.load_data(name, args)
    if label != run[2]:
        raise SystemExit(f"--extend: {run[0]}: data set {run[2]!r} not rebuilt from its command ({label!r})")
    make_net = network_factory(run[3], ds.n_features, ds.n_classes)
    base = default_specs(make_net(0).L, n_features=ds.n_features)[method]
    trials = []
    for p in points:  # one point at a time: the grid of a MethodSpec is a product, the points need not be
        spec = MethodSpec(base.name, base.kind, [Axis(k, [v]) for k, v in p.items()], fixed=base.fixed)
        res = tune(spec, make_net, ds, epochs=args.tuning_epochs or args.epochs, batch_size=args.batch_size,
                   seeds=args.tuning_seeds, max_extend=0, threads=args.threads,
                   log=lambda m: print(f"  {run[0]}: {m.strip()}", flush=True))
        trials += res.trials
    return trials


def merge_extra(runs: list, extra: dict) -> None:
    """Add the stored extra trials (``{run_key: [trial, ...]}``) to each run's TuneResult (in place)."""
    for _, t, run in runs:
        t.trials = list(t.trials) + list(extra.get(run_key(run), []))


def choose(runs: list, fixed: dict) -> list:
    """:func:`~fenchel_cvx.comparison.pooled_choice` of the runs' tunings, restricted to the points with the
    ``fixed`` values ({name: value}; regrets still against each run's best trial)."""
    rows = [r for r in pooled_choice([t for _, t, _ in runs])
            if all(grid_value(r["params"].get(k, v)) == grid_value(v) for k, v in fixed.items())]
    if not rows:
        raise SystemExit(f"--fixed: no pooled point has {fixed}")
    return rows


def edges(runs: list, method: str, fixed: dict) -> tuple:
    """(the pooled grid's axes, [(axis, side)] of the free axes whose edge holds the pooled choice, the choice)."""
    axes = common_axes([t for _, t, _ in runs], method)
    best = choose(runs, fixed)[0]["params"]
    return axes, [(a, a.edge(best[a.name])) for a in axes
                  if a.name not in fixed and a.edge(best[a.name]) is not None], best


def extend(runs: list, extra: dict, extra_path: str, method: str, fixed: dict, max_extend: int = 3) -> list:
    """Module docstring: while the pooled choice sits on an extendable edge of the common grid (axes not in
    ``fixed``), train the next value's points (× the common values of the other free axes, × the ``fixed`` values)
    on every run that lacks them (saved to ``extra_path`` after each run). Returns the axes still on an edge."""
    on_edge = []
    for done in range(max_extend + 1):
        axes, on_edge, best = edges(runs, method, fixed)
        if not on_edge or done == max_extend:
            break
        for a, side in on_edge:
            v = a.extend(side)
            others = [Axis(b.name, [fixed[b.name]]) if b.name in fixed else b for b in axes if b.name != a.name]
            pts = [dict(q, **{a.name: v}) for q in MethodSpec("", "adam", others).points()]
            print(f"pooled choice {best} on the {side} edge of {a.name}: extending to {v:g} ({len(pts)} points)")
            for label, t, run in runs:
                tried = {point_key(tr["params"]) for tr in t.trials}
                todo = [q for q in pts if point_key(q) not in tried]
                if not todo:
                    continue
                print(f"  {label}: training {len(todo)} points", flush=True)
                new = train_points(run, todo, method)
                t.trials = list(t.trials) + new
                extra.setdefault(run_key(run), []).extend(new)
                with open(extra_path, "w") as fh:
                    json.dump(extra, fh, indent=1)
    return [a.name for a, _ in on_edge]


def same_point(a: dict, b: dict) -> bool:
    """Grid points equal as :func:`pooled_choice` matches them (:func:`~fenchel_cvx.comparison.point_key`)."""
    return point_key(a) == point_key(b)


def table(runs: list, rows: list, top: int, shipped: dict) -> str:
    """A markdown table of the ``top`` pooled rows (regrets in accuracy points) and the shipped preset's row."""
    head = "| rank | setting | " + " | ".join(f"regret, run {i + 1}" for i in range(len(runs))) + " | mean regret |"
    lines = [head, "|" + "---|" * (len(runs) + 3)]
    for i, r in enumerate(rows):
        mark = " (shipped)" if same_point(r["params"], shipped) else ""
        if i < top or mark:
            p = ", ".join(f"{k}={v:g}" for k, v in r["params"].items())
            lines.append(f"| {i + 1} | {p}{mark} | " + " | ".join(f"{100 * x:.2f}" for x in r["regrets"])
                         + f" | {100 * r['mean_regret']:.2f} |")
    runs_text = "\n".join(f"- run {i + 1}: {label}" for i, (label, _) in enumerate(runs))
    return "\n".join(lines) + "\n\n" + runs_text


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", default=list(RUNS), help="comparison JSONs written by benchmarks/compare.py "
                   "(default: the four dense runs with full-length tuning trials)")
    p.add_argument("--method", default="lifted", help="the tuned method whose choice is pooled (default: lifted)")
    p.add_argument("--top", type=int, default=10, help="rows shown (default 10; the shipped preset's row always)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "default_choice.md"), help="markdown written")
    p.add_argument("--extra", default=os.path.join(HERE, "results", "default_choice.json"),
                   help="extension trials, read and (with --extend) written (default: %(default)s)")
    p.add_argument("--fixed", nargs="*", default=["rho=0"], metavar="NAME=VALUE",
                   help="hyperparameters held at a value (default: rho=0 -- ρ is the network's weight decay, not a "
                        "schedule field, and the default network has ρ = 0)")
    p.add_argument("--extend", action="store_true",
                   help="train the points of an extension of the common grid when the pooled choice is on its edge")
    args = p.parse_args(argv)
    if args.top < 1:
        p.error(f"--top: expected a positive integer, got {args.top}")
    fixed = {}
    for item in args.fixed:
        name, _, value = item.partition("=")
        try:
            fixed[name] = float(value)
        except ValueError:
            p.error(f"--fixed: expected NAME=NUMBER, got {item!r}")
    runs = load_runs(args.runs, args.method)
    extra = {}
    if os.path.isfile(args.extra):
        with open(args.extra) as fh:
            extra = json.load(fh)
    merge_extra(runs, extra)
    if args.extend:
        if HERE not in sys.path:  # compare.py's parser and data loading rebuild each run's protocol
            sys.path.append(HERE)
        edge = extend(runs, extra, args.extra, args.method, fixed)
    else:
        edge = [a.name for a, _ in edges(runs, args.method, fixed)[1]]
    rows = choose(runs, fixed)
    shipped = shipped_point()
    text = table([(label, t) for label, t, _ in runs], rows, args.top, shipped)
    if edge:
        text += (f"\n\nThe pooled choice is on an edge of the common grid ({', '.join(edge)})"
                 + ("" if args.extend else ": `--extend` trains the next values") + ".")
    rel = [os.path.relpath(r, os.path.dirname(HERE)) for r in args.runs]
    header = (f"`python benchmarks/default_choice.py{' --runs ' + ' '.join(rel) if args.runs != list(RUNS) else ''}`"
              f": {args.method}'s grid points tried in all {len(runs)} runs, by mean validation regret [points of "
              f"accuracy] (run's best − point's)" + (f", {fixed} held fixed" if fixed else "")
              + (f"; with {sum(map(len, extra.values()))} extension trials from `{os.path.relpath(args.extra)}`"
                 if extra else "") + "\n\n")
    print(header + text)
    verdict = ("the shipped preset is the pooled choice" if same_point(rows[0]["params"], shipped)
               else f"the shipped preset ({shipped}) is NOT the pooled choice ({rows[0]['params']})")
    print(verdict)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(header + text + "\n\n" + verdict + "\n")
    return rows


if __name__ == "__main__":
    main()

"""The README's table of certified brackets: every stored certify result in one table (issue 15, "What must show").

Runs nothing. Reads the results that these commands wrote, and prints one markdown table
instance (d, architecture, loss, m) -> lower bound, upper bound, relative gap, time, the method that gave each
bound, and the run (the command) that produced the row:

* (A) ``python benchmarks/certify.py`` -> ``results/certify.json``: SCIP's global bounds on tiny networks of
  every kind the global models cover (measured at cb444ec, before ``certify`` added the two-layer convex
  certificate to its default lower bounds);
* (B) ``python benchmarks/certify_convex.py`` -> ``results/certify_convex.json``: the two-layer convex
  certificate at m = 200;
* (C) ``fenchel-cvx certify ... --json results/certify_cli_*.json`` (commands in :data:`CLI_RUNS`): the
  command line on the instances of (A) where the convex certificate or the vector dual bound applies, without
  SCIP, and on the two-hidden-layer instance of (A) with 300 L-BFGS starts (time: the whole run's CPU seconds
  where the results store it).

    python benchmarks/certify_table.py            # prints the table (the README's "Certified brackets")
"""

from __future__ import annotations

import argparse
import json
import os

from fenchel_cvx.certify.report import format_gap

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

#: results file of each CLI row -> the command that wrote it
CLI_RUNS = {
    "certify_cli_1-2-1.json": "fenchel-cvx certify --arch 1-2-1 --samples 6 --seed 1 --rho 0.1 --no-standard --lams "
                              "--json benchmarks/results/certify_cli_1-2-1.json",
    "certify_cli_2-3-2.json": "fenchel-cvx certify --arch 2-3-2 --loss logistic --dataset moons --samples 8 --seed 0 "
                              "--rho 0.1 --no-standard --lams --json benchmarks/results/certify_cli_2-3-2.json",
    "certify_cli_2-3-2-squared.json": "fenchel-cvx certify --arch 2-3-2 --samples 8 --seed 0 --rho 0.1 --starts 300 "
                                      "--bcd-starts 0 --no-standard --lams "
                                      "--json benchmarks/results/certify_cli_2-3-2-squared.json",
    "certify_cli_2-3-3-1.json": "fenchel-cvx certify --arch 2-3-3-1 --samples 8 --seed 0 --rho 0.1 --starts 300 "
                                "--bcd-starts 0 --lams --time-limit 300 --json "
                                "benchmarks/results/certify_cli_2-3-3-1.json",
}
RUNS = {"A": "python benchmarks/certify.py", "B": "python benchmarks/certify_convex.py",
        **{f"C{i + 1}": cmd for i, cmd in enumerate(CLI_RUNS.values())}}
#: the methods' names as the benchmark files store them -> as the table shows them
METHOD = {"certified dual (exact oracle, all patterns)": "two-layer convex dual bound",
          "two-layer convex reformulation, dual bound": "two-layer convex dual bound",
          "recovered network": "network recovered from the convex program",
          "network recovered from the convex reformulation": "network recovered from the convex program"}


def _load(name: str):
    with open(os.path.join(RESULTS, name), encoding="utf-8") as fh:
        return json.load(fh)


def _row(d, arch, loss, m, data, lower, lower_from, upper, upper_from, gap, time, run) -> dict:
    return {"d": d, "architecture": arch, "loss": loss, "m": m, "data": data, "lower": lower,
            "lower_from": METHOD.get(lower_from, lower_from), "upper": upper,
            "upper_from": METHOD.get(upper_from, upper_from), "rel_gap": gap, "time": time, "run": run}


def _loss_name(loss: str, k: int) -> str:
    return "logistic (2-class CE)" if loss in ("logistic", "cross_entropy") and k == 2 else (
        f"{k}-class CE" if loss == "cross_entropy" else "squared")


def rows() -> list:
    """The rows of the table from the stored results, (A) then (C) then (B)."""
    out = []
    scip = _load("certify.json")
    for (arch, act, loss, data, m, seed, _dual), r in zip(scip["config"]["instances"], scip["rows"], strict=True):
        sizes = [int(v) for v in arch.split("-")]
        out.append(_row(sizes[0], f"{sizes} {act}", _loss_name(loss, sizes[-1]), m,
                        f"{data}, ρ={scip['config']['rho']:g}, seed {seed}", r["lower"], r["lower_from"], r["upper"],
                        r["upper_from"], r["rel_gap"], f"{r['cpu']:.0f} CPU ({r['wall']:.0f} wall)", "A"))
    for i, name in enumerate(CLI_RUNS):
        r = _load(name)
        br = r["bracket"]
        sizes = r["sizes"]
        (lo,) = [b for b in r["bounds"] if b["side"] == "lower" and b["provenance"] == br["lower_from"]]
        cmd = CLI_RUNS[name]
        data = "moons" if "moons" in cmd else "teacher"
        out.append(_row(sizes[0], f"{sizes} relu", _loss_name(r["kind"].split(", ")[-1], sizes[-1]), r["m"],
                        f"{data}, ρ={r['rho'][0]:g}, seed {cmd.split('--seed ')[1].split()[0]}", br["lower"],
                        br["lower_from"], br["upper"], br["upper_from"], br["rel_gap"],
                        f"{r['cpu_time']:.1f} CPU (whole run)" if "cpu_time" in r else
                        f"{lo['time']:.2f} wall (certificate)", f"C{i + 1}"))
    convex = _load("certify_convex.json")
    for r in convex["rows"]:
        k = 1 if r["loss"] == "squared" else 2
        out.append(_row(r["d"], f"[{r['d']}, {r['n']}, {k}] relu", _loss_name(r["loss"], k), r["m"],
                        f"{'teacher' if k == 1 else 'moons'}, ρ={r['rho']:g}, seed {r['seed']}", r["lower"],
                        r["lower_from"], r["upper"], r["upper_from"], r["rel_gap"],
                        f"{r['cpu_time']:.1f} CPU ({r['time']:.1f} wall)", "B"))
    return out


def markdown(table_rows: list) -> str:
    out = ["| d | architecture | loss | m | data | lower bound on min J (method) | upper bound on min J (method) "
           "| rel. gap | time (s) | run |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table_rows:
        out.append(f"| {r['d']} | {r['architecture']} | {r['loss']} | {r['m']} | {r['data']} "
                   f"| {r['lower']:.10g} ({r['lower_from']}) | {r['upper']:.10g} ({r['upper_from']}) "
                   f"| {format_gap(r['rel_gap'])} | {r['time']} | {r['run']} |")
    out.append("")
    out += [f"({key}) `{cmd}`" + ("  " if i < len(RUNS) - 1 else "") for i, (key, cmd) in enumerate(RUNS.items())]
    return "\n".join(out)


def main(argv=None) -> str:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    md = markdown(rows())
    print(md)
    return md


if __name__ == "__main__":
    main()

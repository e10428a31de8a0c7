"""Regenerate every paper figure and the markdown results table, from scratch, with caching.

    python paper_figures/make_figures.py            # full runs  -> paper_figures/figures/
    python paper_figures/make_figures.py --quick    # tiny runs  -> paper_figures/.cache/quick/figures/ (CI smoke test)
    python paper_figures/make_figures.py --only blocks,relaxation --force

Sections (each a module ``fig_<name>.py`` in this folder; ``--only`` selects some):

* ``training``   -- lifted BCD, MM→adaptive, Adam and SGD under an equal tuning budget (``fenchel_cvx.comparison``),
                    784-300-10: test accuracy vs epoch and vs time, drawn from ``benchmarks/results/compare*.json``;
* ``lenet``      -- the same for LeNet-5;
* ``relaxation`` -- the relaxation gap vs λ on tiny problems (certified bounds);
* ``blocks``     -- fast path vs CVXPY reference: time and objective gap per block kind and size.

Every finished run (one training curve, one block timing, one λ) is cached as JSON under
``--cache`` (default ``paper_figures/.cache/``, keyed by its parameters and by a hash of the
library source it depends on), so an interrupted run resumes and a re-run only redraws; a change
of the library code a section depends on recomputes that section's runs. The figures (PNG) and
``results.md`` (one markdown table per section, with the command that regenerates it) go to
``--out``; a run with ``--only`` rewrites its sections of results.md and keeps the others' latest
text. numpy's BLAS runs on one thread (``OPENBLAS_NUM_THREADS`` etc. default to 1 here) and the
backprop baselines use one torch thread, so the times are single-core.

Full mode costs about 6 minutes of one core from an empty cache (measured on a shared 2-core
machine: relaxation ~3, blocks ~2.5; training and lenet draw the stored results of
``benchmarks/compare.py`` in seconds -- the comparisons themselves take 15-37 minutes each and are
run by that script); quick mode about 20 seconds (training and lenet run the protocol at a tiny size).

A section whose library piece has not landed yet is reported as MISSING with the module it
waits on; the exit status is then 3 (0 with ``--allow-missing``). A section that fails is
reported with its traceback and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# one thread for numpy's BLAS (set before numpy is imported; an explicit setting in the environment wins):
# the timings in the figures are single-core and comparable between methods
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from _cache import RunCache  # noqa: E402
from _fig_util import Missing  # noqa: E402

SECTIONS = ["training", "lenet", "relaxation", "blocks"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny runs (smoke test; separate cache and output folders)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    p.add_argument("--out", default=None, help="folder for the PNGs and results.md (default paper_figures/figures, "
                                               "or paper_figures/.cache/quick/figures with --quick)")
    p.add_argument("--cache", default=None, help="cache folder (default paper_figures/.cache[/quick])")
    p.add_argument("--force", action="store_true", help="ignore cached runs and recompute them")
    p.add_argument("--allow-missing", action="store_true",
                   help="exit 0 even when sections wait on library pieces that have not landed")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        p.error(f"--only: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    args.only = only
    base_cache = os.path.join(HERE, ".cache")
    if args.cache is None:
        args.cache = os.path.join(base_cache, "quick") if args.quick else base_cache
    if args.out is None:
        args.out = os.path.join(base_cache, "quick", "figures") if args.quick else os.path.join(HERE, "figures")
    return args


def command_line(section: str, quick: bool) -> str:
    return f"python paper_figures/make_figures.py --only {section}" + (" --quick" if quick else "")


def section_markdown(name: str, res, quick: bool, out_dir: str) -> str:
    """The markdown of one section of results.md (a result, MISSING or FAILED)."""
    if isinstance(res, Missing):
        return "\n".join([f"## {name}: MISSING", "", f"Not generated: waiting on `{res.module}` -- {res.what}.", ""])
    if isinstance(res, str):  # a failure
        return "\n".join([f"## {name}: FAILED", "", "```", res.strip()[-3000:], "```", ""])
    lines = [f"## {res.title}", "", f"Regenerate: `{command_line(name, quick)}` "
             f"(drawn {time.strftime('%Y-%m-%d %H:%M')} from the cached runs)", ""]
    for fig in res.figures:
        rel = os.path.relpath(fig, out_dir)
        lines += [f"![{os.path.splitext(os.path.basename(fig))[0]}]({rel})", ""]
    if res.table:
        lines += [res.table, ""]
    lines += [f"- {n}" for n in res.notes]
    lines.append("")
    return "\n".join(lines)


def _fragment_dir(cache_dir: str, out_dir: str) -> str:
    """Where the markdown of each section is kept between runs (per output folder), so that a run with
    ``--only`` rewrites its sections of results.md and keeps the others."""
    import hashlib

    tag = hashlib.sha256(os.path.abspath(out_dir).encode()).hexdigest()[:10]
    return os.path.join(cache_dir, "results-md", tag)


def _sections_of(path: str, quick: bool) -> dict:
    """The sections of an existing results.md at ``path``, by name: each "## " chunk is recognised by its
    ``--only NAME`` regenerate command ({} when there is no such file)."""
    if not os.path.isfile(path):
        return {}
    with open(path) as fh:
        chunks = re.split(r"(?m)^(?=## )", fh.read())[1:]
    found = {}
    for name in SECTIONS:
        tag = f"`{command_line(name, quick)}`"
        for chunk in chunks:
            if tag in chunk:
                found[name] = chunk.rstrip("\n") + "\n"
    return found


def write_results(path: str, results: dict, quick: bool, out_dir: str, cache_dir: str | None = None):
    """Write results.md: the sections just run, and the latest markdown of the others — from ``cache_dir``,
    else from the results.md already at ``path`` (a fresh checkout has no cache: ``--only`` keeps the other
    sections as they were committed)."""
    frag_dir = _fragment_dir(cache_dir, out_dir) if cache_dir else None
    previous = _sections_of(path, quick)
    parts = {}
    for name in SECTIONS:
        if name in results:
            parts[name] = section_markdown(name, results[name], quick, out_dir)
            if frag_dir:
                os.makedirs(frag_dir, exist_ok=True)
                with open(os.path.join(frag_dir, f"{name}.md"), "w") as fh:
                    fh.write(parts[name])
        elif frag_dir and os.path.isfile(os.path.join(frag_dir, f"{name}.md")):
            with open(os.path.join(frag_dir, f"{name}.md")) as fh:
                parts[name] = fh.read()
        elif name in previous:
            parts[name] = previous[name]
    lines = ["# Results" + (" (quick mode: tiny sizes, smoke test only)" if quick else ""), "",
             f"Generated by `python paper_figures/make_figures.py{' --quick' if quick else ''}` (all sections; "
             "`--only SECTION` regenerates one). Every number below is recomputed from the cached runs "
             "(`paper_figures/.cache/`).", ""]
    lines += [parts[n] for n in SECTIONS if n in parts]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    print(f"wrote {path}")


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    cache = RunCache(args.cache, force=args.force)
    results = {}
    t_all = time.perf_counter()
    for name in args.only:
        print(f"== section {name} ==", flush=True)
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"fig_{name}")
            results[name] = mod.run(cache, args.out, args.quick)
            print(f"   {name}: done in {time.perf_counter() - t0:.1f} s")
        except Missing as e:
            results[name] = e
            print(f"   {name}: MISSING -- {e}")
        except Exception:  # noqa: BLE001 - report and go on with the other sections
            tb = traceback.format_exc()
            results[name] = tb
            print(f"   {name}: FAILED\n{tb}", file=sys.stderr)
    write_results(os.path.join(args.out, "results.md"), results, args.quick, args.out, args.cache)
    missing = [n for n, r in results.items() if isinstance(r, Missing)]
    failed = [n for n, r in results.items() if isinstance(r, str)]
    print(f"\n{len(results) - len(missing) - len(failed)} section(s) done, {len(missing)} missing, {len(failed)} "
          "failed "
          f"in {time.perf_counter() - t_all:.1f} s (cache: {cache.hits} hits, {cache.misses} runs)")
    for n in missing:
        print(f"  MISSING {n}: {results[n]}")
    for n in failed:
        print(f"  FAILED  {n}")
    if failed:
        return 1
    if missing and not args.allow_missing:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

r"""The protocol of the fair comparisons of lifted training and backprop: equal tuning budgets, equal epochs,
equal time.

The protocol (docs/design.md, fair comparisons; what ``benchmarks/compare.py`` and the paper figure run):

1. **Tuning on a validation split only.** The training set is split 90/10 (stratified, seeded). Every method
   is tuned by the same routine, :func:`tune`: a grid over its search space (:class:`~fenchel_cvx.comparison.grids.
   MethodSpec`), each grid
   point trained for ``epochs`` epochs on the 90 % part once per *tuning seed* and scored by the mean
   validation score after the last epoch (accuracy; −MSE for regression). A log-spaced axis whose best value
   lies on an edge of its grid is extended by one step beyond that edge and the new points are trained too,
   repeatedly (at most ``max_extend`` times); a choice that still sits on an edge is flagged. The test set is
   never used for a choice. Every method gets the same number of base grid points (the budget; checked by
   :func:`compare`); extensions add trials, which are counted and reported per method.
2. **Final runs on other seeds.** Each method, with its chosen hyperparameters, trains on the whole training
   set and is evaluated on the test set after every epoch, once per *final seed* (disjoint from the tuning
   seeds), all methods from the same initialisation and with the same batch order. The runs of one seed are
   **interleaved epoch by epoch in one process** (one epoch of each method in turn), so that all methods see
   the same machine load; per-epoch training times give the cost ratio.
3. **Report** (:class:`Comparison`): test scores at equal epochs (mean ± std over the final seeds),
   seconds per epoch and their ratio to a reference method, accuracy against cumulative training time, the
   time each method first reaches given accuracies, and every method's accuracy at equal time T (the
   shortest total training time among the methods).

Hyperparameter names of a spec: ``lr``, ``momentum`` (backprop); any :class:`~fenchel_cvx.training.BCDConfig`
field, ``gamma_hidden`` / ``gamma_last`` (the proximal weights of the hidden / output W-steps) (lifted); ``rho``
(both: the network's weight decay). Shapes: data sets are features x samples (:class:`fenchel_cvx.data.Dataset`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..validation import check_int
from .grids import LIFTED, MethodSpec

__all__ = ["TuneResult", "Comparison", "tune", "compare", "final_runs", "make_runner", "pooled_choice", "point_key",
           "grid_value"]


# =====================================================================================
# one run
# =====================================================================================
@contextlib.contextmanager
def _blas_threads(n):
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=int(n)):
        yield


def make_runner(spec: MethodSpec, params: dict, net, X, y, X_test=None, y_test=None, X_val=None, y_val=None, *,
                epochs: int, batch_size: int, seed: int, dtype: str = "float32", threads: int | None = 1):
    """A trainer of ``spec`` with hyperparameters ``params`` on ``net`` (its weights are the initialisation;
    ``rho`` in params sets its weight decay), not yet run: ``iterate()`` yields per-epoch records, ``result()``
    the :class:`~fenchel_cvx.training.TrainResult`."""
    params = dict(params)
    if "rho" in params:
        net.rho = np.full(net.L + 1, float(params.pop("rho")))
    common = dict(verbose=0, progress=False)
    if spec.kind == LIFTED:
        from ..backend import check_backend
        from ..training import Trainer, prepare_data, resolve_config

        fields = dict(spec.fixed)
        gh, gl = params.pop("gamma_hidden", None), params.pop("gamma_last", None)
        if gh is not None or gl is not None:
            base = fields.get("gamma", 0.1)
            base = list(np.broadcast_to(np.asarray(base, dtype=float), (net.L + 1,)))
            if gh is not None:
                base[:net.L] = [float(gh)] * net.L
            if gl is not None:
                base[net.L] = float(gl)
            fields["gamma"] = base
        fields.update(params)
        fields.update(epochs=epochs, batch_size=batch_size, seed=seed, dtype=dtype, restore_best=False)
        cfg = resolve_config(net, fields, {}, spec.name)
        check_backend(cfg.backend, cfg.device)
        data = prepare_data(net, X, y, X_test, y_test, X_val, y_val, 0.0, seed)
        return Trainer(net, data, cfg, **common)
    from ..baselines import make_backprop_trainer

    opts = dict(spec.fixed)
    opts.update(params)
    return make_backprop_trainer(net, X, y, X_test, y_test, X_val=X_val, y_val=y_val, method=spec.kind,
                                 epochs=epochs, batch_size=batch_size, seed=seed, dtype=dtype, threads=threads,
                                 restore_best=False, **opts, **common)


def _score_key(net) -> str:
    return net.loss.metric


def _score(rec: dict, prefix: str, key: str) -> float:
    v = rec[f"{prefix}_{key}"]
    return v if key == "acc" else -v


# =====================================================================================
# tuning
# =====================================================================================
@dataclass
class TuneResult:
    """The tuning of one method: ``best`` hyperparameters, every ``trials`` entry (params, per-seed validation
    scores, mean), the number of base grid points (``budget``) and of extension trials, and the axes whose
    chosen value still sits on an edge after ``max_extend`` extensions (``on_edge``)."""

    method: str
    best: dict
    best_score: float
    trials: list
    budget: int
    extensions: list
    on_edge: list
    grid: dict
    seconds: float

    @property
    def n_trials(self) -> int:
        return len(self.trials)

    def to_dict(self) -> dict:
        return {"method": self.method, "best": self.best, "best_score": self.best_score, "budget": self.budget,
                "n_trials": self.n_trials, "extensions": self.extensions, "on_edge": self.on_edge,
                "grid": self.grid, "seconds": self.seconds, "trials": self.trials}

    @classmethod
    def from_dict(cls, d: dict) -> TuneResult:
        """The inverse of :meth:`to_dict` (e.g. read back from ``benchmarks/results/compare*.json``)."""
        return cls(method=d["method"], best=dict(d["best"]), best_score=float(d["best_score"]),
                   trials=list(d["trials"]), budget=int(d["budget"]), extensions=list(d["extensions"]),
                   on_edge=list(d["on_edge"]), grid=dict(d["grid"]), seconds=float(d["seconds"]))


def tune(spec: MethodSpec, make_net: Callable, data, *, epochs: int, batch_size: int = 500,
         seeds: Sequence[int] = (100, 101), val_fraction: float = 0.1, split_seed: int = 0,
         max_extend: int = 3, dtype: str = "float32", threads: int | None = 1, progress: bool = False,
         log: Callable | None = None) -> TuneResult:
    """Grid search of ``spec`` on a validation split of ``data``'s training set (module docstring, step 1).

    ``make_net(seed)`` returns a fresh network initialised from ``seed``; ``data`` is a
    :class:`~fenchel_cvx.data.Dataset`. Each grid point is scored by the mean over ``seeds`` of the validation
    score after ``epochs`` epochs. Returns a :class:`TuneResult`.
    """
    check_int(epochs, "epochs", 1)
    if not seeds:
        raise ValueError("seeds: expected at least one tuning seed")
    Xtr, ytr, Xva, yva = data.split_validation(val_fraction, seed=split_seed)
    axes = [dataclasses.replace(a, values=list(a.values)) for a in spec.axes]
    t0 = time.perf_counter()
    trials: list = []
    done: dict = {}

    def run_points(points):
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(points) * len(seeds), desc=f"tune {spec.name}", leave=False)
        for p in points:
            key = json.dumps(p, sort_keys=True)
            if key in done:
                continue
            scores = []
            for s in seeds:
                net = make_net(s)
                metric = _score_key(net)
                runner = make_runner(spec, p, net, Xtr, ytr, X_val=Xva, y_val=yva, epochs=epochs,
                                     batch_size=batch_size, seed=s, dtype=dtype, threads=threads)
                with _blas_threads(threads):
                    try:
                        records = list(runner.iterate())
                        scores.append(_score(records[-1], "val", metric))
                    except FloatingPointError:  # diverged: the worst score (a legitimate outcome of a grid point)
                        scores.append(-math.inf)
                if bar is not None:
                    bar.update(1)
            mean = float(np.mean(scores))
            done[key] = mean
            trials.append({"params": p, "scores": scores, "mean": mean})
            if log is not None:
                log(f"  tune {spec.name}: {p} -> validation {mean:.4f}")
        if bar is not None:
            bar.close()

    run_points(list(spec.points(axes)))
    extensions: list = []
    for _ in range(int(max_extend)):
        best = max(trials, key=lambda t: t["mean"])["params"]
        new_points = []
        for a in axes:
            side = a.edge(best.get(a.name))
            if side is None:
                continue
            v = a.extend(side)
            extensions.append({"axis": a.name, "side": side, "value": v})
            others = [b for b in axes if b is not a]
            for combo in itertools.product(*[b.values for b in others]):
                p = dict(zip([b.name for b in others], combo, strict=True))
                p[a.name] = v
                new_points.append({b.name: p[b.name] for b in axes})
        if not new_points:
            break
        run_points(new_points)
    bt = max(trials, key=lambda t: t["mean"])
    on_edge = [a.name for a in axes if a.edge(bt["params"].get(a.name)) is not None]
    return TuneResult(method=spec.name, best=bt["params"], best_score=bt["mean"], trials=trials, budget=spec.budget,
                      extensions=extensions, on_edge=on_edge, grid={a.name: a.values for a in axes},
                      seconds=time.perf_counter() - t0)


def grid_value(v):
    """A hyperparameter value as grid points are matched (:func:`pooled_choice`): a number (int or float, not bool)
    as the float of its 12 significant digits -- an extension's value computed twice may differ in the last bit --,
    anything else as it is."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        return float(f"{float(v):.12g}")
    return v


def point_key(params: dict) -> str:
    """The identity of a grid point ``params`` ({name: value}) as :func:`pooled_choice` matches points: its names and
    :func:`grid_value` of its values, as a string."""
    return json.dumps({k: grid_value(v) for k, v in params.items()}, sort_keys=True)


def pooled_choice(tunings: Sequence[TuneResult]) -> list:
    """One setting for several data sets: the grid points of a method tried in **every** run of ``tunings``
    (the :class:`TuneResult` of one method on several data sets or budgets), ranked by mean validation regret.

    For run r with trials {p: s_r(p)} (mean validation score over the tuning seeds) the regret of point p is
    R_r(p) = max_q s_r(q) − s_r(p) ≥ 0 (against the run's best trial, extensions included); the points are ranked
    by the mean (1/n) Σ_r R_r(p) over the n runs, smallest first (ties: the order of the first run's trials).
    Points match by their parameters (:func:`point_key`: numbers compared to 12 significant digits). Returns a list of
    ``{"params": dict, "regrets": [R_1, …, R_n], "mean_regret": float}``. Raises ``ValueError`` when ``tunings``
    is empty, mixes methods, or no point was tried in every run."""
    tunings = list(tunings)
    if not tunings:
        raise ValueError("tunings: expected at least one TuneResult")
    if len({t.method for t in tunings}) > 1:
        raise ValueError(f"tunings: one method's runs expected, got {sorted({t.method for t in tunings})}")

    per_run = []
    for t in tunings:
        best = max(tr["mean"] for tr in t.trials)
        per_run.append({point_key(tr["params"]): (tr["params"], best - tr["mean"]) for tr in t.trials})
    common = [k for k in per_run[0] if all(k in r for r in per_run[1:])]
    if not common:
        raise ValueError("tunings: no grid point was tried in every run")
    rows = [{"params": dict(per_run[0][k][0]), "regrets": [float(r[k][1]) for r in per_run],
             "mean_regret": float(np.mean([r[k][1] for r in per_run]))} for k in common]
    return sorted(rows, key=lambda row: row["mean_regret"])


# =====================================================================================
# final runs and the comparison
# =====================================================================================
def final_runs(specs: dict, chosen: dict, make_net: Callable, data, *, epochs: int, batch_size: int = 500,
               seeds: Sequence[int] = (0, 1, 2), dtype: str = "float32", threads: int | None = 1,
               log: Callable | None = None) -> dict:
    """Module docstring, step 2: for each seed, every method from ``make_net(seed)`` with its ``chosen``
    hyperparameters, trained on the whole training set with the test score after every epoch, the methods'
    epochs interleaved in one process. Returns ``{method: [history per seed]}``."""
    out = {name: [] for name in specs}
    for s in seeds:
        runners = {name: make_runner(spec, chosen.get(name, {}), make_net(s), data.X_train, data.y_train,
                                     data.X_test, data.y_test, epochs=epochs, batch_size=batch_size, seed=s,
                                     dtype=dtype, threads=threads)
                   for name, spec in specs.items()}
        gens = {name: r.iterate() for name, r in runners.items()}
        live = dict(gens)
        with _blas_threads(threads):
            while live:
                for name in list(live):
                    try:
                        next(live[name])
                    except StopIteration:
                        del live[name]
        for name, r in runners.items():
            out[name].append(r.result().history)
        if log is not None:
            key = _score_key(make_net(s))
            log(f"  seed {s}: " + "  ".join(f"{n} {h[-1]['test_' + key]:.4f} "
                                            f"({h[-1]['time'] / max(1, h[-1]['epoch']):.2f} s/ep)"
                                            for n, hs in out.items() for h in hs[-1:]))
    return out


@dataclass
class Comparison:
    """The outcome of :func:`compare`: tuning results and final histories per method, and the views of the
    module docstring's step 3. ``reference`` is the method the time ratios are taken against ("adam")."""

    dataset: str
    arch: str
    epochs: int
    tuning: dict
    histories: dict
    final_seeds: list
    tuning_seeds: list
    reference: str = "adam"
    metric: str = "acc"

    # ---- views -------------------------------------------------------------------------------
    def scores(self, method: str) -> np.ndarray:
        """Test scores, seeds x (epochs + 1) (epoch 0 = initialisation)."""
        key = f"test_{self.metric}"
        return np.array([[r[key] for r in h] for h in self.histories[method]], dtype=float)

    def times(self, method: str) -> np.ndarray:
        """Cumulative training seconds, seeds x (epochs + 1)."""
        return np.array([[r["time"] for r in h] for h in self.histories[method]], dtype=float)

    def seconds_per_epoch(self, method: str) -> float:
        t = self.times(method)
        return float(np.mean(t[:, -1] / np.maximum(1, t.shape[1] - 1)))

    def at_epochs(self, epochs=(1, 3, 5, 10, 20)) -> dict:
        """{method: {epoch: (mean, std)}} of the test score at the given epochs (those that were run)."""
        out = {}
        for m in self.histories:
            S = self.scores(m)
            out[m] = {e: (float(S[:, e].mean()), float(S[:, e].std())) for e in epochs if e < S.shape[1]}
        return out

    def time_ratio(self, method: str) -> float:
        """Seconds per epoch of ``method`` / of the reference method (epochs interleaved in one process)."""
        return self.seconds_per_epoch(method) / self.seconds_per_epoch(self.reference)

    def time_to(self, threshold: float) -> dict:
        """{method: mean over seeds of the cumulative training time at the first epoch whose test score ≥
        ``threshold`` (None when a seed never reaches it)}."""
        out = {}
        for m in self.histories:
            S, T = self.scores(m), self.times(m)
            ts = []
            for s_row, t_row in zip(S, T, strict=True):
                hit = np.flatnonzero(s_row[1:] >= threshold)
                ts.append(float(t_row[1 + hit[0]]) if hit.size else None)
            out[m] = None if any(t is None for t in ts) else float(np.mean(ts))
        return out

    def at_equal_time(self) -> tuple[float, dict]:
        """(T, {method: (mean, std) of the test score of the last epoch finished by time T}), T = the shortest
        mean total training time among the methods."""
        T = min(float(self.times(m)[:, -1].mean()) for m in self.histories)
        out = {}
        for m in self.histories:
            S, Tm = self.scores(m), self.times(m)
            vals = [float(s_row[np.flatnonzero(t_row <= T + 1e-12)[-1]]) for s_row, t_row in zip(S, Tm, strict=True)]
            out[m] = (float(np.mean(vals)), float(np.std(vals)))
        return T, out

    # ---- output ------------------------------------------------------------------------------
    def table(self, epochs=(1, 3, 5, 10, 20), thresholds=()) -> str:
        """A markdown table: per method the tuned hyperparameters and trials, the test score (%) at equal epochs,
        seconds per epoch and the ratio to the reference, the score at equal time and the times to thresholds."""
        epochs = tuple(sorted(set(epochs) | {self.epochs}))
        at = self.at_epochs(epochs)
        ep = [e for e in epochs if any(e in at[m] for m in at)]
        T, eq = self.at_equal_time()
        head = (["method", "tuned (validation)", "trials"] + [f"epoch {e}" for e in ep]
                + ["s/epoch", f"× {self.reference}", f"at {T:.1f} s"] + [f"time to {100 * t:g}%" for t in thresholds])
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        ttt = {t: self.time_to(t) for t in thresholds}
        for m in self.histories:
            tu = self.tuning.get(m)
            tuned = ", ".join(f"{k}={_fmt(v)}" for k, v in tu.best.items()) if tu else "not tuned (as shipped)"
            if tu is not None and tu.on_edge:
                tuned += f" (on edge: {', '.join(tu.on_edge)})"
            cells = [m, tuned or "-", str(tu.n_trials) if tu else "-"]
            cells += [f"{100 * at[m][e][0]:.2f} ± {100 * at[m][e][1]:.2f}" if e in at[m] else "-" for e in ep]
            cells += [f"{self.seconds_per_epoch(m):.2f}", f"{self.time_ratio(m):.2f}",
                      f"{100 * eq[m][0]:.2f} ± {100 * eq[m][1]:.2f}"]
            cells += ["never" if ttt[t][m] is None else f"{ttt[t][m]:.1f} s" for t in thresholds]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        T, eq = self.at_equal_time()
        return {"dataset": self.dataset, "arch": self.arch, "epochs": self.epochs, "reference": self.reference,
                "tuning_seeds": list(self.tuning_seeds), "final_seeds": list(self.final_seeds),
                "tuning": {m: t.to_dict() for m, t in self.tuning.items()},
                "at_epochs": {m: {str(e): v for e, v in d.items()} for m, d in self.at_epochs().items()},
                "seconds_per_epoch": {m: self.seconds_per_epoch(m) for m in self.histories},
                "time_ratio": {m: self.time_ratio(m) for m in self.histories},
                "equal_time": {"T": T, "scores": eq}, "metric": self.metric,
                "histories": self.histories}

    @classmethod
    def from_dict(cls, d: dict) -> Comparison:
        """The inverse of :meth:`to_dict`: the tuning results and histories (the views are recomputed)."""
        if missing := [k for k in ("dataset", "arch", "epochs", "tuning", "histories", "final_seeds", "tuning_seeds")
                       if k not in d]:
            raise ValueError(f"d: not a Comparison.to_dict() result, missing {missing}")
        hist = d["histories"]
        metric = "acc" if all("test_acc" in r for h in hist.values() for run in h for r in run) else "mse"
        return cls(dataset=d["dataset"], arch=d["arch"], epochs=int(d["epochs"]),
                   tuning={m: TuneResult.from_dict(t) for m, t in d["tuning"].items()}, histories=hist,
                   final_seeds=list(d["final_seeds"]), tuning_seeds=list(d["tuning_seeds"]),
                   reference=d.get("reference", "adam"), metric=d.get("metric", metric))

    def plot(self, ax=None, title: str | None = None):
        """Test score against cumulative training time (mean over seeds, one line per method; markers at
        epochs). Returns the matplotlib Figure (draws into ``ax`` when given)."""
        if ax is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(6, 4))
            ax = fig.add_subplot(1, 1, 1)
        else:
            fig = ax.figure
        base = {}
        for m in self.histories:
            S, T = self.scores(m), self.times(m)
            scale = 100.0 if self.metric == "acc" else 1.0
            name = m.removesuffix(" (default)").removesuffix(" (preset)")
            colour = base.setdefault(name, f"C{len(base)}")
            ax.plot(T.mean(axis=0), scale * S.mean(axis=0), "--" if m != name else "-", marker="o", ms=3,
                    color=colour, label=m)
        if self.metric == "acc" and self.epochs >= 1:  # the epochs after the first, not the initialisation
            lo = min(float(np.mean(self.scores(m)[:, 1])) for m in self.histories)
            hi = max(float(np.max(self.scores(m).mean(axis=0))) for m in self.histories)
            ax.set_ylim(max(0.0, 100 * lo - 3), min(100.0, 100 * hi + 1.5))
        ax.set_xlabel("training time (s, mean over seeds; evaluation excluded)")
        ax.set_ylabel(f"test {'accuracy (%)' if self.metric == 'acc' else 'MSE'}")
        ax.set_title(title or f"{self.dataset} {self.arch}")
        ax.grid(alpha=0.3)
        ax.legend()
        return fig


def _fmt(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def compare(specs: dict, make_net: Callable, data, *, epochs: int = 10, batch_size: int = 500,
            tuning_seeds: Sequence[int] = (100, 101), final_seeds: Sequence[int] = (0, 1, 2),
            tuning_epochs: int | None = None, max_extend: int = 3, dtype: str = "float32", threads: int | None = 1,
            reference: str = "adam", equal_budget: bool = True, dataset: str = "", arch: str = "",
            untuned: dict | None = None, tuned: dict | None = None, progress: bool = False,
            log: Callable | None = None) -> Comparison:
    """The whole protocol (module docstring): tune every method of ``specs`` ({name: MethodSpec}) with the
    same budget, then the interleaved final runs on ``final_seeds``; the methods of ``untuned`` ({name: MethodSpec},
    e.g. :func:`shipped_specs`) join the final runs with their fixed options, not tuned. ``tuned``
    ({name: TuneResult}) gives the tuning of some methods from an earlier run of the same protocol (same data,
    split, grids, tuning seeds and epochs: the caller's responsibility; the tuning is seeded, so a rerun chooses
    the same): those methods skip :func:`tune`, and each result must cover its spec's base grid. Raises
    ``ValueError`` when the tuning and final seeds overlap or (``equal_budget``) the methods' base grids differ in
    size."""
    if overlap := set(tuning_seeds) & set(final_seeds):
        raise ValueError(f"final_seeds: must differ from the tuning seeds, both contain {sorted(overlap)}")
    if len(final_seeds) < 1:
        raise ValueError("final_seeds: expected at least one seed")
    untuned = dict(untuned or {})
    if reference not in specs and reference not in untuned:
        raise ValueError(f"reference: {reference!r} is not one of the methods {sorted(specs) + sorted(untuned)}")
    if clash := set(specs) & set(untuned):
        raise ValueError(f"untuned: method names also in specs: {sorted(clash)}")
    budgets = {n: s.budget for n, s in specs.items()}
    if equal_budget and len(set(budgets.values())) > 1:
        raise ValueError(f"specs: unequal tuning budgets (base grid points per method: {budgets}); "
                         f"give every method the same number of trials or pass equal_budget=False")
    tuning = {}
    for name, given in (tuned or {}).items():
        if name not in specs:
            raise ValueError(f"tuned: {name!r} is not one of the tuned methods {sorted(specs)}")
        if missing := [a.name for a in specs[name].axes
                       if not set(map(float, a.values)) <= set(map(float, given.grid.get(a.name, [])))]:
            raise ValueError(f"tuned: the stored tuning of {name!r} does not cover the grid of axes {missing}")
        tuning[name] = given
    for name, spec in specs.items():
        if name in tuning:
            continue
        tuning[name] = tune(spec, make_net, data, epochs=tuning_epochs or epochs, batch_size=batch_size,
                            seeds=tuning_seeds, max_extend=max_extend, dtype=dtype, threads=threads,
                            progress=progress, log=log)
        if log is not None:
            log(f"{name}: best {tuning[name].best} (validation {tuning[name].best_score:.4f}, "
                f"{tuning[name].n_trials} "
                f"trials{', ON EDGE ' + str(tuning[name].on_edge) if tuning[name].on_edge else ''})")
    hist = final_runs({**specs, **untuned}, {n: t.best for n, t in tuning.items()}, make_net, data, epochs=epochs,
                      batch_size=batch_size, seeds=final_seeds, dtype=dtype, threads=threads, log=log)
    metric = _score_key(make_net(final_seeds[0]))
    return Comparison(dataset=dataset, arch=arch, epochs=epochs, tuning=tuning, histories=hist,
                      final_seeds=list(final_seeds), tuning_seeds=list(tuning_seeds), reference=reference,
                      metric=metric)

"""Benchmark of issue 8: lifted BCD on one process vs on Dask workers, bytes moved, and a cost model.

On ``mnist5k`` 784-300-10 (ReLU, cross-entropy, the tuned mini-batch schedule
``fenchel_cvx.training.tuned(1)``, batch 500, float64; 4,000 training images = 8 batches per epoch):

1. **Measured epochs**: ``fenchel_cvx.train`` (one process) and
   ``fenchel_cvx.training.dask.train_distributed`` on a LocalCluster of 2 single-threaded worker
   processes, same seed and schedule, run one after the other in this script (one run each; the
   ratio is from that run), for batch 500 (8 batches per epoch) and 4000 (one). Reported: seconds
   per epoch (training only, evaluation excluded), the final weights' difference, the payload bytes
   the driver sent and received per epoch (``nbytes`` of the arrays in task arguments and gathered
   results, counted by the runner), the bytes the workers sent to each other and to the driver
   (Dask's transfer log), and each worker's busy time (Dask's task stream).
2. **Shard-size measurements**: the per-shard tasks of one batch (``_batch_start``: forward,
   X-steps, first reduction of W_0; ``_advance``: refresh and first reduction of W_1; ``_mm_round``:
   one MM step of W_1) timed in this process on shards of m_B/P columns for P = 1..64; the driver's
   work (summing P parts, the Cholesky factorisations and solves); the round-trip latency of a
   task chain on the cluster with tiny payloads and the driver's gather bandwidth.
3. **Cost model** (per batch, P shards on P workers, the driver gathers directly):

       T_batch(P) = Σ_tasks t_task(m_B/P) + rounds·latency + P·bytes_shard/bandwidth + t_driver(P)

   with rounds = w_iters + last_w_iters = 6, bytes_shard the payload one shard sends and
   receives per batch (independent of P: the reductions are (n_l+1)² and n_{l+1}(n_l+1)
   matrices; sent bytes count twice, client → scheduler → worker), and t_driver(P) = the solves +
   P·t_add. The P·bytes term is where the flat reduction bounds the scaling; a tree reduction
   turns it into log₂P·bytes_shard/bandwidth plus log₂P extra latencies. The model is evaluated
   with this machine's measured latency and bandwidth and with those of a dedicated cluster
   (``CLUSTER``: 5 ms, 10 Gb/s).

Writes ``benchmarks/results/distributed.{json,md}`` (summarised in the README's "Distributed" section).

    OPENBLAS_NUM_THREADS=1 python benchmarks/dask_scaling.py            # ~6-8 min on a 2-core machine
    OPENBLAS_NUM_THREADS=1 python benchmarks/dask_scaling.py --quick    # digits smoke run
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from fenchel_cvx import FenchelNetwork, data  # noqa: E402
from fenchel_cvx.backend import NUMPY  # noqa: E402
from fenchel_cvx.training import dask as D  # noqa: E402
from fenchel_cvx.training import shard as S  # noqa: E402
from fenchel_cvx.training import train, tuned  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


#: a dedicated cluster for the cost model: round trip of a task on an idle scheduler, driver bandwidth 10 Gb/s
CLUSTER = {"latency_s": 0.005, "bytes_per_s": 1.25e9}


def _best(fn, repeat=5):
    """Smallest wall time of ``repeat`` calls (the machine is shared: the minimum is the least noisy)."""
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def measured_epochs(X, y, Xt, yt, sizes, cfg, n_workers):
    net1 = FenchelNetwork(sizes, seed=0)
    r1 = train(net1, X, y, Xt, yt, cfg, verbose=0)
    client = D.connect(n_workers=n_workers, processes=True)
    try:
        from distributed import get_task_stream

        t0 = time.perf_counter()
        with get_task_stream(client=client) as stream:
            r2 = train_distributed_with(client, X, y, Xt, yt, sizes, cfg)
        wall = time.perf_counter() - t0
        busy = {}  # per worker: seconds computing training tasks (evaluation and shard loading excluded)
        for d in stream.data:
            if any(f"fcvx-{tag}-" in d["key"] for tag in ("start", "advance", "mm", "red")):
                busy[d["worker"]] = busy.get(d["worker"], 0.0) + sum(
                    ss["stop"] - ss["start"] for ss in d["startstops"] if ss["action"] == "compute")
        workers = set(client.scheduler_info()["workers"])
        logs = client.run(lambda dask_worker: [(d.get("who"), int(d.get("total", 0)))
                                               for d in dask_worker.transfer_outgoing_log])
        w2w = sum(t for log in logs.values() for who, t in log if who in workers)
        to_driver = sum(t for log in logs.values() for who, t in log if who not in workers)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    ep1 = [r["epoch_time"] for r in r1.history if r["epoch"] > 0]
    ep2 = [r["epoch_time"] for r in r2.history if r["epoch"] > 0]
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(r1.net.W + r1.net.b, r2.net.W + r2.net.b))
    comm = [c for c in r2.distributed["comm"] if c["epoch"] > 0]
    return {
        "single_epoch_s": ep1, "distributed_epoch_s": ep2,
        "single_mean_s": float(np.mean(ep1)), "distributed_mean_s": float(np.mean(ep2)),
        "ratio_distributed_over_single": float(np.mean(ep2) / np.mean(ep1)),
        "max_abs_weight_diff": diff,
        "test_acc": {"single": r1.history[-1]["test_acc"], "distributed": r2.history[-1]["test_acc"]},
        "bytes_per_epoch": {"sent": float(np.mean([c["train"]["sent"] for c in comm])),
                            "received": float(np.mean([c["train"]["received"] for c in comm])),
                            "eval_sent": float(np.mean([c["eval"]["sent"] for c in comm]))},
        "rounds_per_epoch": float(np.mean([c["train"]["rounds"] for c in comm])),
        "worker_busy_s_per_epoch": {w: t / max(1, len(ep2)) for w, t in busy.items()},
        "tasks_per_epoch": float(np.mean([c["train"]["tasks"] for c in comm])),
        "worker_to_worker_bytes_total": int(w2w),
        "served_to_driver_bytes_total": int(to_driver),
        "distributed_wall_s_incl_shard_loading": wall,
    }


def train_distributed_with(client, X, y, Xt, yt, sizes, cfg):
    return D.train_distributed(FenchelNetwork(sizes, seed=0), X, y, Xt, yt, cfg, scheduler=client, verbose=0)


def shard_kernels(X, y, sizes, cfg, Ps, m_batch):
    """Per-shard task times (this process) on m_B/P columns, and the bytes one shard moves per batch."""
    net = FenchelNetwork(sizes, seed=0)
    Y = net.check_targets(y, X.shape[1])
    spec = net.skeleton()
    W, b = [np.asarray(w) for w in net.W], [np.asarray(v) for v in net.b]
    lam = np.array([cfg["lam"]] * net.L, dtype=float)
    out = []
    for P in Ps:
        mk = max(1, m_batch // P)
        shard = S.load_shard(X[:, :mk].T, Y[:, :mk].T, "float64")
        opt = {"x_iters": cfg["x_iters"], "x_weight": 1.0, "m_batch": m_batch, "layers": [0]}
        st = S.batch_start(shard, None, spec, W, b, lam, opt)
        Theta0 = np.hstack([W[0], b[0][:, None]])
        Theta1 = np.hstack([W[1], b[1][:, None]])
        st2 = S.advance(st, spec, 0, Theta0, None, W[1], b[1], lam, m_batch)
        t_start = _best(lambda: S.batch_start(shard, None, spec, W, b, lam, opt))  # noqa: B023
        t_adv = _best(lambda: S.advance(st, spec, 0, Theta0, None, W[1], b[1], lam, m_batch))  # noqa: B023
        t_mm = _best(lambda: S.mm_round(st2, spec, {1: Theta1}, lam, m_batch))  # noqa: B023
        n_mm = cfg["last_w_iters"] - 1
        received = S.payload_bytes(S.reductions(st)) + S.payload_bytes(S.reductions(st2)) + n_mm * Theta1.nbytes
        sent = (sum(w.nbytes for w in W) + sum(v.nbytes for v in b) + Theta0.nbytes + W[1].nbytes + b[1].nbytes
                + n_mm * Theta1.nbytes + mk * 8)
        out.append({"P": P, "m_shard": mk, "t_start": t_start, "t_advance": t_adv, "t_mm": t_mm,
                    "t_shard_batch": t_start + t_adv + n_mm * t_mm, "bytes_received_per_shard": received,
                    "bytes_sent_per_shard": sent})
    return out


def driver_costs(sizes, Ps):
    """Summing P reduction parts and the ridge solves of one batch on the driver."""
    n0, n1 = sizes[0] + 1, sizes[1] + 1
    rng = np.random.default_rng(0)
    A0 = rng.standard_normal((n0, n0))
    G0 = A0 @ A0.T + n0 * np.eye(n0)
    A1 = rng.standard_normal((n1, n1))
    G1 = A1 @ A1.T + n1 * np.eye(n1)
    R0 = rng.standard_normal((sizes[1], n0))
    R1 = rng.standard_normal((sizes[2], n1))

    def solves():
        F0 = NUMPY.cholesky(G0.copy())
        NUMPY.cho_solve_rows(F0, R0)
        F1 = NUMPY.cholesky(G1.copy())
        for _ in range(5):
            NUMPY.cho_solve_rows(F1, R1)

    t_solve = _best(solves)
    t_add = _best(lambda: (G0 + G0, R0 + R0, G1 + G1, R1 + R1), repeat=10)
    return {"t_solve": t_solve, "t_add_per_shard": t_add, "P": list(Ps)}


def cluster_latency_bandwidth(n_workers):
    """Round trip of the runner's task pattern (state task + reductions task + gather) with tiny payloads,
    and the driver's gather bandwidth for a 4.9 MB array (a 785² float64 Gram matrix)."""
    client = D.connect(n_workers=n_workers, processes=True)
    try:
        def state(x):
            return {"red": x}

        ws = sorted(client.scheduler_info()["workers"])
        futs = [client.submit(np.ones, 8, workers=[w], pure=False) for w in ws]
        client.gather(futs)
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            sts = [client.submit(state, f, pure=False) for f in futs]
            reds = [client.submit(S.reductions, s, pure=False) for s in sts]
            client.gather(reds)
            times.append(time.perf_counter() - t0)
        big = [client.submit(np.ones, (785, 785), workers=[w], pure=False) for w in ws]
        client.gather(big)
        bw = []
        for _ in range(5):
            big = [client.submit(np.ones, (785, 785), workers=[w], pure=False) for w in ws]
            from distributed import wait

            wait(big)
            t0 = time.perf_counter()
            client.gather(big)
            bw.append(len(ws) * 785 * 785 * 8 / (time.perf_counter() - t0))
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    return {"round_trip_s_median": float(np.median(times)), "round_trip_s_min": float(np.min(times)),
            "gather_bytes_per_s_median": float(np.median(bw))}


def cost_model(kern, drv, lat, n_batches, rounds, bw, t_eval=0.0):
    rows = []
    for k in kern:
        P = k["P"]
        shard = k["t_shard_batch"]
        per_shard = k["bytes_received_per_shard"] + 2 * k["bytes_sent_per_shard"]  # sent: client -> scheduler -> worker
        comm_flat = P * per_shard / bw
        comm_tree = math.ceil(math.log2(P)) * per_shard / bw if P > 1 else comm_flat
        lat_flat = rounds * lat
        lat_tree = rounds * lat * max(1, math.ceil(math.log2(P)))
        drv_t = drv["t_solve"] + P * drv["t_add_per_shard"]
        flat = n_batches * (shard + lat_flat + comm_flat + drv_t)
        tree = n_batches * (shard + lat_tree + comm_tree + drv["t_solve"] + drv["t_add_per_shard"])
        rows.append({"P": P, "m_shard": k["m_shard"], "compute_s": n_batches * shard, "latency_s": n_batches * lat_flat,
                     "reduction_s": n_batches * comm_flat, "driver_s": n_batches * drv_t, "epoch_flat_s": flat,
                     "epoch_tree_s": tree})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-sizes", default="500,4000", help="comma list (default 500,4000)")
    ap.add_argument("--quick", action="store_true", help="digits 64-32-10, 1 epoch (smoke run)")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--from-json", default=None, help="rewrite the .md report from a results .json (no runs)")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as fh:
            res = json.load(fh)
        md = report(res)
        with open(os.path.splitext(args.from_json)[0] + ".md", "w") as fh:
            fh.write(md)
        print(md)
        return
    if args.quick:
        args.dataset, args.epochs, args.batch_sizes = "digits", 1, "500"
    ds = data.load(args.dataset)
    sizes = [ds.n_features, 32 if args.quick else 300, ds.n_classes]
    m = ds.X_train.shape[1]
    lat = cluster_latency_bandwidth(args.workers)
    print(json.dumps({"cluster": lat}, indent=1), flush=True)
    drv = driver_costs(sizes, [1])
    Ps = [1, 2, 4, 8, 16, 32, 64]
    runs = []
    for bs in [int(t) for t in args.batch_sizes.split(",")]:
        cfg = dict(tuned(1), epochs=args.epochs, batch_size=bs)
        n_batches = math.ceil(m / bs)
        rounds = cfg["w_iters"] + cfg["last_w_iters"]
        print(f"{args.dataset} {sizes} m={m} batch={bs} batches/epoch={n_batches} (OPENBLAS_NUM_THREADS="
              f"{os.environ.get('OPENBLAS_NUM_THREADS')})", flush=True)
        meas = measured_epochs(ds.X_train, ds.y_train, ds.X_test, ds.y_test, sizes, cfg, args.workers)
        print(json.dumps(meas, indent=1), flush=True)
        kern = shard_kernels(ds.X_train, ds.y_train, sizes, cfg, Ps, min(bs, m))
        model = cost_model(kern, drv, lat["round_trip_s_median"], n_batches, rounds, lat["gather_bytes_per_s_median"])
        runs.append({"batch_size": bs, "config": cfg, "batches_per_epoch": n_batches, "rounds_per_batch": rounds,
                     "measured": meas, "kernels": kern, "model": model})
    res = {"dataset": args.dataset, "sizes": sizes, "m": m, "workers": args.workers,
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg_at_end": os.getloadavg()},
           "driver": drv, "cluster": lat, "runs": runs}
    os.makedirs(args.out, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    with open(os.path.join(args.out, f"distributed{suffix}.json"), "w") as fh:
        json.dump(res, fh, indent=1)
    md = report(res)
    with open(os.path.join(args.out, f"distributed{suffix}.md"), "w") as fh:
        fh.write(md)
    print(md)


def _mb(x):
    return f"{x / 1e6:.1f} MB"


def report(r) -> str:
    drv, cl = r["driver"], r["cluster"]
    lines = [f"# Distributed lifted BCD (Dask): {r['dataset']} {'-'.join(map(str, r['sizes']))}", "",
             f"Tuned mini-batch schedule (`fenchel_cvx.training.tuned(1)`), float64, {r['m']} training samples, "
             f"{r['workers']} single-threaded worker processes on a LocalCluster vs one process; "
             f"{r['machine']['cpus']} CPUs, OPENBLAS_NUM_THREADS=1. One run per row: the machine is shared with "
             f"other jobs (load average at the end {r['machine']['load_avg_at_end'][0]:.1f} on "
             f"{r['machine']['cpus']} cores), so the ratios are indicative.", "",
             "Cluster (measured first): round trip of the runner's task pattern (state task + reductions task + "
             f"gather, tiny payloads) {cl['round_trip_s_median'] * 1e3:.1f} ms median "
             f"(min {cl['round_trip_s_min'] * 1e3:.1f} ms); driver gather bandwidth "
             f"{cl['gather_bytes_per_s_median'] / 1e6:.0f} MB/s (local TCP). Driver per batch: ridge "
             f"factorisations and solves {drv['t_solve'] * 1e3:.1f} ms; summing one shard's parts "
             f"{drv['t_add_per_shard'] * 1e3:.2f} ms.", "",
             "## Measured epochs (same seed and schedule; training seconds, evaluation excluded)", "",
             "| batch | batches/epoch | 1 process s/epoch | 2 workers s/epoch | ratio | rounds/epoch | "
             "driver → workers / epoch | workers → driver / epoch | worker ↔ worker (run) | max abs diff of weights |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        me = run["measured"]
        lines.append(f"| {run['batch_size']} | {run['batches_per_epoch']} | {me['single_mean_s']:.2f} | "
                     f"{me['distributed_mean_s']:.2f} | **{me['ratio_distributed_over_single']:.2f}** | "
                     f"{me['rounds_per_epoch']:.0f} | {_mb(me['bytes_per_epoch']['sent'])} | "
                     f"{_mb(me['bytes_per_epoch']['received'])} | {me['worker_to_worker_bytes_total']} B | "
                     f"{me['max_abs_weight_diff']:.1e} |")
    lines += ["", "Per epoch: " + "; ".join(
        f"batch {run['batch_size']}: 1 process {', '.join(f'{t:.2f}' for t in run['measured']['single_epoch_s'])} s, "
        f"2 workers {', '.join(f'{t:.2f}' for t in run['measured']['distributed_epoch_s'])} s, test accuracy "
        f"{run['measured']['test_acc']['single']:.4f} vs {run['measured']['test_acc']['distributed']:.4f}"
        for run in r["runs"]) + ".", "",
        "Bytes are the payload (`nbytes` of the arrays in task arguments and gathered results) counted by the runner; "
        "Dask's own transfer log agrees (the workers served "
        + ", ".join(_mb(run["measured"]["served_to_driver_bytes_total"]) for run in r["runs"])
        + " of results to the driver over each whole run, evaluation included); worker-to-worker bytes (a shard "
          "task that ran away from its shard) come from the same log. The training data is sent once, to its "
          "shard.", ""]
    lines += ["Where a distributed epoch goes (Dask's task stream): seconds per epoch each worker spent computing "
              "training tasks vs the epoch time; the rest is waiting (round-trip latency, transfers, the driver's "
              "solves), and the workers' compute itself is slower than the same tasks alone on the machine (next "
              "sections) when both workers share the 2 busy cores:", ""]
    for run in r["runs"]:
        me = run["measured"]
        busy = ", ".join(f"{t:.2f}" for t in me["worker_busy_s_per_epoch"].values())
        alone = next(x for x in run["kernels"] if x["P"] == r["workers"])["t_shard_batch"] * run["batches_per_epoch"]
        lines.append(f"* batch {run['batch_size']}: epoch {me['distributed_mean_s']:.2f} s; workers busy {busy} s; "
                     f"the same shard tasks alone (in one process, best of 5): {alone:.2f} s")
    lines.append("")
    for run in r["runs"]:
        lines += [f"## Batch {run['batch_size']}: shard-size measurements and cost model", "",
                  "| P | columns per shard | shard tasks of a batch (s) | of which forward + X-steps + G_0 | "
                  "the driver receives from / sends to one shard per batch |", "|---|---|---|---|---|"]
        for x in run["kernels"]:
            lines.append(f"| {x['P']} | {x['m_shard']} | {x['t_shard_batch']:.4f} | {x['t_start']:.4f} | "
                         f"{_mb(x['bytes_received_per_shard'])} / {_mb(x['bytes_sent_per_shard'])} |")
        lines += ["", "Model of one epoch on P workers (seconds): T = batches · [t_shard(m_B/P) + rounds·latency + "
                      "P·bytes_shard/bandwidth + t_solve + P·t_add] (flat gather at the driver; sent bytes count "
                      "twice: "
                      "client → scheduler → worker); tree: ⌈log₂P⌉ levels of both the bytes and the latency.", "",
                  "| P | compute | latency | reductions (flat) | driver | epoch, flat | epoch, tree |",
                  "|---|---|---|---|---|---|---|"]
        for x in run["model"]:
            lines.append(f"| {x['P']} | {x['compute_s']:.2f} | {x['latency_s']:.2f} | {x['reduction_s']:.2f} | "
                         f"{x['driver_s']:.2f} | {x['epoch_flat_s']:.2f} | {x['epoch_tree_s']:.2f} |")
        best = min(run["model"], key=lambda x: x["epoch_flat_s"])
        lines += ["", f"Model optimum (flat gather): P = {best['P']} ({best['epoch_flat_s']:.2f} s/epoch); measured "
                      f"2 workers: {run['measured']['distributed_mean_s']:.2f} s/epoch.", ""]
        lat, bw = CLUSTER["latency_s"], CLUSTER["bytes_per_s"]
        typ = cost_model(run["kernels"], drv, lat, run["batches_per_epoch"], run["rounds_per_batch"], bw)
        lines += [f"The same model with the parameters of a dedicated cluster ({lat * 1e3:.0f} ms per round trip, "
                  f"{bw / 1e9:.2f} GB/s at the driver, one core per worker; the shard-task times above):", "",
                  "| P | compute | latency | reductions (flat) | epoch, flat | speed-up vs P = 1 | epoch, tree |",
                  "|---|---|---|---|---|---|---|"]
        for x in typ:
            lines.append(f"| {x['P']} | {x['compute_s']:.3f} | {x['latency_s']:.3f} | {x['reduction_s']:.3f} | "
                         f"{x['epoch_flat_s']:.3f} | {typ[0]['epoch_flat_s'] / x['epoch_flat_s']:.2f} | "
                         f"{x['epoch_tree_s']:.3f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

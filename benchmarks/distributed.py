"""Sharded UMAP on torch.distributed (gloo, CPU processes on this machine): quality, determinism,
time per stage and bytes exchanged, for 1, 2 and 4 processes.

    python benchmarks/distributed.py fashion [--procs 1 2 4] [--n-epochs N]
        Fashion-MNIST 70k (ardr.datasets.load("fashion-mnist")): each process count is run
        twice (determinism: same embedding bytes), then scored as benchmarks/run.py scores:
        5-NN accuracy (5-fold stratified CV) and trustworthiness@10 (seeded 5000-row
        subsample). 1 process is the single-process torch run (same bytes as
        UMAP(backend="torch"): tests/test_distributed.py).
    python benchmarks/distributed.py million [--procs 2 4] [--n-epochs 5]
        1M x 50 synthetic clustered (benchmarks/perf.py's generator), init="random" (the
        spectral start needs the whole graph on one rank), a few epochs: bytes exchanged
        per epoch beside the cross-shard edges, halo points and cells, and time per stage.

Each run is ``torchrun --nproc-per-node=P benchmarks/distributed.py _worker ...``
(OMP_NUM_THREADS=1 per process, torchrun's default). Results: benchmarks/results/
distributed-<check>.json and a printed table. Timings of several processes on a 2-core
machine (and on a loaded one) are not speed-ups: read them as where the time goes.
"""

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
STAGES = ("partition", "knn", "graph", "init", "optimize", "gather", "total")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _million(n=1_000_000):
    """benchmarks/perf.py's ``_MILLION`` data (the same generator and seed)."""
    import numpy as np

    rng = np.random.default_rng(0)
    centres = rng.normal(scale=8.0, size=(50, 50)).astype(np.float32)
    labels = rng.integers(0, 50, size=n)
    return centres[labels] + rng.normal(size=(n, 50)).astype(np.float32), labels


def _load(name, n=1_000_000):
    import numpy as np

    import ardr

    if name == "fashion":
        X, y = ardr.datasets.load("fashion-mnist")
        return np.asarray(X, dtype=np.float32), y
    return _million(n)


def worker(args):
    import resource

    import numpy as np
    import torch.distributed as dist

    import ardr

    X, _ = _load(args.data, args.n)
    est = ardr.UMAP(backend="torch", device="cpu", distributed=True, random_state=0, n_epochs=args.n_epochs,
                    init=args.init)
    t0 = time.perf_counter()
    Y = est.fit_transform(X)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import torch

    peak = torch.tensor([rss], dtype=torch.float64)
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if dist.get_rank() == 0:
        np.save(args.out, Y)
        Path(args.out).with_suffix(".json").write_text(json.dumps({
            "wall_s": wall, "stages": est.timings_, "stats": est.distributed_stats_,
            "n_epochs": est.n_epochs_, "peak_rss_mib_per_process": float(peak[0]),
            "sha256": hashlib.sha256(np.ascontiguousarray(Y).tobytes()).hexdigest()}))
    return 0


def _launch(procs, data, out, n_epochs, init, n):
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={procs}", "--master-addr=127.0.0.1",
           f"--master-port={_free_port()}", str(Path(__file__).resolve()), "_worker", "--data", data,
           "--out", str(out), "--init", init, "--rows", str(n)] + (["--n-epochs", str(n_epochs)] if n_epochs else [])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{procs} processes failed:\n{done.stderr[-3000:]}")
    result = json.loads(Path(out).with_suffix(".json").read_text())
    result["launch_s"] = time.perf_counter() - t0
    return result


def _score(data, Y):
    sys.path.insert(0, str(HERE))
    from run import _score as score

    X, y = _load(data)
    return score(X, y, Y)


def check(args):
    import numpy as np

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for procs in args.procs:
            first = _launch(procs, args.check, Path(tmp) / f"p{procs}a.npy", args.n_epochs, args.init, args.n)
            row = {"procs": procs, **first}
            if args.check == "fashion" and procs > 1 and args.rerun:  # 1 process: the single-process run's
                again = _launch(procs, args.check, Path(tmp) / f"p{procs}b.npy", args.n_epochs, args.init, args.n)
                row["deterministic"] = again["sha256"] == first["sha256"]
                row["rerun_wall_s"] = again["wall_s"]
            if args.check == "fashion":
                row["quality"] = _score(args.check, np.load(Path(tmp) / f"p{procs}a.npy"))
            runs[procs] = row
            print(_line(row), flush=True)
            _write(args, list(runs.values()))  # after every run: a long run's finished rows survive
    return list(runs.values())


def _write(args, rows):
    RESULTS.mkdir(exist_ok=True)
    name = args.check if args.check == "fashion" or args.n == 1_000_000 else f"{args.check}-{args.n}"
    path = RESULTS / f"distributed-{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"check": args.check, "n": args.n if args.check != "fashion" else 70_000, "procs": args.procs, "n_epochs": args.n_epochs,
                               "init": args.init, "load_avg": os.getloadavg(), "runs": rows}, indent=2))
    os.replace(tmp, path)


def _line(row):
    s = row["stats"]
    stages = " ".join(f"{k}={row['stages'].get(k, 0):.1f}" for k in STAGES)
    quality = row.get("quality")
    q = f"5nn={quality['knn5_acc']:.4f} trust10={quality['trust10']:.4f} " if quality else ""
    det = f"deterministic={row['deterministic']} " if "deterministic" in row else ""
    return (f"P={row['procs']}: {q}{det}bytes/epoch={s['bytes_per_epoch']:,} (per rank "
            f"{s['bytes_per_epoch_per_rank']}) cross-shard edges={s['cross_shard_edges']:,}/{s['edges']:,} "
            f"halo={s['halo_points_per_rank']} cells={s['cells_per_rank']} rss/proc={row['peak_rss_mib_per_process']:.0f} MiB "
            f"| s: {stages}")


def _table(rows):
    lines = ["| P | 5-NN acc | trust@10 | deterministic | bytes/epoch (all ranks) | cross-shard edges | "
             "halo points | cells/rank | " + " | ".join(STAGES) + " (s) |",
             "| --- " * (8 + len(STAGES)) + "|"]
    for row in rows:
        s, q = row["stats"], row.get("quality") or {}
        acc = f"{q['knn5_acc']:.4f}" if q else "-"
        trust = f"{q['trust10']:.4f}" if q else "-"
        lines.append(f"| {row['procs']} | {acc} | {trust} | {row.get('deterministic', '-')} | "
                     f"{s['bytes_per_epoch']:,} | {s['cross_shard_edges']:,} of {s['edges']:,} | "
                     f"{sum(s['halo_points_per_rank']):,} | {s['cells_per_rank']} | "
                     + " | ".join(f"{row['stages'].get(k, 0):.1f}" for k in STAGES) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=("fashion", "million", "_worker"))
    parser.add_argument("--procs", type=int, nargs="+")
    parser.add_argument("--n-epochs", type=int, default=None, help="default: UMAP's (fashion), 5 (million)")
    parser.add_argument("--init", default=None, help="default: spectral (fashion), random (million)")
    parser.add_argument("--rows", dest="n", type=int, default=1_000_000, help="million: rows of the synthetic set")
    parser.add_argument("--no-rerun", dest="rerun", action="store_false",
                        help="fashion: run each process count once (no determinism check)")
    parser.add_argument("--data")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.check == "_worker":
        return worker(args)
    args.procs = args.procs or ([1, 2, 4] if args.check == "fashion" else [2, 4])
    args.init = args.init or ("spectral" if args.check == "fashion" else "random")
    if args.check == "million" and args.n_epochs is None:
        args.n_epochs = 5
    print(_table(check(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

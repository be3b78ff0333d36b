#!/usr/bin/env python
"""Benchmark ardr's estimators against their peers (umap-learn, openTSNE).

    python benchmarks/run.py --datasets digits,mnist5k --methods umap,tsne \
        --repeats 1 --seeds 0 --impl both --out benchmarks/results/NAME.json

Each fit runs in a fresh worker process (``run.py --worker ...``) that imports only
numpy and the library under test, so import time, numba compile time and peak RSS
are those a user would see. The worker:

1. imports the library (``import_s``);
2. fits 200 seeded random rows of the data (``compile_s``: numba compilation
   and other first-call costs; for umap-learn on data of >= 4096 rows the warm-up
   forces the approximate kNN path that the real fit will take);
3. fits the data set (``fit_s``, wall time of ``fit_transform``/``fit`` with the
   kNN search included; ``cpu_s`` is the process CPU time of that fit; ``stages``
   is the estimator's ``timings_`` dict where it has one);
4. reports its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``, whole process) and
   writes the embedding.

The parent process then scores each embedding: 5-NN accuracy (5-fold stratified CV
of ``KNeighborsClassifier(5)``) and trustworthiness at k=10 (on all rows when
n <= 10000, else on a seeded 5000-row subsample, flagged ``*``). Rows of the table
are medians over repeats and seeds; the ``ratio`` row divides ardr by the peer
(time, RSS) and subtracts the peer from ardr (accuracy, trustworthiness).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARKER = "@@ARDR_BENCH_RESULT@@ "
METHODS = ("umap", "tsne")
IMPLS = ("ardr", "peer")
PEER_NAME = {"umap": "umap-learn", "tsne": "openTSNE"}
WARMUP_N = 200
TRUST_K = 10
TRUST_MAX_N = 10_000
TRUST_SUBSAMPLE = 5_000
UMAP_NNDESCENT_MIN_N = 4096  # umap-learn uses exact kNN below this many rows


# =========================================================================== worker
def _rss_mib() -> float:
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / (1024.0 * 1024.0) if sys.platform == "darwin" else kib / 1024.0


def _make_estimator(impl: str, method: str, seed: int, n_rows: int, warmup: bool, params=None):
    """Return (estimator, fit callable, library version).

    ``params``: ``metric`` (all libraries) and ``knn_method`` (ardr only)."""
    params = params or {}
    metric = {"metric": params["metric"]} if params.get("metric") else {}
    if impl == "ardr":
        import ardr

        cls = ardr.UMAP if method == "umap" else ardr.TSNE
        kw = dict(metric)
        if params.get("knn_method") and not warmup:
            kw["knn_method"] = params["knn_method"]
        elif warmup and n_rows > ardr_exact_max_rows() and params.get("knn_method", "auto") == "auto":
            # the real fit will use the approximate (IVF) search: compile that path in the warm-up too
            kw["knn_method"] = "approximate"
        est = cls(random_state=seed, **kw)
        return est, est.fit_transform, getattr(ardr, "__version__", "?")
    if method == "umap":
        import umap

        kw = dict(metric)
        if warmup and n_rows >= UMAP_NNDESCENT_MIN_N:
            # the real fit will use NN-descent: compile that path in the warm-up too
            kw["force_approximation_algorithm"] = True
        est = umap.UMAP(random_state=seed, **kw)
        return est, est.fit_transform, getattr(umap, "__version__", "?")
    import openTSNE

    est = openTSNE.TSNE(random_state=seed, n_jobs=-1, **metric)
    return est, est.fit, getattr(openTSNE, "__version__", "?")


def graph_neighbours(impl, method, est, emb):
    """The kNN indices the fit built its graph from (self excluded), or None."""
    import numpy as np

    if impl == "ardr":
        return est.knn_indices_
    if method == "umap":
        idx = getattr(est, "_knn_indices", None)
        return None if idx is None else np.asarray(idx)[:, 1:]  # column 0 is the point itself
    affinities = getattr(emb, "affinities", None)  # openTSNE keeps them name-mangled
    return getattr(affinities, "_PerplexityBasedNN__neighbors", None)


def ardr_exact_max_rows() -> int:
    from ardr.graph.neighbors import EXACT_MAX_ROWS

    return EXACT_MAX_ROWS


def _import_library(impl: str, method: str) -> None:
    if impl == "ardr":
        import ardr

        getattr(ardr, "UMAP" if method == "umap" else "TSNE")  # triggers the lazy import
    elif method == "umap":
        import umap  # noqa: F401
    else:
        import openTSNE  # noqa: F401


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    try:
        return float(obj)
    except (TypeError, ValueError):
        return str(obj)


def worker(args) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    res = {"impl": args.impl, "method": args.method, "seed": args.seed}
    t0 = time.perf_counter()
    import numpy as np

    res["numpy_import_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _import_library(args.impl, args.method)
    res["import_s"] = time.perf_counter() - t0
    res["rss_after_import_mib"] = _rss_mib()

    X = np.load(args.data)
    n, d = X.shape
    res["n"], res["d"] = int(n), int(d)

    # warm-up / compile: a tiny fit on 200 seeded random rows of the data (random
    # Gaussian points make openTSNE's Barnes-Hut slow and unrepresentative)
    rng = np.random.default_rng(12345)
    Xw = X[np.sort(rng.choice(n, min(WARMUP_N, n), replace=False))]
    params = json.loads(args.params) if args.params else {}
    est, fit, _ = _make_estimator(args.impl, args.method, args.seed, n, warmup=True, params=params)
    t0 = time.perf_counter()
    fit(Xw)
    res["compile_s"] = time.perf_counter() - t0
    del est, fit, Xw
    res["rss_before_fit_mib"] = _rss_mib()

    est, fit, version = _make_estimator(args.impl, args.method, args.seed, n, warmup=False, params=params)
    res["version"] = version
    c0 = time.process_time()
    t0 = time.perf_counter()
    emb = fit(X)
    res["fit_s"] = time.perf_counter() - t0
    res["cpu_s"] = time.process_time() - c0
    res["peak_rss_mib"] = _rss_mib()

    timings = getattr(est, "timings_", None)
    res["stages"] = _jsonable(timings) if isinstance(timings, dict) else None
    if args.knn_out:
        knn = graph_neighbours(args.impl, args.method, est, emb)
        if knn is not None:
            np.save(args.knn_out, np.asarray(knn))
            res["knn"] = str(args.knn_out)
    emb = np.asarray(emb)
    res["embedding_shape"] = list(emb.shape)
    np.save(args.emb_out, emb)
    res["embedding"] = str(args.emb_out)
    try:
        import numba

        res["numba"] = numba.__version__
        res["numba_threads"] = int(numba.config.NUMBA_NUM_THREADS)
    except Exception:  # pragma: no cover - numba is a dependency of both
        pass
    sys.stdout.write("\n" + MARKER + json.dumps(res) + "\n")
    sys.stdout.flush()
    return 0


# =========================================================================== parent
def _parse_dataset(spec: str):
    """``NAME``, ``NAME:N`` or ``fmnistNk`` -> (ardr dataset name, n_samples)."""
    m = re.fullmatch(r"fmnist(\d+)k", spec)
    if m:
        return "fashion-mnist", int(m.group(1)) * 1000
    if ":" in spec:
        name, n = spec.split(":", 1)
        return name, int(n)
    return spec, None


def _load_dataset(spec: str, data_seed: int):
    from ardr import datasets

    name, n = _parse_dataset(spec)
    return datasets.load(name, n_samples=n, random_state=data_seed)


def _score(X, y, emb):
    import numpy as np
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    emb = np.asarray(emb, dtype=np.float64)
    if emb.shape[0] != X.shape[0] or not np.isfinite(emb).all():
        return {"knn5_acc": None, "trust10": None, "trust_subsample": None,
                "score_error": "embedding has wrong shape or non-finite values"}
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    acc = cross_val_score(KNeighborsClassifier(n_neighbors=5), emb, y, cv=cv).mean()
    n = X.shape[0]
    if n <= TRUST_MAX_N:
        idx, sub = slice(None), None
    else:
        idx = np.sort(np.random.default_rng(0).choice(n, TRUST_SUBSAMPLE, replace=False))
        sub = TRUST_SUBSAMPLE
    trust = trustworthiness(X[idx], emb[idx], n_neighbors=TRUST_K)
    return {"knn5_acc": float(acc), "trust10": float(trust), "trust_subsample": sub}


def _run_worker(args, dataset, method, impl, seed, data_path, emb_path, env, extra=()):
    """One fit in a fresh worker process; ``extra``: more worker arguments
    (``--params JSON``, ``--knn-out PATH``)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--impl", impl,
           "--method", method, "--seed", str(seed), "--data", str(data_path),
           "--emb-out", str(emb_path), *extra]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"worker timed out after {args.timeout} s"}
    process_s = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            res = json.loads(line[len(MARKER):])
            res.update(ok=True, process_s=process_s)
            return res
    tail = (proc.stderr or proc.stdout or "")[-3000:]
    return {"ok": False, "error": f"worker exit code {proc.returncode}", "stderr_tail": tail,
            "process_s": process_s}


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _summarise(runs):
    groups = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["method"], r["impl"]), []).append(r)
    summary = []
    for (dataset, method, impl), rs in groups.items():
        ok = [r for r in rs if r.get("ok")]
        row = {"dataset": dataset, "method": method, "impl": impl,
               "library": ok[0].get("version") if ok else None,
               "runs": len(rs), "failed": len(rs) - len(ok),
               "n": ok[0]["n"] if ok else None}
        for key in ("fit_s", "cpu_s", "compile_s", "import_s", "peak_rss_mib", "knn5_acc", "trust10"):
            row[key] = _median([r.get(key) for r in ok])
        row["trust_subsample"] = ok[0].get("trust_subsample") if ok else None
        stage_keys = []
        for r in ok:
            for k in (r.get("stages") or {}):
                if k not in stage_keys:
                    stage_keys.append(k)
        stages = {}
        for k in stage_keys:
            vals = [r["stages"].get(k) for r in ok if r.get("stages")]
            vals = [v for v in vals if isinstance(v, (int, float))]
            if vals:
                stages[k] = statistics.median(vals)
        row["stages"] = stages or None
        if not ok:
            row["error"] = rs[0].get("error")
        summary.append(row)
    comparisons = []
    by_key = {(s["dataset"], s["method"], s["impl"]): s for s in summary}
    for (dataset, method, impl), a in by_key.items():
        if impl != "ardr":
            continue
        p = by_key.get((dataset, method, "peer"))
        if p is None or a["failed"] == a["runs"] or p["failed"] == p["runs"]:
            continue

        def ratio(k):
            return a[k] / p[k] if a.get(k) is not None and p.get(k) else None

        def delta(k):
            return a[k] - p[k] if a.get(k) is not None and p.get(k) is not None else None

        comparisons.append({"dataset": dataset, "method": method,
                            "fit_s_ratio": ratio("fit_s"), "compile_s_ratio": ratio("compile_s"),
                            "peak_rss_ratio": ratio("peak_rss_mib"),
                            "knn5_acc_delta": delta("knn5_acc"), "trust10_delta": delta("trust10")})
    return summary, comparisons


def _fmt(v, spec, width):
    if v is None:
        return "-".rjust(width)
    return format(v, spec).rjust(width)


def _table(summary, comparisons) -> str:
    head = (f"{'dataset':<12} {'method':<5} {'impl':<11} {'n':>6} {'fit_s':>8} {'cpu_s':>8} "
            f"{'compile_s':>9} {'import_s':>8} {'rss_MiB':>8} {'knn5_acc':>8} {'trust10':>8}  stages")
    lines = [head, "-" * len(head)]
    comp = {(c["dataset"], c["method"]): c for c in comparisons}
    order = []
    for s in summary:
        if (s["dataset"], s["method"]) not in order:
            order.append((s["dataset"], s["method"]))
    any_sub = False
    for dataset, method in order:
        for impl in IMPLS:
            s = next((s for s in summary if (s["dataset"], s["method"], s["impl"]) == (dataset, method, impl)), None)
            if s is None:
                continue
            label = "ardr" if impl == "ardr" else PEER_NAME[method]
            if s["failed"] == s["runs"]:
                lines.append(f"{dataset:<12} {method:<5} {label:<11} FAILED: {s.get('error')}")
                continue
            star = "*" if s.get("trust_subsample") else " "
            any_sub = any_sub or star == "*"
            stages = " ".join(f"{k}={v:.2f}" for k, v in (s.get("stages") or {}).items())
            if s["failed"]:
                stages = f"({s['failed']}/{s['runs']} failed) " + stages
            lines.append(
                f"{dataset:<12} {method:<5} {label:<11} {s['n']:>6} {_fmt(s['fit_s'], '.2f', 8)} "
                f"{_fmt(s['cpu_s'], '.2f', 8)} {_fmt(s['compile_s'], '.2f', 9)} "
                f"{_fmt(s['import_s'], '.2f', 8)} {_fmt(s['peak_rss_mib'], '.0f', 8)} "
                f"{_fmt(s['knn5_acc'], '.4f', 8)} {_fmt(s['trust10'], '.4f', 7)}{star}  {stages}")
        c = comp.get((dataset, method))
        if c:
            lines.append(
                f"{dataset:<12} {method:<5} {'ratio':<11} {'':>6} {_fmt(c['fit_s_ratio'], '.2f', 7)}x "
                f"{'':>8} {_fmt(c['compile_s_ratio'], '.2f', 8)}x {'':>8} "
                f"{_fmt(c['peak_rss_ratio'], '.2f', 7)}x {_fmt(c['knn5_acc_delta'], '+.4f', 8)} "
                f"{_fmt(c['trust10_delta'], '+.4f', 8)}")
    lines.append("")
    lines.append("fit_s: wall time of the fit, kNN included; compile_s: warm-up fit of "
                 f"{WARMUP_N} random rows in the same process; rss: peak RSS of the worker; "
                 "medians over repeats and seeds.")
    lines.append("ratio row: ardr / peer for times and RSS, ardr - peer for knn5_acc and trust10.")
    if any_sub:
        lines.append(f"* trustworthiness on a seeded {TRUST_SUBSAMPLE}-row subsample "
                     f"(n > {TRUST_MAX_N}).")
    return "\n".join(lines)


def parent(args) -> int:
    import importlib.util

    import numpy as np

    env = dict(os.environ)
    threads = args.threads or os.cpu_count() or 1
    env["NUMBA_NUM_THREADS"] = str(threads)
    if importlib.util.find_spec("ardr") is None:  # not installed: use the source tree
        src = str(ROOT / "src")
        sys.path.insert(0, src)
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    datasets_ = [d.strip() for d in args.datasets.split(",") if d.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
    impls = list(IMPLS) if args.impl == "both" else [args.impl]
    seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]

    out = Path(args.out) if args.out else HERE / "results" / (
        _dt.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)

    runs = []
    with tempfile.TemporaryDirectory(prefix="ardr-bench-") as tmp:
        for dataset in datasets_:
            X, y = _load_dataset(dataset, args.data_seed)
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", dataset)
            data_path = Path(tmp) / f"{safe}.npy"
            np.save(data_path, X)
            print(f"[{dataset}] {X.shape[0]} x {X.shape[1]}", file=sys.stderr, flush=True)
            for method in methods:
                for impl in impls:
                    for seed in seeds:
                        emb_path = out.parent / f"{safe}_{method}_{impl}_seed{seed}.npy"
                        for rep in range(args.repeats):
                            load_before = os.getloadavg()[0]
                            res = _run_worker(args, dataset, method, impl, seed, data_path, emb_path, env)
                            res["loadavg_1min_before"] = load_before
                            res.update(dataset=dataset, method=method, impl=impl, seed=seed, repeat=rep)
                            if res.get("ok"):
                                res.update(_score(X, y, np.load(emb_path)))
                                msg = (f"fit {res['fit_s']:.2f}s compile {res['compile_s']:.2f}s "
                                       f"rss {res['peak_rss_mib']:.0f}MiB acc {res['knn5_acc']:.4f} "
                                       f"trust {res['trust10']:.4f}")
                            else:
                                msg = "FAILED: " + res["error"]
                            print(f"  {dataset} {method} {impl} seed={seed} rep={rep}: {msg}",
                                  file=sys.stderr, flush=True)
                            runs.append(res)

    summary, comparisons = _summarise(runs)
    table = _table(summary, comparisons)
    doc = {
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": sys.argv,
        "config": {"datasets": datasets_, "methods": methods, "impls": impls, "seeds": seeds,
                   "repeats": args.repeats, "data_seed": args.data_seed,
                   "numba_threads": threads, "warmup_n": WARMUP_N,
                   "trust": {"k": TRUST_K, "max_n_exact": TRUST_MAX_N,
                             "subsample": TRUST_SUBSAMPLE, "subsample_seed": 0},
                   "knn_accuracy": "5-NN, 5-fold StratifiedKFold(shuffle=True, random_state=0)",
                   "peers": {"umap": "umap.UMAP(random_state=seed)",
                             "tsne": "openTSNE.TSNE(random_state=seed, n_jobs=-1)"},
                   "ardr": {"umap": "ardr.UMAP(random_state=seed)",
                            "tsne": "ardr.TSNE(random_state=seed)"}},
        "host": {"cpu_count": os.cpu_count(), "loadavg_end": list(os.getloadavg()), "platform": platform.platform(),
                 "python": platform.python_version(), "executable": sys.executable},
        "notes": [
            "fit_s includes the kNN search; compile_s is a warm-up fit of 200 random rows of the data "
            "in the same worker before the timed fit.",
            "umap-learn with random_state set runs its optimisation single-threaded.",
            f"trustworthiness is computed on a seeded {TRUST_SUBSAMPLE}-row subsample when "
            f"n > {TRUST_MAX_N} (trust_subsample field).",
        ],
        "runs": runs,
        "summary": summary,
        "comparisons": comparisons,
        "table": table,
    }
    out.write_text(json.dumps(doc, indent=2))
    print(table)
    print(f"\nwrote {out}")
    return 0 if all(r.get("ok") for r in runs) else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="digits",
                   help="comma-separated: ardr.datasets names, NAME:N (subset/size), or fmnistNk "
                        "(seeded N-thousand-row subset of fashion-mnist, e.g. fmnist10k, fmnist70k)")
    p.add_argument("--methods", default="umap,tsne", help="comma-separated: umap,tsne")
    p.add_argument("--impl", default="both", choices=["ardr", "peer", "both"])
    p.add_argument("--repeats", type=int, default=1, help="fresh worker runs per (dataset, method, impl, seed)")
    p.add_argument("--seeds", default="0", help="comma-separated random_state values")
    p.add_argument("--data-seed", type=int, default=0, help="seed of data-set subsets")
    p.add_argument("--threads", type=int, default=0, help="NUMBA_NUM_THREADS for workers (default: all cores)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per worker")
    p.add_argument("--out", default=None, help="JSON output path (default benchmarks/results/DATE.json)")
    # worker mode (internal)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--emb-out", help=argparse.SUPPRESS)
    p.add_argument("--params", default=None, help=argparse.SUPPRESS)
    p.add_argument("--knn-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())

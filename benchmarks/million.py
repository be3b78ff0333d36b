"""The body of ``perf.py million``: one synthetic UMAP fit, measured stage by stage.

The data (n x 50 float32, 50 Gaussian clusters, seeded) is written to an .npy file in
blocks of ``BLOCK`` rows and read back with ``np.load(mmap_mode="r")``, so it never needs
to fit in memory twice. Every stage of the fit is timed and its own peak RSS measured:
the kernel's high-water mark (VmHWM) is reset before the stage (``/proc/self/clear_refs``)
and read after it. CPU seconds (all threads) beside the wall time tell a loaded machine's
slowdown from the work itself. Quality: trustworthiness@10 on seeded queries and the kNN graph's
recall against exact search on 1,000 seeded queries.
"""

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

N_FEATURES = 50
N_CLUSTERS = 50
BLOCK = 1_000_000
RECALL_QUERIES = 1000
TRUST_QUERIES = 1000


def write_data(n, path):
    """n x 50 clustered rows to ``path`` (.npy), block by block; the same file for the same n."""
    path = Path(path)
    if path.exists() and np.load(path, mmap_mode="r").shape == (n, N_FEATURES):
        return
    centres = np.random.default_rng(0).normal(scale=8.0, size=(N_CLUSTERS, N_FEATURES)).astype(np.float32)
    tmp = path.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, N_FEATURES))
    for b, start in enumerate(range(0, n, BLOCK)):
        rng = np.random.default_rng([0, b])
        m = min(BLOCK, n - start)
        out[start:start + m] = centres[rng.integers(0, N_CLUSTERS, size=m)] + rng.normal(size=(m, N_FEATURES))
    out.flush()
    del out
    os.replace(tmp, path)


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Stages:
    """Wraps the fit's stage functions: seconds and peak RSS (MiB) of each call."""

    def __init__(self):
        self.rows = []

    def wrap(self, owner, attr, name):
        import inspect

        inner = getattr(owner, attr)
        static = isinstance(inspect.getattr_static(owner, attr), staticmethod)
        rows = self.rows

        def timed(*args, **kwargs):
            _reset_peak()
            t0, c0 = time.perf_counter(), time.process_time()
            out = inner(*args, **kwargs)
            rows.append({"stage": name, "seconds": time.perf_counter() - t0,
                         "cpu_seconds": time.process_time() - c0, "peak_rss_mib": _rss_mib("VmHWM"),
                         "rss_after_mib": _rss_mib("VmRSS")})
            print(json.dumps(rows[-1]), flush=True)
            return out

        setattr(owner, attr, staticmethod(timed) if static else timed)


def run(n, path, trust_queries=TRUST_QUERIES):
    import ardr
    from ardr.graph import ordering
    from ardr.methods.neighbor_embedding import ARDR

    t0 = time.perf_counter()
    write_data(n, path)
    write_s = time.perf_counter() - t0
    X = np.load(path, mmap_mode="r")
    stages = Stages()
    for attr, name in (("_check_fit_data", "validate"), ("_neighbors", "knn"), ("_input_graph", "graph"),
                       ("_initial_layout", "init"), ("_prune", "prune"), ("_force_law", "force_law"),
                       ("_optimize", "optimize")):
        stages.wrap(ARDR, attr, name)
    for attr in ("locality_order", "permute_graph"):
        stages.wrap(ordering, attr, attr)
    ardr.UMAP(random_state=0, n_epochs=2).fit(np.asarray(X[:12_000]))  # compile (or load the cache) first
    stages.rows.clear()
    _reset_peak()
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:  # e.g. the kNN search's probe budget
        warnings.simplefilter("always")
        est = ardr.UMAP(random_state=0, verbose=True).fit(X)  # progress bars with an ETA on stderr
    wall = time.perf_counter() - t0
    for w in caught:
        print(json.dumps({"warning": str(w.message)}), flush=True)
    fit_peak = max(r["peak_rss_mib"] for r in stages.rows)
    embedding, knn = est.embedding_, est.knn_indices_
    timings = dict(est.timings_)
    del est
    quality = _quality(X, embedding, knn, trust_queries)
    return {"n": n, "n_features": N_FEATURES, "write_data_s": write_s, "wall_s": wall, "timings": timings,
            "stages": stages.rows, "fit_peak_rss_mib": fit_peak,
            "warnings": [str(w.message) for w in caught], **quality}


def _quality(X, embedding, knn, trust_queries):
    from ardr.explain.metrics import trustworthiness
    from ardr.graph.neighbors import exact_knn

    rng = np.random.default_rng(0)
    q = np.sort(rng.choice(X.shape[0], RECALL_QUERIES, replace=False))
    k = knn.shape[1]
    t0 = time.perf_counter()
    ref = exact_knn(X, k + 1, queries=np.asarray(X[q]), exclude_self=False)[0]
    ref = np.array([[j for j in row if j != i][:k] for i, row in zip(q, ref)])
    recall = float(np.mean([len(set(knn[i]) & set(r)) / k for i, r in zip(q, ref)]))
    trust = trustworthiness(X, embedding, 10, n_queries=trust_queries, random_state=0)
    return {"knn_recall": recall, "knn_recall_queries": RECALL_QUERIES, "trust10": float(trust),
            "trust10_queries": trust_queries, "quality_s": time.perf_counter() - t0}

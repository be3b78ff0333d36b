#!/usr/bin/env python
"""Which clustering should ``ardr explain`` use for its groups when no labels are given?

    python benchmarks/clustering.py                       # every part, seeds 0,1,2
    python benchmarks/clustering.py --parts quality --datasets six,digits --seeds 0

Parts (each prints a table; all go to benchmarks/results/clustering.json):

- ``quality``: every candidate on every data set of known truth: adjusted Rand index and
  NMI against the true labels, number of groups, wall seconds (median over seeds, after a
  warm-up call, so compilation is excluded). Data: synthetic cases generated here (six
  Gaussian clusters in 20-D with two close pairs and one 5x wider cluster; four clusters
  whose kNN graph has no edge between them; one Gaussian blob in 20-D and one in 3-D; a
  smooth 1-D curve in 20-D) and digits, mnist5k, Fashion-MNIST 10k and 70k (seeded subsets). Every candidate
  sees the same 15-nearest-neighbour graph (``ardr.graph.neighbors.nearest_neighbors``).
- ``resolution``: ardr's Leiden on both graphs (symmetrized kNN, UMAP's fuzzy weights) at
  resolutions 0.3, 0.5, 0.7, 1.0, ten seeds each: mean ARI and median number of groups.
- ``scale``: 1,000,000 x 15 kNN graph (50 overlapping Gaussians in 10-D), each graph
  candidate in a fresh process: seconds and peak RSS above the loaded kNN arrays.
- ``fresh``: cost of the first call in a new process (import + compilation), numba cache
  warm and empty, on digits.
- ``determinism``: ``find_groups`` labels on NUMBA_NUM_THREADS=1 and 2 (fresh processes)
  and igraph's Leiden in two processes.
- ``deps``: installed size and requirements of the optional candidates' packages.

The optional candidates need ``pip install igraph leidenalg`` (the others are ardr's own
dependencies); a missing package skips its rows. Synthetic data and subsets are seeded;
kNN graphs are cached in ``--cache`` (default: a temporary folder).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
K = 15
SMALL_ONLY = 10_000  # candidates above this size are skipped where they are quadratic or slow


# --------------------------------------------------------------------------- data of known truth

def six_clusters(rng, n_per=300, dim=20):
    """Six Gaussians: pairs (0, 1) and (2, 3) 4 sigma apart (close), the rest >= 30 sigma,
    cluster 5 five times wider than the others."""
    centres = np.zeros((6, dim))
    centres[1, 0] = 4.0
    centres[2, 1] = 30.0
    centres[3, 1], centres[3, 0] = 30.0, 4.0
    centres[4, 2] = 30.0
    centres[5, 3] = 60.0
    spread = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 5.0])
    X = np.vstack([centres[i] + spread[i] * rng.standard_normal((n_per, dim)) for i in range(6)])
    return X, np.repeat(np.arange(6), n_per)


def separated_clusters(rng, n_per=400, dim=20):
    """Four unit Gaussians 100 sigma apart: no kNN edge joins two of them."""
    centres = 100.0 * np.eye(4, dim)
    X = np.vstack([c + rng.standard_normal((n_per, dim)) for c in centres])
    return X, np.repeat(np.arange(4), n_per)


def one_blob(rng, n=3000, dim=20):
    """One Gaussian: there is no cluster to find."""
    return rng.standard_normal((n, dim)), np.zeros(n, dtype=int)


def low_dimensional_blob(rng, n=3000, dim=3):
    """One Gaussian in 3-D: its kNN graph is a mesh with small cuts, unlike the 20-D blob's."""
    return one_blob(rng, n, dim)


def smooth_curve(rng, n=3000, dim=20):
    """A closed smooth 1-D curve in 20-D (random Fourier coefficients), tiny noise."""
    t = np.sort(rng.uniform(0.0, 1.0, n))
    amplitude = rng.standard_normal((dim, 4))
    phase = rng.uniform(0.0, 2 * np.pi, (dim, 4))
    X = sum(3.0 * amplitude[:, j] * np.sin(2 * np.pi * (j + 1) * t[:, None] + phase[:, j]) for j in range(4))
    return X + 0.01 * rng.standard_normal((n, dim)), np.zeros(n, dtype=int)


SYNTHETIC = {"six": six_clusters, "separated": separated_clusters, "blob": one_blob, "blob3d": low_dimensional_blob, "curve": smooth_curve}
REAL = {"digits": ("digits", None), "mnist5k": ("mnist5k", None),
        "fmnist10k": ("fashion-mnist", 10_000), "fmnist70k": ("fashion-mnist", 70_000)}
DATASETS = list(SYNTHETIC) + list(REAL)


def load(name):
    if name in SYNTHETIC:
        X, y = SYNTHETIC[name](np.random.default_rng(0))
        return X.astype(np.float32), y
    import ardr

    dataset, n = REAL[name]
    return ardr.datasets.load(dataset, n_samples=n, random_state=0)


def knn_of(name, X, cache):
    from ardr.graph.neighbors import nearest_neighbors

    path = Path(cache) / f"{name}_knn{K}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["indices"], saved["distances"]
    indices, distances = nearest_neighbors(X, K, random_state=0)
    np.savez(path, indices=indices, distances=distances)
    return indices, distances


def million_knn(cache):
    """1,000,000 points from 50 overlapping Gaussians in 10-D (spreads 0.5-1.5, centres in
    a 12-wide box) and their 15-NN by ardr's IVF search."""
    path = Path(cache) / "million_knn15.npz"
    if not path.exists():
        from ardr.graph.neighbors import nearest_neighbors

        rng = np.random.default_rng(0)
        centres = rng.uniform(-6.0, 6.0, (50, 10))
        spread = rng.uniform(0.5, 1.5, 50)
        y = rng.integers(0, 50, 1_000_000)
        X = (centres[y] + spread[y, None] * rng.standard_normal((len(y), 10))).astype(np.float32)
        indices, distances = nearest_neighbors(X, K, random_state=0)
        np.savez(path, indices=indices, distances=distances, y=y)
    return path


# --------------------------------------------------------------------------- graphs and candidates

def knn_graph(indices, distances):
    """The symmetrized kNN graph: an edge of weight 1 wherever either point lists the other."""
    import scipy.sparse as sp

    n, k = indices.shape
    B = sp.csr_matrix((np.ones(n * k, dtype=np.float32), indices.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    return B.maximum(B.T).tocsr()


def fuzzy_graph(indices, distances):
    from ardr.graph.affinities import umap_graph

    return umap_graph(indices, distances, indices.shape[1] + 1)


GRAPHS = {"knn": knn_graph, "umap": fuzzy_graph}


LEIDEN_PASSES = 2  # igraph's and leidenalg's default, and ardr's: the same work for each


def _igraph_of(G):
    import igraph
    import scipy.sparse as sp

    upper = sp.triu(G, k=1).tocoo()
    return igraph.Graph(n=G.shape[0], edges=np.column_stack([upper.row, upper.col]),
                        edge_attrs={"weight": upper.data.astype(np.float64)})


def leiden_numba(G, seed, resolution):
    from ardr.explain.clustering import leiden

    return leiden(G, resolution=resolution, random_state=seed)


def leiden_igraph(G, seed, resolution):
    import random

    import igraph

    igraph.set_random_number_generator(random.Random(seed))
    try:
        parts = _igraph_of(G).community_leiden(objective_function="modularity", weights="weight",
                                               resolution=resolution, n_iterations=LEIDEN_PASSES)
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(parts.membership)


def louvain_igraph(G, seed, resolution):
    import random

    import igraph

    igraph.set_random_number_generator(random.Random(seed))
    try:
        parts = _igraph_of(G).community_multilevel(weights="weight", resolution=resolution)
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(parts.membership)


def leidenalg_rb(G, seed, resolution):
    import leidenalg

    parts = leidenalg.find_partition(_igraph_of(G), leidenalg.RBConfigurationVertexPartition, weights="weight",
                                     resolution_parameter=resolution, n_iterations=LEIDEN_PASSES, seed=seed)
    return np.asarray(parts.membership)


def eigengap_count(G, max_groups=30):
    """Number of groups by the largest gap among the smallest eigenvalues of the normalized
    Laplacian (von Luxburg 2007)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    d = np.asarray(G.sum(axis=1)).ravel()
    s = sp.diags(1.0 / np.sqrt(np.maximum(d, 1e-12)))
    M = s @ G @ s
    top = eigsh(M, k=min(max_groups + 1, G.shape[0] - 2), which="LA", v0=np.ones(G.shape[0]),
                return_eigenvectors=False)
    lam = np.sort(1.0 - top)
    return int(np.argmax(np.diff(lam[: max_groups + 1]))) + 1


def spectral_sklearn(G, seed, X):
    from sklearn.cluster import SpectralClustering

    count = eigengap_count(G)
    return SpectralClustering(n_clusters=count, affinity="precomputed", random_state=seed,
                              assign_labels="cluster_qr").fit_predict(G)


def ward_sklearn(G, seed, X):
    from sklearn.cluster import AgglomerativeClustering

    count = eigengap_count(G)
    return AgglomerativeClustering(n_clusters=count, linkage="ward", connectivity=G).fit_predict(X)


def hdbscan_pca(G, seed, X):
    """sklearn's HDBSCAN on the first 10 principal components; noise points (-1) count
    as one more group."""
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    Z = PCA(n_components=min(10, X.shape[1]), random_state=seed).fit_transform(X)
    labels = HDBSCAN(min_cluster_size=max(10, X.shape[0] // 100)).fit_predict(Z)
    return np.where(labels < 0, labels.max() + 1, labels)


def find_groups_ardr(indices, distances, seed):
    from ardr.explain.clustering import find_groups

    return find_groups(indices, distances, random_state=seed)[0]


# name -> (function, graph name or None, extra keyword, needs X, small data only, package)
CANDIDATES = {
    "find_groups (chosen)": (None, None, {}, False, False, None),
    "leiden-numba knn r1": (leiden_numba, "knn", {"resolution": 1.0}, False, False, None),
    "leiden-numba knn r0.5": (leiden_numba, "knn", {"resolution": 0.5}, False, False, None),
    "leiden-numba umap r1": (leiden_numba, "umap", {"resolution": 1.0}, False, False, None),
    "leiden-numba umap r0.7": (leiden_numba, "umap", {"resolution": 0.7}, False, False, None),
    "leiden-numba umap r0.3": (leiden_numba, "umap", {"resolution": 0.3}, False, False, None),
    "leiden-igraph knn r1": (leiden_igraph, "knn", {"resolution": 1.0}, False, False, "igraph"),
    "leiden-igraph umap r1": (leiden_igraph, "umap", {"resolution": 1.0}, False, False, "igraph"),
    "leiden-igraph umap r0.5": (leiden_igraph, "umap", {"resolution": 0.5}, False, False, "igraph"),
    "louvain-igraph umap r1": (louvain_igraph, "umap", {"resolution": 1.0}, False, False, "igraph"),
    "leidenalg umap r1": (leidenalg_rb, "umap", {"resolution": 1.0}, False, False, "leidenalg"),
    "spectral-sklearn umap eigengap": (spectral_sklearn, "umap", {}, True, True, None),
    "ward-sklearn knn eigengap": (ward_sklearn, "knn", {}, True, True, None),
    "hdbscan-sklearn pca10": (hdbscan_pca, None, {}, True, True, None),
}


def available(package):
    if package is None:
        return True
    try:
        __import__(package)
        return True
    except ImportError:
        return False


def run_candidate(name, X, indices, distances, graphs, seed):
    function, graph, extra, needs_x, _, _ = CANDIDATES[name]
    if function is None:
        return find_groups_ardr(indices, distances, seed)
    G = graphs[graph] if graph else None
    if needs_x:
        return function(G, seed, X)
    return function(G, seed, **extra)


# --------------------------------------------------------------------------- parts

def part_quality(args):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rows = []
    for dataset in args.datasets:
        X, y = load(dataset)
        X = np.asarray(X, dtype=np.float32)
        indices, distances = knn_of(dataset, X, args.cache)
        graphs = {g: make(indices, distances) for g, make in GRAPHS.items()}
        components = _components(graphs["knn"])
        print(f"# {dataset}: n={len(X)}, {len(np.unique(y))} true groups, kNN graph components {components}",
              flush=True)
        for name, (_, _, _, _, small, package) in CANDIDATES.items():
            if name not in args.candidates:
                continue
            if not available(package):
                rows.append({"dataset": dataset, "candidate": name, "skipped": f"{package} not installed"})
                continue
            if small and len(X) > SMALL_ONLY:
                rows.append({"dataset": dataset, "candidate": name, "skipped": f"n > {SMALL_ONLY}"})
                continue
            warm_i, warm_d = _warm_up_knn(X)  # compile and import outside the timing
            run_candidate(name, X[:300], warm_i, warm_d, {g: make(warm_i, warm_d) for g, make in GRAPHS.items()}, 0)
            per_seed = []
            for seed in args.seeds:
                t0, c0 = time.perf_counter(), time.process_time()
                labels = run_candidate(name, X, indices, distances, graphs, seed)
                seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
                per_seed.append({"seed": seed, "seconds": seconds, "cpu_seconds": cpu, "groups": int(len(np.unique(labels))),
                                 "ari": float(adjusted_rand_score(y, labels)),
                                 "nmi": float(normalized_mutual_info_score(y, labels)),
                                 "largest_share": float(np.bincount(np.unique(labels, return_inverse=True)[1]).max()
                                                        / len(labels))})
            row = {"dataset": dataset, "candidate": name, "n": len(X), "runs": per_seed}
            for key in ("seconds", "cpu_seconds", "groups", "ari", "nmi", "largest_share"):
                row[key] = statistics.median(r[key] for r in per_seed)
            row["ari_min"] = min(r["ari"] for r in per_seed)
            row["ari_max"] = max(r["ari"] for r in per_seed)
            rows.append(row)
            print(_quality_line(row), flush=True)
    return rows


def _warm_up_knn(X):
    """The 300 first points' neighbours among themselves, for a compile/import warm-up."""
    from ardr.graph.neighbors import exact_knn

    return exact_knn(np.asarray(X[:300], dtype=np.float32), K)


def _components(G):
    from scipy.sparse.csgraph import connected_components

    return int(connected_components(G, directed=False)[0])


def _quality_line(row):
    if "skipped" in row:
        return f"{row['dataset']:10s} {row['candidate']:32s} skipped: {row['skipped']}"
    return (f"{row['dataset']:10s} {row['candidate']:32s} groups {row['groups']:5.0f}  ARI {row['ari']:.3f} "
            f"[{row['ari_min']:.3f}, {row['ari_max']:.3f}]  NMI {row['nmi']:.3f}  largest {row['largest_share']:.2f}"
            f"  {row['seconds']:7.2f} s (cpu {row['cpu_seconds']:.2f})")


def part_resolution(args):
    """The resolution and the graph weights of Leiden (ardr's numba one), over more seeds
    than the quality part: mean ARI per data set, and over the four real ones."""
    from sklearn.metrics import adjusted_rand_score

    from ardr.explain.clustering import leiden

    seeds = range(args.resolution_seeds)
    rows = []
    for dataset in args.datasets:
        X, y = load(dataset)
        indices, distances = knn_of(dataset, np.asarray(X, dtype=np.float32), args.cache)
        for graph, make in GRAPHS.items():
            G = make(indices, distances)
            for resolution in RESOLUTIONS:
                runs = [leiden(G, resolution=resolution, random_state=seed) for seed in seeds]
                aris = [float(adjusted_rand_score(y, labels)) for labels in runs]
                groups = [int(labels.max()) + 1 for labels in runs]
                rows.append({"dataset": dataset, "graph": graph, "resolution": resolution, "seeds": len(runs),
                             "ari_mean": float(np.mean(aris)), "ari_sd": float(np.std(aris)),
                             "groups_median": float(np.median(groups)), "groups": groups})
    print(f"{'':18s}" + "".join(f"{f'r={r:g}':>16s}" for r in RESOLUTIONS))
    for dataset in args.datasets:
        for graph in GRAPHS:
            cells = [next(r for r in rows if (r["dataset"], r["graph"], r["resolution"]) == (dataset, graph, res))
                     for res in RESOLUTIONS]
            print(f"{dataset:10s} {graph:6s} " + "".join(f"{c['ari_mean']:9.3f} ({c['groups_median']:3.0f})"
                                                       for c in cells))
    real = [d for d in args.datasets if d in REAL]
    for graph in GRAPHS:
        means = [np.mean([r["ari_mean"] for r in rows if r["graph"] == graph and r["resolution"] == res
                          and r["dataset"] in real]) for res in RESOLUTIONS]
        print(f"mean ARI over {','.join(real)} ({graph}): " + ", ".join(f"r={r:g} {m:.3f}"
                                                                      for r, m in zip(RESOLUTIONS, means)))
    print("(cells: mean ARI over seeds (median number of groups); synthetic cases of one true group score 1 "
          "only when one group is found)")
    return rows


RESOLUTIONS = (0.3, 0.5, 0.7, 1.0)


_SCALE_WORKER = """
import json, sys, time, numpy as np
sys.path.insert(0, {here!r})
import clustering as bench
data = np.load({path!r})
indices, distances = data["indices"], data["distances"]
name = {name!r}
from ardr.graph.neighbors import exact_knn
small_i, small_d = exact_knn(np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32), {k})
if name == "find_groups (chosen)":
    bench.find_groups_ardr(small_i, small_d, 0)   # compile outside the timing
else:
    fn, graph, extra = bench.CANDIDATES[name][:3]
    fn(bench.GRAPHS[graph](small_i, small_d), 0, **extra)
def status_mib(field):  # this process's own figures (ru_maxrss would include the parent's, kept over exec)
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024
base_mib = status_mib("VmRSS")
t0, c0 = time.perf_counter(), time.process_time()
if name == "find_groups (chosen)":
    labels = bench.find_groups_ardr(indices, distances, 0)
    t_graph = 0.0
else:
    G = bench.GRAPHS[graph](indices, distances)
    t_graph = time.perf_counter() - t0
    labels = fn(G, 0, **extra)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
peak_mib = status_mib("VmHWM")
from sklearn.metrics import adjusted_rand_score
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu, "graph_seconds": t_graph, "peak_rss_mib": peak_mib,
                  "base_rss_mib": base_mib, "groups": int(len(np.unique(labels))),
                  "ari_vs_generating_gaussians": float(adjusted_rand_score(data["y"], labels))}}))
"""


def part_scale(args):
    path = million_knn(args.cache)
    rows = []
    names = [n for n in ("find_groups (chosen)", "leiden-igraph umap r0.5", "louvain-igraph umap r1")
             if n in args.candidates and available(CANDIDATES[n][5])]
    for name in names:
        result = _python(_SCALE_WORKER.format(here=str(HERE), path=str(path), name=name, k=K),
                         env={"NUMBA_NUM_THREADS": str(args.threads)}, timeout=args.timeout)
        result.update(candidate=name, n=1_000_000, k=K, threads=args.threads,
                      above_base_mib=result["peak_rss_mib"] - result["base_rss_mib"])
        rows.append(result)
        print(f"1M x {K}  {name:32s} {result['seconds']:7.1f} s (cpu {result['cpu_seconds']:.1f} s, graph "
              f"{result['graph_seconds']:.1f} s)  "
              f"peak RSS {result['peak_rss_mib']:6.0f} MiB ({result['above_base_mib']:+.0f} above the process before the call)  "
              f"groups {result['groups']}  ARI vs the 50 Gaussians {result['ari_vs_generating_gaussians']:.3f}",
              flush=True)
    return rows


_FRESH_WORKER = """
import json, time
t0 = time.perf_counter()
import numpy as np, ardr
from ardr.graph.neighbors import exact_knn
X, _ = ardr.datasets.load("digits")
indices, distances = exact_knn(np.asarray(X, dtype=np.float32), 15)
t1 = time.perf_counter()
{call}
t2 = time.perf_counter()
{call}
t3 = time.perf_counter()
print(json.dumps({{"first_s": t2 - t1, "second_s": t3 - t2}}))
"""

_FRESH_CALLS = {
    "find_groups (numba)": "from ardr.explain.clustering import find_groups; find_groups(indices, distances)",
    "igraph leiden (incl. import igraph)": ("import sys; sys.path.insert(0, {here!r}); import clustering as b; "
                                            "b.leiden_igraph(b.fuzzy_graph(indices, distances), 0, 1.0)"),
}


def part_fresh(args):
    rows = []
    for name, call in _FRESH_CALLS.items():
        if "igraph" in name and not available("igraph"):
            continue
        code = _FRESH_WORKER.format(call=call.format(here=str(HERE)))
        for cache in ("warm", "empty"):
            env = {}
            if cache == "empty":
                env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="ardr-numba-cache-")
            else:
                _python(code)  # make sure the cache is filled
            result = _python(code, env=env)
            result.update(candidate=name, numba_cache=cache, overhead_s=result["first_s"] - result["second_s"])
            rows.append(result)
            print(f"fresh process  {name:36s} numba cache {cache:5s}: first call {result['first_s']:6.2f} s, "
                  f"second {result['second_s']:.2f} s", flush=True)
    return rows


_DETERMINISM_WORKER = """
import hashlib, json, sys, numpy as np
sys.path.insert(0, {here!r})
import clustering as bench
X, y = bench.load("fmnist10k")
indices, distances = bench.knn_of("fmnist10k", np.asarray(X, dtype=np.float32), {cache!r})
labels = {call}
print(json.dumps({{"sha1": hashlib.sha1(np.asarray(labels, dtype=np.int64).tobytes()).hexdigest()}}))
"""


def part_determinism(args):
    rows = []
    calls = {"find_groups": "bench.find_groups_ardr(indices, distances, 0)"}
    if available("igraph"):
        calls["igraph leiden"] = "bench.leiden_igraph(bench.fuzzy_graph(indices, distances), 0, 1.0)"
    for name, call in calls.items():
        hashes = []
        for threads in (1, 2):
            code = _DETERMINISM_WORKER.format(here=str(HERE), cache=str(args.cache), call=call)
            hashes.append(_python(code, env={"NUMBA_NUM_THREADS": str(threads)})["sha1"])
        rows.append({"candidate": name, "sha1_threads_1": hashes[0], "sha1_threads_2": hashes[1],
                     "identical": hashes[0] == hashes[1]})
        print(f"determinism  {name:16s} NUMBA_NUM_THREADS=1 vs 2 (fmnist10k, seed 0): "
              f"{'identical' if hashes[0] == hashes[1] else 'DIFFERENT'} labels", flush=True)
    return rows


def part_deps(args):
    from importlib import metadata

    rows = []
    for package in ("igraph", "texttable", "leidenalg", "numba", "llvmlite"):
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            continue
        size = sum((dist.locate_file(f).stat().st_size for f in dist.files or [] if dist.locate_file(f).exists()))
        requires = [r for r in dist.requires or [] if "extra ==" not in r]  # what a plain install pulls in
        rows.append({"package": package, "version": dist.version, "installed_mib": size / 2**20,
                     "requires": requires})
        print(f"package {package:10s} {dist.version:8s} installed {size / 2**20:6.1f} MiB  "
              f"requires {', '.join(requires) or '-'}", flush=True)
    return rows


def _python(code, env=None, timeout=3600):
    """Run code in a fresh interpreter; its last stdout line is JSON."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, **(env or {})), cwd=str(HERE))
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


PARTS = {"quality": part_quality, "resolution": part_resolution, "scale": part_scale, "fresh": part_fresh, "determinism": part_determinism,
         "deps": part_deps}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--candidates", default=",".join(CANDIDATES),
                        help="comma-separated candidate names (default: all)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--resolution-seeds", type=int, default=10, help="seeds per cell of the resolution part")
    parser.add_argument("--threads", type=int, default=2, help="NUMBA_NUM_THREADS of the scale part")
    parser.add_argument("--cache", default=None, help="folder for kNN graphs (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", default=str(HERE / "results" / "clustering.json"))
    args = parser.parse_args()
    args.datasets = args.datasets.split(",")
    args.candidates = args.candidates.split(",")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.cache = args.cache or tempfile.mkdtemp(prefix="ardr-clustering-")
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    result = {"config": {k: v for k, v in vars(args).items()}, "host": os.uname().nodename,
              "cpus": os.cpu_count(), "load_1min_before": os.getloadavg()[0]}
    for part in args.parts.split(","):
        print(f"\n== {part}", flush=True)
        result[part] = PARTS[part](args)
    result["peak_rss_mib_of_this_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Performance checks of ardr that have no peer row (the peer comparison is run.py):

    python benchmarks/perf.py import            # `python -c "import ardr"` wall time (median of 5)
    python benchmarks/perf.py compile --dataset fashion-mnist:30000   # first fit vs second fit: warm numba cache, empty cache
    python benchmarks/perf.py knn --n 70000     # kNN back-ends (IVF, NN-descent): time and recall against exact kNN
    python benchmarks/perf.py scaling           # UMAP and TSNE on Fashion-MNIST 10k..70k: time per stage, t / (n log n)
    python benchmarks/perf.py million           # synthetic 1,000,000 x 50 UMAP: time and peak RSS per stage
    python benchmarks/perf.py million --n 10000000 --data-dir /var/tmp   # 10M rows from a memmap

Every measurement runs in a fresh process; results print as a table and go to
benchmarks/results/perf-<check>.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _python(code, env=None, timeout=7200, stream=False):
    """Run code in a fresh interpreter; its last stdout line is JSON. ``stream``: pass its
    stderr (progress bars) through and echo its stdout lines as they come, so an hour's
    run shows its stages as it goes and a stopped one leaves them on the terminal."""
    if stream:
        return _python_streamed(code, env, timeout)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, **(env or {})))
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


def _python_streamed(code, env, timeout):
    lines = []
    deadline = time.monotonic() + timeout
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                          env=dict(os.environ, **(env or {}))) as child:
        for line in child.stdout:
            print(line, end="", flush=True)
            lines.append(line)
            if time.monotonic() > deadline:
                child.kill()
                raise RuntimeError(f"stopped after {timeout} s")
        if child.wait() != 0:
            raise RuntimeError(f"the run failed (exit status {child.returncode}); its output is above")
    return json.loads(lines[-1])


def check_import(args):
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import ardr"], check=True)
        times.append(time.perf_counter() - t0)
    base = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t0)
    loaded = _python("import sys, json, ardr; print(json.dumps(sorted(m for m in sys.modules "
                     "if m.split('.')[0] in ('numba', 'pynndescent', 'matplotlib', 'sklearn', 'scipy', 'torch'))))")
    return {"import_ardr_s": statistics.median(times), "python_startup_s": statistics.median(base),
            "heavy_modules_loaded": loaded}


_FIT_TWICE = """
import json, time, numpy as np, ardr
name, _, n = "{dataset}".partition(":")
X, _ = ardr.datasets.load(name, n_samples=int(n) if n else None)
out = {{}}
for name in ("first", "second"):
    t0 = time.perf_counter()
    ardr.{cls}(random_state=0).fit(X)
    out[name] = time.perf_counter() - t0
print(json.dumps(out))
"""


def check_compile(args):
    rows = []
    for cls in args.estimators:
        code = _FIT_TWICE.format(dataset=args.dataset, cls=cls)
        with tempfile.TemporaryDirectory() as empty:
            cold = _python(code, env={"NUMBA_CACHE_DIR": empty})
            warm = _python(code, env={"NUMBA_CACHE_DIR": empty})  # the cache the cold run filled
        rows.append({"estimator": cls, "dataset": args.dataset,
                     "empty_cache_first_fit_s": cold["first"], "empty_cache_overhead_s": cold["first"] - cold["second"],
                     "warm_cache_first_fit_s": warm["first"], "warm_cache_overhead_s": warm["first"] - warm["second"],
                     "second_fit_s": warm["second"]})
    return rows


_KNN = """
import json, time, numpy as np, ardr
from ardr.graph.neighbors import exact_knn, nearest_neighbors
X, _ = ardr.datasets.load("fashion-mnist", n_samples={n})
k = {k}
rng = np.random.default_rng(0)
q = rng.choice(len(X), 1000, replace=False)
ref = np.array([[j for j in row if j != i][:k] for i, row in zip(q, exact_knn(X, k + 1, queries=X[q], exclude_self=False)[0])])
nearest_neighbors(X[:3000], 10, method="{method}")  # compile (or load from the cache) first
t0 = time.perf_counter()
idx, _ = nearest_neighbors(X, k, method="{method}")
elapsed = time.perf_counter() - t0
recall = float(np.mean([len(set(idx[i]) & set(r)) / k for i, r in zip(q, ref)]))
print(json.dumps({{"method": "{method}", "n": len(X), "k": k, "seconds": elapsed, "recall": recall}}))
"""


def check_knn(args):
    """Each back-end in a fresh process, its compilation excluded; recall against exact
    kNN on 1,000 random queries."""
    return [_python(_KNN.format(n=args.n, k=k, method=m)) for k in args.k for m in ("approximate", "nndescent")]


_SCALE = """
import json, time, resource, numpy as np, ardr
X, y = ardr.datasets.load("fashion-mnist", n_samples={n})
ardr.{cls}(random_state=0).fit(X[:3000])  # compile (or load from the cache) first
t0 = time.perf_counter()
est = ardr.{cls}(random_state=0).fit(X)
print(json.dumps(dict(estimator="{cls}", n=len(X), wall_s=time.perf_counter() - t0, **est.timings_,
                      rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def check_scaling(args):
    """Fit time per stage on Fashion-MNIST subsets, each in a fresh process after a warm-up
    fit, and the time over n log n (the growth should not exceed it). UMAP runs 500 epochs
    up to 10,000 rows and 200 above (umap-learn's schedule); kNN is exact up to 10,000 rows."""
    import math

    rows = []
    for cls in args.estimators:
        for n in (10_000, 20_000, 35_000, 70_000):
            r = _python(_SCALE.format(n=n, cls=cls))
            r["wall_per_nlogn_us"] = 1e6 * r["wall_s"] / (r["n"] * math.log(r["n"]))
            rows.append(r)
            print(json.dumps(r), flush=True)
    return rows


_MILLION = """
import json, sys
sys.path.insert(0, {here!r})
from million import run
print(json.dumps(run({n}, {path!r}, {trust_queries})))
"""


def check_million(args):
    """Synthetic n x 50 clustered (seeded) UMAP from an .npy memmap written in blocks: time
    and peak RSS per stage (VmHWM reset before each), trustworthiness@10 on a seeded
    sample and the graph's kNN recall against exact search on 1,000 sampled queries."""
    data_dir = Path(args.data_dir or tempfile.gettempdir())
    path = data_dir / f"ardr-million-{args.n}.npy"
    return _python(_MILLION.format(here=str(HERE), n=args.n, path=str(path), trust_queries=args.trust_queries),
                   timeout=6 * 3600, stream=True)


CHECKS = {"import": check_import, "compile": check_compile, "knn": check_knn, "scaling": check_scaling,
          "million": check_million}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--dataset", default="mnist5k", help="compile: data set of the two fits (NAME or NAME:N)")
    parser.add_argument("--estimators", type=lambda v: v.split(","), default=["UMAP", "TSNE"],
                        help="compile, scaling: ardr estimator classes, comma-separated")
    parser.add_argument("--n", type=int, default=None,
                        help="knn: rows of Fashion-MNIST (default 70,000); million: rows (default 1,000,000)")
    parser.add_argument("--data-dir", default=None, help="million: where the .npy data set is written (default: TMPDIR)")
    parser.add_argument("--trust-queries", type=int, default=1000,
                        help="million: seeded queries of trustworthiness@10")
    parser.add_argument("--k", type=lambda v: [int(x) for x in v.split(",")], default=[14, 90],
                        help="knn: neighbour counts, comma-separated (UMAP's 14, tSNE's 90)")
    args = parser.parse_args()
    if args.n is None:
        args.n = 1_000_000 if args.check == "million" else 70_000
    result = CHECKS[args.check](args)
    RESULTS.mkdir(exist_ok=True)
    name = f"million-{args.n}" if args.check == "million" else args.check
    path = RESULTS / f"perf-{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"check": args.check, "load_avg": os.getloadavg(), "result": result}, indent=2))
    os.replace(tmp, path)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

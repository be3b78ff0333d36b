#!/usr/bin/env python
"""The torch backend against the numba backend on the CPU: the same estimators, seeds and
data, quality side by side.

    python benchmarks/backends.py                        # digits, mnist5k, Fashion-MNIST 10k
    python benchmarks/backends.py --datasets digits --threads 1

For each data set: UMAP, TSNE (the normalized objective; exact repulsion up to 2,000
rows, FFT interpolation above) and PCA by forces (exact sums), with ``backend="numba"``
and ``backend="torch", device="cpu"``. Quality: 5-NN accuracy (5-fold stratified
cross-validation) and trustworthiness at k = 10 (``ardr.metrics``, exact at these
sizes); PCA: the Procrustes error against the SVD's PCA. The fit time is printed too,
but this is a quality check: torch's CPU kernels are not the fast path (the GPU is).
Results: a table, and ``benchmarks/results/backends.json``.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = {"digits": ("digits", None), "mnist5k": ("mnist5k", None), "fmnist10k": ("fashion-mnist", 10_000)}


def knn_accuracy(Y, y):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    return float(cross_val_score(KNeighborsClassifier(5), Y, y, cv=StratifiedKFold(5, shuffle=True,
                                                                                  random_state=0)).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="digits,mnist5k,fmnist10k")
    p.add_argument("--methods", default="umap,tsne,pca")
    p.add_argument("--threads", type=int, default=-1, help="n_jobs of every fit (numba and torch threads)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import numpy as np

    import ardr
    from ardr.explain.metrics import procrustes_error, trustworthiness

    rows = []
    for name in args.datasets.split(","):
        source, n = DATASETS[name]
        X, y = ardr.datasets.load(source, n_samples=n, random_state=0)
        X = np.asarray(X, dtype=np.float32)
        reference = ardr.PCA(2, solver="exact").fit_transform(X) if "pca" in args.methods else None
        for method in args.methods.split(","):
            cls = {"umap": ardr.UMAP, "tsne": ardr.TSNE,
                   "pca": lambda **kw: ardr.PCA(2, solver="forces", **kw)}[method]
            scores = {}
            for backend in ("numba", "torch"):
                t0 = time.perf_counter()
                est = cls(random_state=args.seed, n_jobs=args.threads, backend=backend, device="cpu").fit(X)
                row = {"data": name, "n": len(X), "method": method, "backend": backend,
                       "fit_s": time.perf_counter() - t0}
                Y = est.embedding_
                if method == "pca":
                    row["procrustes_to_svd"] = float(procrustes_error(Y, reference))
                    row["n_iter"] = int(est.n_iter_)
                else:
                    row["knn_accuracy"] = knn_accuracy(Y, y)
                    row["trustworthiness"] = float(trustworthiness(X, Y, 10))
                scores[backend] = row
                rows.append(row)
                print(_format(row), flush=True)
            if method != "pca":
                diff = {k: scores["torch"][k] - scores["numba"][k] for k in ("knn_accuracy", "trustworthiness")}
                print(f"{'':>10} torch - numba: accuracy {diff['knn_accuracy']:+.4f}, "
                      f"trustworthiness {diff['trustworthiness']:+.4f}", flush=True)
    out = HERE / "results" / "backends.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"load_avg": os.getloadavg(), "threads": args.threads, "rows": rows}, indent=2))
    return 0


def _format(row):
    quality = (f"Procrustes to SVD {row['procrustes_to_svd']:.2e} ({row['n_iter']} epochs)" if "procrustes_to_svd" in row
               else f"5-NN accuracy {row['knn_accuracy']:.4f}  trustworthiness@10 {row['trustworthiness']:.4f}")
    return f"{row['data']:>10} {row['method']:<5} {row['backend']:<6} {row['fit_s']:8.1f} s  {quality}"


if __name__ == "__main__":
    sys.exit(main())

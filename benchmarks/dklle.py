#!/usr/bin/env python
"""Measure issue 4's "Done when" items for LLE and DK-LLE.

    nice -n 10 .venv/bin/python benchmarks/dklle.py --out benchmarks/results/dklle.json \
        [--parts lle,quality,grid,timing70k]

Parts (each prints a table and goes into the JSON):

- ``lle``: ardr.LLE against scikit-learn's LocallyLinearEmbedding (standard, same k
  and reg) on digits: Procrustes error, reconstruction errors, fit times.
- ``quality``: digits, mnist5k and a 10,000-row Fashion-MNIST subset, through the same
  code as ``ardr reproduce dklle`` (UMAP x 3 seeds on one graph, DK-LLE from UMAP's
  state after one epoch, classical LLE, Laplacian eigenmaps): DK-LLE's mean 15-NN
  overlap with the UMAP runs against the lowest seed-to-seed overlap, its 5-NN
  accuracy against UMAP's mean, and the same test for LLE and Laplacian eigenmaps.
- ``grid``: the repulsion estimate (GridRepulsion) against the exact all-pairs sums on
  UMAP layouts of mnist5k and Fashion-MNIST 10k (every point) and 70k (a seeded sample
  of rows, computed exactly in NumPy): relative error of J's repulsion sum, of each
  point's own sum, and of the forces; time per evaluation of both.
- ``timing70k``: ``ardr.DKLLE(random_state=0).fit(X)`` on all 70,000 Fashion-MNIST rows,
  neighbour search included: wall time, stage times, iterations, J and stationarity.

Timings are wall-clock on a shared machine and noisy; the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
PARTS = ("lle", "quality", "grid", "timing70k")


def _load():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def part_lle():
    from sklearn.manifold import LocallyLinearEmbedding

    from ardr import datasets
    from ardr.methods.lle import LLE
    from ardr.explain.metrics import procrustes_error

    X, _ = datasets.load("digits")
    rows = []
    for k in (10, 15):
        t0 = time.perf_counter()
        ref = LocallyLinearEmbedding(n_neighbors=k, reg=1e-3, method="standard", random_state=0).fit(X)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        mine = LLE(n_neighbors=k, reg=1e-3, random_state=0).fit(X)
        t_mine = time.perf_counter() - t0
        rows.append({"dataset": "digits", "k": k, "reg": 1e-3,
                     "procrustes": procrustes_error(ref.embedding_, mine.embedding_),
                     "reconstruction_error_sklearn": ref.reconstruction_error_,
                     "reconstruction_error_ardr": mine.reconstruction_error_,
                     "fit_s_sklearn": t_ref, "fit_s_ardr": t_mine})
        print(f"LLE digits k={k}: Procrustes to sklearn {rows[-1]['procrustes']:.2e} "
              f"(fit {t_mine:.2f} s, sklearn {t_ref:.2f} s)", flush=True)
    return rows


def part_quality(datasets_text):
    from ardr.experiments.dklle import parse_datasets, run_dataset

    args = SimpleNamespace(init="umap-epoch", max_iter=150, lle_neighbors=15, lle_max_rows=20_000,
                           data_seed=0, n_jobs=-1, umap_epochs=None)
    rows = []
    for name, n in parse_datasets(datasets_text):
        t0 = time.perf_counter()
        row, _, _ = run_dataset(name, n, [0, 1, 2], args, lambda m: print(m, flush=True))
        row["wall_s"] = time.perf_counter() - t0
        row["load_average"] = _load()
        rows.append(row)
        base = row["seed_baseline"]
        print(f"{row['dataset']}: UMAP seed-to-seed overlap min {base['overlap_min']:.3f} "
              f"(mean {base['overlap_mean']:.3f}), Procrustes mean {base['procrustes_mean']:.3f}; "
              f"UMAP 5-NN accuracy {row['umap_accuracy_mean']:.4f}", flush=True)
        for method in ("dklle", "lle", "laplacian"):
            sc = row["scores"].get(method)
            if sc is None:
                continue
            print(f"  {method:10s} overlap {sc['overlap_with_umap_mean']:.3f} "
                  f"(min over seeds {min(sc['overlap_with_umap']):.3f}) acc {sc['knn_accuracy']:.4f} "
                  f"Procrustes {sc['procrustes_to_umap_mean']:.3f} J ratio {sc['ratio']:.4f} -> "
                  f"{'REPRODUCES' if sc['reproduces_umap'] else 'fails'}", flush=True)
    return rows


def _exact_rows(Y, deg, rows, a, b):
    """Exact repulsion sums for the given rows, in NumPy (an independent reference)."""
    from ardr.engine.numba.dklle import repulsion_kernels

    values = np.empty(len(rows))
    forces = np.empty((len(rows), Y.shape[1]))
    for s in range(0, len(rows), 256):
        r = rows[s:s + 256]
        diff = Y[r, None, :] - Y[None, :, :]
        t = np.einsum("ijk,ijk->ij", diff, diff)
        psi, phi = repulsion_kernels(t, a, b)
        w = deg[r, None] + deg[None, :]
        psi[np.arange(len(r)), r] = 0.0
        values[s:s + 256] = (w * psi).sum(1)
        forces[s:s + 256] = np.einsum("ij,ijk->ik", w * phi, diff)
    return forces, values


def part_grid():
    from ardr import UMAP, datasets
    from ardr.engine.numba.dklle import ExactRepulsion, GridRepulsion

    rows = []
    for name, n, exact_all in (("mnist5k", None, True), ("fashion-mnist", 10_000, True),
                               ("fashion-mnist", None, False)):
        X, _ = datasets.load(name, n_samples=n, random_state=0)
        umap = UMAP(random_state=0).fit(X)
        Y = umap.embedding_.astype(np.float64)
        deg = np.asarray(umap.graph_.sum(axis=1), dtype=np.float64).ravel()
        a, b = umap.a_, umap.b_
        grid = GridRepulsion()
        grid(Y, deg, a, b)  # compile
        t0 = time.perf_counter()
        F_grid, v_grid = grid(Y, deg, a, b)
        t_grid = time.perf_counter() - t0
        row = {"dataset": name if n is None else f"{name}:{n}", "n": int(len(Y)), "cutoff": grid.last_cutoff,
               "grid_s": t_grid, "load_average": _load()}
        if exact_all:
            t0 = time.perf_counter()
            F_ex, v_ex = ExactRepulsion()(Y, deg, a, b)
            row["exact_s"] = time.perf_counter() - t0
            rows_used = np.arange(len(Y))
            row["J_repulsion_rel_error"] = float(v_grid.sum() / v_ex.sum() - 1)
        else:
            rows_used = np.sort(np.random.default_rng(0).choice(len(Y), 2000, replace=False))
            t0 = time.perf_counter()
            F_ex, v_ex = _exact_rows(Y, deg, rows_used, a, b)
            row["exact_s_for_sample"] = time.perf_counter() - t0
            row["sampled_rows"] = int(len(rows_used))
            row["J_repulsion_rel_error_on_sample"] = float(v_grid[rows_used].sum() / v_ex.sum() - 1)
        Fg, vg = F_grid[rows_used], v_grid[rows_used]
        row["per_point_value_rel_error_max"] = float(np.max(np.abs(vg / v_ex - 1)))
        row["per_point_value_rel_error_median"] = float(np.median(np.abs(vg / v_ex - 1)))
        row["force_rel_error"] = float(np.linalg.norm(Fg - F_ex) / np.linalg.norm(F_ex))
        row["force_rel_error_per_point_median"] = float(np.median(np.linalg.norm(Fg - F_ex, axis=1)
                                                                  / np.linalg.norm(F_ex, axis=1)))
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def part_timing70k():
    from ardr import DKLLE, datasets

    X, y = datasets.load("fashion-mnist")
    load_before = _load()
    t0 = time.perf_counter()
    est = DKLLE(random_state=0).fit(X)
    wall = time.perf_counter() - t0
    J = est.objective_
    row = {"n": int(X.shape[0]), "wall_s": wall, "timings_s": est.timings_, "n_iter": est.n_iter_,
           "repulsion": est.repulsion_, "solver": est.solver_, "J_start": float(J[0]), "J_final": float(J[-1]),
           "J_decreased_every_iteration": bool(np.all(np.diff(J) < 0)),
           "stationarity_final": float(est.stationarity_[-1]), "n_evaluations": est.n_evaluations_,
           "halvings": int(np.sum(est.step_lengths_ < 1)), "cg_iterations_mean": float(est.cg_iterations_.mean()),
           "load_average_before": load_before,
           "load_average_after": _load(), "under_10_minutes": wall < 600}
    try:
        from ardr.explain.metrics import knn_accuracy

        row["knn_accuracy_5"] = knn_accuracy(est.embedding_, y)
    except Exception as exc:  # the timing is the point here
        row["knn_accuracy_error"] = repr(exc)
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(HERE / "results" / "dklle.json"))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--datasets", default="digits,mnist5k,fashion-mnist:10000",
                        help="data sets of the quality part")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {PARTS}")
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    results["machine"] = {"platform": platform.platform(), "python": sys.version.split()[0],
                          "cpus": os.cpu_count()}
    from ardr._files import jsonable

    for part in parts:
        t0 = time.perf_counter()
        if part == "lle":
            results["lle"] = part_lle()
        elif part == "quality":
            results["quality"] = part_quality(args.datasets)
        elif part == "grid":
            results["grid"] = part_grid()
        else:
            results["timing70k"] = part_timing70k()
        print(f"[{part}: {time.perf_counter() - t0:.0f} s]", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(jsonable(results), indent=2))  # after every part: partial results survive
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

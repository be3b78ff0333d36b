#!/usr/bin/env python
"""Measurements for issue 3 (classical DR recovered by forces), in one run:

    nice -n 10 .venv/bin/python benchmarks/recovery.py --out benchmarks/results/recovery

Sections (``--sections``, default all):

- ``references``: ardr's exact solvers against scikit-learn (PCA, ClassicalMDS of
  Euclidean and L1 dissimilarities, Isomap): relative Procrustes error.
- ``recovery``: forces from a random start against ardr's exact solution, with exact
  sums and with m sampled partners (``--sampling``, default 20): Procrustes error,
  objective gap, epochs, seconds. PCA on digits, mnist5k, Fashion-MNIST 70k; classical
  MDS on digits (Euclidean features, precomputed Euclidean and L1 matrices); Isomap on a
  2,000-point Swiss roll and digits. Sampled runs on Fashion-MNIST use
  ``--fashion-sampled-epochs`` epochs (default 100; 500 would take several minutes here).
- ``timing``: PCA of Fashion-MNIST (70,000 x 784) by forces against scikit-learn's PCA
  in the same process, ``--repeats`` times alternating; the ratio of medians.
- ``stress``: metric MDS on digits: ardr's forces (default: sampled pairs) against
  scikit-learn's SMACOF (its defaults: random start, n_init=1, max_iter=300), both
  seeded by ``--seeds``; stress computed the same way for both.

Writes ``OUT.json`` and ``OUT.md``. Wall times on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings

import numpy as np

SECTIONS = ("references", "recovery", "timing", "stress")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output path without extension")
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--sampling", type=int, default=20)
    p.add_argument("--fashion-sampled-epochs", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--quick", action="store_true", help="small subsets, for checking the script")
    args = p.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}")
    import ardr
    import numba
    import sklearn

    report = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                          "numba_threads": numba.get_num_threads(), "sklearn": sklearn.__version__,
                          "ardr": ardr.__version__},
              "command": " ".join(sys.argv), "quick": args.quick}
    data = _Data(args.quick)
    for name in sections:
        t0 = time.perf_counter()
        report[name] = globals()[f"section_{name}"](data, args)
        print(f"[{name}: {time.perf_counter() - t0:.0f} s]", flush=True)
    with open(args.out + ".json", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    with open(args.out + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(report))
    print(f"wrote {args.out}.json and {args.out}.md")


class _Data:
    """Data sets loaded once (float32 as ardr.datasets gives them)."""

    def __init__(self, quick):
        self.quick = quick
        self._cache = {}

    def __call__(self, name):
        from ardr import datasets

        if name not in self._cache:
            sizes = {"digits": 500, "mnist5k": 1000, "fashion-mnist": 5000, "swiss-roll": 500} if self.quick else \
                {"swiss-roll": 2000}
            self._cache[name] = datasets.load(name, n_samples=sizes.get(name), random_state=0)[0]
        return self._cache[name]


def _cityblock(X):
    from scipy.spatial.distance import cdist

    return cdist(X, X, "cityblock")


def _euclidean(X):
    from ardr.methods.classical_exact import euclidean_distances

    return euclidean_distances(X)


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


# ------------------------------------------------------------------ sections
def section_references(data, args):
    import sklearn.decomposition
    import sklearn.manifold

    from ardr.methods.classical import PCA, ClassicalMDS, Isomap
    from ardr.explain.metrics import procrustes_error

    rows = []

    def add(dataset, method, ours, theirs, note=""):
        (Y, t_ours), (R, t_sk) = ours, theirs
        rows.append({"dataset": dataset, "n": len(Y), "method": method, "procrustes_error": procrustes_error(R, Y),
                     "ardr_s": t_ours, "sklearn_s": t_sk, "note": note})
        print(f"  references {dataset:>14} {method:>14}: {rows[-1]['procrustes_error']:.1e}", flush=True)

    for name in ("digits", "mnist5k", "fashion-mnist"):
        X = data(name).astype(np.float64)  # scikit-learn keeps float32 data in float32
        add(name, "pca", _timed(lambda: PCA(2, solver="exact").fit_transform(X)),
            _timed(lambda: sklearn.decomposition.PCA(2).fit_transform(X)))
    X = data("digits").astype(np.float64)
    add("digits", "mds-euclidean", _timed(lambda: ClassicalMDS(solver="exact").fit_transform(X)),
        _timed(lambda: sklearn.manifold.ClassicalMDS(2).fit_transform(X)))
    L1 = _cityblock(X)
    add("digits", "mds-l1", _timed(lambda: ClassicalMDS(dissimilarity="precomputed", solver="exact").fit_transform(L1)),
        _timed(lambda: sklearn.manifold.ClassicalMDS(2, metric="precomputed").fit_transform(L1)))
    roll = data("swiss-roll").astype(np.float64)
    add("swiss-roll", "isomap", _timed(lambda: Isomap(10, solver="exact").fit_transform(roll)),
        _timed(lambda: sklearn.manifold.Isomap(n_neighbors=10).fit_transform(roll)))
    add("digits", "isomap", _timed(lambda: Isomap(10, solver="exact").fit_transform(X)),
        _timed(lambda: sklearn.manifold.Isomap(n_neighbors=10).fit_transform(X)),
        "integer pixels: tied neighbour distances are broken differently, so the kNN graphs differ")
    jitter = X + np.random.default_rng(0).normal(scale=1e-6, size=X.shape)
    add("digits+1e-6 noise", "isomap", _timed(lambda: Isomap(10, solver="exact").fit_transform(jitter)),
        _timed(lambda: sklearn.manifold.Isomap(n_neighbors=10).fit_transform(jitter)),
        "ties broken by noise of 1e-6 (pixel values 0-16)")
    del X
    return rows


def _recovery_cases(data, args):
    """(dataset, method, estimator class, params, input, sampled epochs or None)."""
    from ardr.methods.classical import PCA, ClassicalMDS, Isomap

    digits = data("digits")
    two = {"n_components": 2}
    cases = [("digits", "pca", PCA, two, digits, None),
             ("mnist5k", "pca", PCA, two, data("mnist5k"), None),
             ("fashion-mnist", "pca", PCA, two, data("fashion-mnist"), args.fashion_sampled_epochs),
             ("digits", "mds-euclidean (features)", ClassicalMDS, {}, digits, None),
             ("digits", "mds-euclidean (dense)", ClassicalMDS, {"dissimilarity": "precomputed"},
              _euclidean(digits), None),
             ("digits", "mds-l1", ClassicalMDS, {"dissimilarity": "precomputed"},
              _cityblock(digits.astype(np.float64)), None),
             ("swiss-roll", "isomap", Isomap, {"n_neighbors": 10}, data("swiss-roll"), None),
             ("digits", "isomap", Isomap, {"n_neighbors": 10}, digits, None)]
    return cases


def section_recovery(data, args):
    """Relative Procrustes errors (the square root of the disparity) of forces (solver="forces",
    asked for explicitly: PCA's default is scikit-learn's exact solver) against the exact solver."""
    from ardr.engine.numba.gram import FeatureGram, StrainForces
    from ardr.experiments.recovery import relative_error

    rows = []
    for dataset, method, cls, params, X, sampled_epochs in _recovery_cases(data, args):
        full = {"svd_solver": "full"} if cls.__name__ == "PCA" else {}  # covariance_eigh: 1e-4 off on mnist5k
        exact, t_exact = _timed(lambda: cls(solver="exact", **params, **full).fit(X))
        f_ref = getattr(exact, "final_objective_", None)
        if f_ref is None:  # scikit-learn's PCA: the strain of its answer, measured here
            f_ref = StrainForces(FeatureGram(X)).objective(exact.embedding_)
        for sampling in (None, args.sampling):
            extra = {"max_iter": sampled_epochs} if sampling is not None and sampled_epochs else {}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est, seconds = _timed(lambda: cls(solver="forces", random_state=0, sampling=sampling, **params,
                                                  **extra).fit(X))
            f = est.final_objective_
            row = {"dataset": dataset, "n": int(X.shape[0]), "method": method,
                   "sums": "exact" if sampling is None else f"sampled m={sampling}",
                   "procrustes_error": relative_error(exact.embedding_, est.embedding_),
                   "objective_gap": (f - f_ref) / abs(f_ref), "epochs": int(est.n_iter_),
                   "gradient_norm": float(est.gradient_norm_), "seconds": seconds, "exact_seconds": t_exact,
                   "warnings": [str(w.message) for w in caught]}
            target = 1e-6 if sampling is None else 0.05
            row["target_met"] = bool(row["procrustes_error"] <= target)
            rows.append(row)
            print(f"  recovery {dataset:>14} {method:>26} {row['sums']:>13}: {row['procrustes_error']:.1e} "
                  f"({row['epochs']} epochs, {seconds:.1f} s)", flush=True)
    return rows


def section_timing(data, args):
    import sklearn.decomposition

    from ardr.methods.classical import PCA
    from ardr.explain.metrics import procrustes_error

    X = data("fashion-mnist")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        PCA(2, solver="forces", random_state=0, max_iter=2).fit(X[:300])  # compile / load the numba kernels first
    runs = []
    for r in range(args.repeats):
        R, t_sk = _timed(lambda: sklearn.decomposition.PCA(2).fit_transform(X))
        est, t_ardr = _timed(lambda: PCA(2, solver="forces", random_state=r).fit(X))
        runs.append({"sklearn_s": t_sk, "ardr_forces_s": t_ardr, "epochs": int(est.n_iter_),
                     "procrustes_to_sklearn": procrustes_error(R, est.embedding_),
                     "stages": {k: round(v, 3) for k, v in est.timings_.items()}})
        print(f"  timing run {r}: sklearn {t_sk:.2f} s, ardr forces {t_ardr:.2f} s ({est.n_iter_} epochs)", flush=True)
    sk = statistics.median(r["sklearn_s"] for r in runs)
    ours = statistics.median(r["ardr_forces_s"] for r in runs)
    return {"n": int(X.shape[0]), "n_features": int(X.shape[1]), "runs": runs,
            "median_sklearn_s": sk, "median_ardr_forces_s": ours, "ratio_of_medians": ours / sk}


def section_stress(data, args):
    from ardr.methods import classical_exact as classical
    from ardr.methods.classical import MetricMDS

    X = data("digits")
    Delta = classical.euclidean_distances(X)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (Y_sk, _, it), t_sk = _timed(lambda: classical.smacof(Delta, 2, random_state=seed))
        est, t_ours = _timed(lambda: MetricMDS(random_state=seed).fit(X))
        exact_sums, t_exact_sums = _timed(lambda: MetricMDS(random_state=seed, sampling=None).fit(X))
        s_sk = classical.stress(Y_sk, Delta)
        row = {"seed": seed, "smacof_stress": s_sk, "smacof_iterations": it, "smacof_s": t_sk,
               "forces_sampled_stress": est.stress_, "forces_sampled_s": t_ours,
               "forces_sampled_ratio": est.stress_ / s_sk,
               "forces_exact_sums_stress": exact_sums.stress_, "forces_exact_sums_s": t_exact_sums,
               "forces_exact_sums_epochs": int(exact_sums.n_iter_),
               "forces_exact_sums_ratio": exact_sums.stress_ / s_sk}
        rows.append(row)
        print(f"  stress seed {seed}: SMACOF {s_sk:.4g} ({t_sk:.0f} s), forces sampled ratio "
              f"{row['forces_sampled_ratio']:.4f} ({t_ours:.1f} s), exact sums ratio "
              f"{row['forces_exact_sums_ratio']:.4f}", flush=True)
    return rows


# ------------------------------------------------------------------ report
def markdown(report):
    out = [f"# Classical DR by forces (issue 3)\n\n`{report['command']}`\n\n"
           f"Machine: {report['machine']}\n"]
    if "references" in report:
        out.append("\n## Exact references against scikit-learn\n\n| data set | n | method | Procrustes error | "
                   "ardr s | sklearn s | note |\n|---|---|---|---|---|---|---|")
        for r in report["references"]:
            out.append(f"| {r['dataset']} | {r['n']} | {r['method']} | {r['procrustes_error']:.1e} | "
                       f"{r['ardr_s']:.2f} | {r['sklearn_s']:.2f} | {r['note']} |")
    if "recovery" in report:
        out.append("\n## Forces from a random start against the exact solution\n\n| data set | n | method | sums | "
                   "Procrustes error | objective gap | epochs | rel. gradient | seconds | exact s | target met |\n"
                   "|---|---|---|---|---|---|---|---|---|---|---|")
        for r in report["recovery"]:
            out.append(f"| {r['dataset']} | {r['n']} | {r['method']} | {r['sums']} | {r['procrustes_error']:.1e} | "
                       f"{r['objective_gap']:.1e} | {r['epochs']} | {r['gradient_norm']:.1e} | {r['seconds']:.1f} | "
                       f"{r['exact_seconds']:.1f} | {'yes' if r['target_met'] else 'NO'} |")
    if "timing" in report:
        t = report["timing"]
        out.append(f"\n## PCA of Fashion-MNIST ({t['n']} x {t['n_features']}): forces vs scikit-learn\n\n"
                   "| run | sklearn s | ardr forces s | epochs | Procrustes to sklearn | stages |\n"
                   "|---|---|---|---|---|---|")
        for i, r in enumerate(t["runs"]):
            out.append(f"| {i} | {r['sklearn_s']:.2f} | {r['ardr_forces_s']:.2f} | {r['epochs']} | "
                       f"{r['procrustes_to_sklearn']:.1e} | {r['stages']} |")
        out.append(f"\nMedians: sklearn {t['median_sklearn_s']:.2f} s, ardr forces {t['median_ardr_forces_s']:.2f} s, "
                   f"ratio {t['ratio_of_medians']:.1f}x (target <= 10x).")
    if "stress" in report:
        out.append("\n## Metric MDS on digits: stress by forces vs SMACOF\n\n| seed | SMACOF stress | SMACOF s | "
                   "forces (sampled m=20) / SMACOF | s | forces (exact sums) / SMACOF | epochs | s |\n"
                   "|---|---|---|---|---|---|---|---|")
        for r in report["stress"]:
            out.append(f"| {r['seed']} | {r['smacof_stress']:.5g} | {r['smacof_s']:.0f} | "
                       f"{r['forces_sampled_ratio']:.4f} | {r['forces_sampled_s']:.1f} | "
                       f"{r['forces_exact_sums_ratio']:.4f} | {r['forces_exact_sums_epochs']} | "
                       f"{r['forces_exact_sums_s']:.1f} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()

"""``ardr reproduce recovery``: PCA, classical MDS and Isomap recovered by attractions and
repulsions from a random start (the paper's first claim), and metric MDS against SMACOF.

For every data set and method it fits the exact reference (``solver="exact"``), then
the force solver twice from the same random start: with exact sums and with m sampled
partners per point per epoch. Each force run records the relative Procrustes error to
the reference after every epoch. Outputs (written atomically to ``--out``):

- ``recovery.json``: one row per run (error, objective gap, epochs, seconds, target met);
- ``recovery.md``: the same as a table;
- ``recovery.png``: error against epoch (log scale) per data set, next to snapshots of
  one exact-sum run converging.

Methods: ``pca``; ``mds-euclidean`` and ``mds-l1`` (classical MDS of a precomputed
Euclidean or cityblock dissimilarity matrix, the dense double-centred kernel);
``isomap``; ``metric-mds`` (stress by forces against scikit-learn's SMACOF; its
"error" is the stress ratio, local minima differ, so Procrustes is only shown).
Error: the relative Procrustes error ||A - s B R||_F / ||A||_F after the best shift,
rotation and scale (the square root of ``ardr.metrics.procrustes_error``, a disparity).
Targets: error <= 1e-6 with exact sums, <= 5% sampled; stress <= 1.01 x SMACOF. Every
estimator is asked for ``solver="forces"`` explicitly (PCA's default is scikit-learn's
exact solver) and for two components.
"""

import json
import time

import numpy as np

DATASETS = ("digits", "mnist5k", "swiss-roll")
METHODS = ("pca", "mds-euclidean", "mds-l1", "isomap", "metric-mds")
TARGET_EXACT_SUMS = 1e-6
TARGET_SAMPLED = 0.05
TARGET_STRESS_RATIO = 1.01
#: SMACOF (the metric MDS reference) is slow: skip metric MDS above this many rows
METRIC_MDS_MAX_ROWS = 2000
QUICK_ROWS = 300
SNAPSHOT_EPOCHS = (1, 5, 15, 40)


def add_arguments(parser):
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated data sets (default {','.join(DATASETS)})")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods (default {','.join(METHODS)})")
    parser.add_argument("--sampling", type=int, default=20, help="partners per point per epoch (default 20)")
    parser.add_argument("--n-samples", type=int, help="use a seeded subset of this many rows of every data set")
    parser.add_argument("--n-neighbors", type=int, default=10, help="Isomap's neighbours (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help=f"a fast check: digits and swiss-roll, {QUICK_ROWS} rows each")


def run(args):
    from .._files import atomic_outputs
    from .._validation import check_int

    datasets = _split(args.datasets, None, "dataset")
    methods = _split(args.methods, METHODS, "method")
    m = check_int(args.sampling, "--sampling", low=1)
    n_samples = args.n_samples
    if args.quick:
        if args.datasets == ",".join(DATASETS):
            datasets = ["digits", "swiss-roll"]
        n_samples = n_samples or QUICK_ROWS
    rows, curves, snapshots = [], {}, {}
    for name in datasets:
        X, y = _load(name, n_samples, args.seed)
        for method in methods:
            if method == "metric-mds" and X.shape[0] > METRIC_MDS_MAX_ROWS:
                rows.append({"dataset": name, "n": int(X.shape[0]), "method": method, "sums": "-",
                             "skipped": f"n > {METRIC_MDS_MAX_ROWS} (SMACOF reference too slow)"})
                continue
            case = _Case(name, X, y, method, args.n_neighbors, args.seed)
            for sampling in (None, m):
                keep = sampling is None and method == _snapshot_method(name, methods)
                row, curve, snaps = case.run(sampling, keep_snapshots=keep)
                rows.append(row)
                print(_line(row), flush=True)
                if curve is not None:
                    curves.setdefault(name, []).append((f"{method}, {row['sums']}", curve))
                if snaps:
                    snapshots[name] = (method, snaps, y)
    report = {"datasets": datasets, "methods": methods, "sampling": m, "seed": args.seed, "quick": bool(args.quick),
              "targets": {"exact_sums": TARGET_EXACT_SUMS, "sampled": TARGET_SAMPLED,
                          "stress_ratio": TARGET_STRESS_RATIO},
              "rows": rows}
    with atomic_outputs(args.out) as staging:
        with open(staging / "recovery.json", "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
        (staging / "recovery.md").write_text(markdown(rows), encoding="utf-8")
        _figure(curves, snapshots, staging / "recovery.png")
    met = [r["target_met"] for r in rows if "target_met" in r]
    print(f"wrote {args.out}/recovery.json, recovery.md, recovery.png: {sum(met)} of {len(met)} runs meet "
          f"their target")


def _snapshot_method(dataset, methods):
    """The run whose convergence the figure shows: Isomap on the Swiss roll, else the first strain method."""
    strain = [m for m in methods if m != "metric-mds"]
    if dataset == "swiss-roll" and "isomap" in strain:
        return "isomap"
    return strain[0] if strain else None


def _split(text, allowed, what):
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise ValueError(f"no {what} given")
    for item in items:
        if allowed is not None and item not in allowed:
            raise ValueError(f"unknown {what} {item!r}; choose from {', '.join(allowed)}")
    return items


def _load(name, n_samples, seed):
    from .. import datasets

    X, y = datasets.load(name, n_samples=n_samples, random_state=seed)
    return X.astype(np.float64), y


class _Case:
    """One method on one data set: its input, its estimator class and its reference."""

    def __init__(self, dataset, X, y, method, n_neighbors, seed):
        from ..methods.classical import PCA, ClassicalMDS, Isomap, MetricMDS

        self.dataset, self.method, self.seed = dataset, method, seed
        self.n = X.shape[0]
        if method == "pca":
            self.cls, self.params, self.input = PCA, {}, X
        elif method in ("mds-euclidean", "mds-l1"):
            from scipy.spatial.distance import cdist

            metric = "euclidean" if method == "mds-euclidean" else "cityblock"
            self.cls, self.params = ClassicalMDS, {"dissimilarity": "precomputed"}
            self.input = cdist(X, X, metric)
        elif method == "isomap":
            self.cls, self.params, self.input = Isomap, {"n_neighbors": n_neighbors}, X
        else:
            self.cls, self.params, self.input = MetricMDS, {}, X
        self.params["n_components"] = 2
        self.stress = method == "metric-mds"
        t0 = time.perf_counter()
        # PCA's reference: a full SVD (scikit-learn's default for tall data, the covariance
        # eigensolver, was 1e-4 off it on mnist5k's raw pixels)
        exact = {"svd_solver": "full"} if method == "pca" else {}
        self.reference = self.cls(solver="exact", random_state=seed, **self.params, **exact).fit(self.input)
        self.reference_seconds = time.perf_counter() - t0
        self.reference_objective = getattr(self.reference, "final_objective_", None)
        if self.reference_objective is None:  # PCA's exact solver is scikit-learn's: the strain measured here
            from ..engine.numba.gram import FeatureGram, StrainForces

            self.reference_objective = StrainForces(FeatureGram(self.input)).objective(self.reference.embedding_)

    def run(self, sampling, keep_snapshots):
        ref = self.reference.embedding_
        errors, snaps, spent = [], {}, [0.0]

        def track(epoch, Y):
            t0 = time.perf_counter()
            errors.append(relative_error(ref, Y))
            if keep_snapshots and epoch + 1 in SNAPSHOT_EPOCHS:
                snaps[epoch + 1] = Y.copy()
            spent[0] += time.perf_counter() - t0
            return False

        est = self.cls(solver="forces", random_state=self.seed, sampling=sampling, **self.params)
        est.fit(self.input, callbacks=[] if self.stress else [track])
        error = relative_error(ref, est.embedding_)
        f_ref, f = self.reference_objective, est.final_objective_
        row = {"dataset": self.dataset, "n": int(self.n), "method": self.method,
               "sums": "exact" if sampling is None else f"sampled m={sampling}",
               "procrustes_error": error,
               "objective": f, "reference_objective": f_ref,
               "objective_gap": (f - f_ref) / max(abs(f_ref), 1e-300),
               "epochs": int(est.n_iter_), "gradient_norm": float(est.gradient_norm_),
               "seconds": est.timings_["total"] - spent[0], "reference_seconds": self.reference_seconds}
        if self.stress:
            row["stress_ratio"] = f / f_ref
            row["target"] = f"stress <= {TARGET_STRESS_RATIO} x SMACOF"
            row["target_met"] = bool(row["stress_ratio"] <= TARGET_STRESS_RATIO)
        else:
            target = TARGET_EXACT_SUMS if sampling is None else TARGET_SAMPLED
            row["target"] = f"error <= {target:g}"
            row["target_met"] = bool(error <= target)
        if snaps:
            snaps[int(est.n_iter_)] = est.embedding_
            snaps["reference"] = ref
        return row, (None if self.stress else np.asarray(errors)), snaps


def relative_error(reference, Y):
    """||A - s B R||_F / ||A||_F at the best shift, rotation and scale: the square root of
    the Procrustes disparity (``ardr.metrics.procrustes_error``)."""
    from ..explain.metrics import procrustes_error

    return float(np.sqrt(procrustes_error(reference, Y)))


def _line(row):
    if "skipped" in row:
        return f"{row['dataset']:>10} {row['method']:>13}: skipped ({row['skipped']})"
    value = f"stress ratio {row['stress_ratio']:.4f}" if "stress_ratio" in row else \
        f"Procrustes {row['procrustes_error']:.2e}"
    return (f"{row['dataset']:>10} {row['method']:>13} {row['sums']:>14}: {value}, {row['epochs']} epochs, "
            f"{row['seconds']:.1f} s {'ok' if row['target_met'] else 'MISSED'}")


def markdown(rows):
    """The table of runs as Markdown."""
    head = ("| data set | n | method | sums | relative Procrustes error | objective gap | epochs | seconds | "
            "reference s | target | met |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['dataset']} | {r['n']} | {r['method']} | - | skipped: {r['skipped']} "
                         "| | | | | | |")
            continue
        gap = f"{r['objective_gap']:.2e}"
        if "stress_ratio" in r:
            gap += f" (stress ratio {r['stress_ratio']:.4f})"
        lines.append(f"| {r['dataset']} | {r['n']} | {r['method']} | {r['sums']} | {r['procrustes_error']:.2e} | "
                     f"{gap} | {r['epochs']} | {r['seconds']:.2f} | {r['reference_seconds']:.2f} | "
                     f"{r['target']} | {'yes' if r['target_met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def _aligned(Y, reference):
    """Y rotated, reflected and scaled onto the reference (orthogonal Procrustes), for display."""
    Yc, Rc = Y - Y.mean(axis=0), reference - reference.mean(axis=0)
    U, s, Vt = np.linalg.svd(Yc.T @ Rc)
    norm = float(np.vdot(Yc, Yc))
    return (Yc @ U @ Vt) * (s.sum() / norm if norm > 0 else 1.0)


def _figure(curves, snapshots, path):
    from ..plot import _pyplot, scatter

    plt = _pyplot()
    names = list(dict.fromkeys(list(curves) + list(snapshots)))
    if not names:
        names = ["(nothing run)"]
    n_snap = max((len(s[1]) for s in snapshots.values()), default=0)
    fig, axes = plt.subplots(len(names), 1 + n_snap, figsize=(4.2 * (1 + n_snap), 3.6 * len(names)),
                             squeeze=False)
    for row, name in enumerate(names):
        ax = axes[row, 0]
        for label, errors in curves.get(name, []):
            ax.semilogy(np.arange(1, len(errors) + 1), np.maximum(errors, 1e-16), label=label, lw=1.2)
        ax.axhline(TARGET_EXACT_SUMS, color="grey", ls=":", lw=0.8)
        ax.axhline(TARGET_SAMPLED, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("epoch")
        ax.set_ylabel("relative Procrustes error to the exact solution")
        ax.set_title(name)
        if curves.get(name):
            ax.legend(fontsize="xx-small")
        method, snaps, labels = snapshots.get(name, (None, {}, None))
        for col, (epoch, Y) in enumerate(snaps.items(), start=1):
            title = f"{method}: {'exact' if epoch == 'reference' else f'epoch {epoch}'}"
            scatter(axes[row, col], _aligned(Y, snaps["reference"]), labels, title=title)
        for col in range(1 + len(snaps), 1 + n_snap):
            axes[row, col].axis("off")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)

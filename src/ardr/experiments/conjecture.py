"""``ardr reproduce conjecture``: the constant-factor ratio J(UMAP) / J(DK-LLE) over data
sets and sizes (docs/mathematics.md, 7).

The conjecture: UMAP's output is within a constant factor c of the DK-LLE optimum,
with c not growing with n. Per data set and size, on one fuzzy graph: ardr.UMAP (one
run per seed), ardr.DKLLE on the same graph, and ardr.explain.constant_factor, which
also places PCA and a random layout (each at its best overall scale) on the same
scale. Writes results.json, results.md and ratio.png (ratio against n) to --out.
"""

import json
import time

import numpy as np

from .dklle import check_run_options, dataset_tag, fit_umap_runs, parse_seeds

DEFAULT_DATASETS = "fashion-mnist,swiss-roll,blobs"
DEFAULT_SIZES = "1000,5000,20000"
QUICK_DATASETS = "digits,blobs"
QUICK_SIZES = "100,200"


def add_arguments(parser):
    parser.add_argument("--datasets", default=None, help=f"comma-separated names; default {DEFAULT_DATASETS}")
    parser.add_argument("--sizes", default=None, help=f"comma-separated sizes; default {DEFAULT_SIZES} "
                        "(a size above a data set's row count is skipped)")
    parser.add_argument("--seeds", default="0", help="UMAP seeds; the ratio is reported per seed and averaged")
    parser.add_argument("--max-iter", type=int, default=150, help="DK-LLE outer iterations")
    parser.add_argument("--umap-epochs", type=int, default=None, help="UMAP epochs (default: UMAP's own)")
    parser.add_argument("--init", default="umap-epoch", help="DK-LLE start: umap-epoch (default) or spectral")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the subsets / generated data")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny run for tests ({QUICK_DATASETS} at {QUICK_SIZES}, 100 UMAP epochs, "
                        "20 DK-LLE iterations)")


def _sizes(text):
    try:
        sizes = sorted({int(s) for s in str(text).split(",") if s.strip()})
    except ValueError:
        raise ValueError(f"--sizes must be comma-separated integers, got {text!r}") from None
    if not sizes or sizes[0] < 30:
        raise ValueError(f"--sizes needs sizes of at least 30 points, got {text!r}")
    return sizes


def _rows_available(name):
    """Row count of a real data set (None for generated ones, which take any size)."""
    from .. import datasets

    if name in ("swiss-roll", "blobs"):
        return None
    return datasets.load(name)[0].shape[0]


def run_case(name, n, seeds, args, log):
    from .. import datasets
    from .._validation import check_data
    from ..explain.objective import constant_factor
    from ..methods.lle import DKLLE

    X, _ = datasets.load(name, n_samples=n, random_state=args.data_seed)
    X = check_data(X)
    t0 = time.perf_counter()
    umaps = fit_umap_runs(X, seeds, args.n_jobs, args.umap_epochs)
    t_umap = time.perf_counter() - t0
    t0 = time.perf_counter()
    dk = DKLLE(precomputed_graph=umaps[0], init=args.init, max_iter=args.max_iter, random_state=seeds[0],
               n_jobs=args.n_jobs).fit()
    t_dk = time.perf_counter() - t0
    t0 = time.perf_counter()
    per_seed = []
    for i, u in enumerate(umaps):
        refs = ("pca", "random") if i == 0 else ()
        per_seed.append(constant_factor(umaps[0], u.embedding_, Y_dklle=dk.embedding_, X=X, references=refs,
                                        negative_sample_rate=dk.negative_sample_rate, random_state=seeds[0]))
    t_ratio = time.perf_counter() - t0
    first = per_seed[0]
    ratios = [r["ratio"] for r in per_seed]
    row = {
        "dataset": name, "n": int(X.shape[0]), "seeds": seeds,
        "J_umap": [r["J"] for r in per_seed], "J_dklle": first["J_dklle"],
        "ratio": ratios, "ratio_mean": float(np.mean(ratios)),
        "ratio_at_best_scale": [r["ratio_at_best_scale"] for r in per_seed],
        "umap_best_scale": [r["best_scale"] for r in per_seed],
        "pca_ratio": first["references"]["pca"]["ratio"],
        "random_ratio": first["references"]["random"]["ratio"],
        "dklle_iterations": dk.n_iter_, "dklle_stationarity": float(dk.stationarity_[-1]),
        "dklle_repulsion": dk.repulsion_,
        "times_s": {"umap": t_umap, "dklle": t_dk, "ratios": t_ratio},
    }
    log(f"{dataset_tag(name, n)}: J(UMAP)/J(DK-LLE) = {row['ratio_mean']:.4f} (PCA {row['pca_ratio']:.3f}, "
        f"random {row['random_ratio']:.3f}); UMAP {t_umap:.0f} s, DK-LLE {t_dk:.0f} s")
    return row


def markdown(rows):
    lines = ["# Constant factor: J(UMAP) / J(DK-LLE)", "",
             "J is DK-LLE's objective (UMAP's effective objective) on the fuzzy graph; both embeddings use the "
             "same graph. PCA and random: J of that layout at its best overall scale over J(DK-LLE). "
             "UMAP at best scale: J(s* Y_UMAP) / J(DK-LLE). UMAP runs its default schedule: 500 epochs up to "
             "10,000 points, 200 above (dotted line in ratio.png).", "",
             "| data set | n | J(UMAP) / J(DK-LLE) | UMAP at best scale | PCA | random | DK-LLE stationarity |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['n']} | {r['ratio_mean']:.4f} | {np.mean(r['ratio_at_best_scale']):.4f} | "
                     f"{r['pca_ratio']:.3f} | {r['random_ratio']:.3f} | {r['dklle_stationarity']:.3g} |")
    return "\n".join(lines) + "\n"


def figure(rows, path):
    from ..plot import _pyplot

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100)
    try:
        for name in dict.fromkeys(r["dataset"] for r in rows):
            mine = sorted((r for r in rows if r["dataset"] == name), key=lambda r: r["n"])
            n = [r["n"] for r in mine]
            line, = left.plot(n, [r["ratio_mean"] for r in mine], "o-", label=name)
            right.plot(n, [r["ratio_mean"] for r in mine], "o-", color=line.get_color(), label=f"{name}: UMAP")
            right.plot(n, [r["pca_ratio"] for r in mine], "s--", color=line.get_color(), alpha=0.6,
                       label=f"{name}: PCA")
            right.plot(n, [r["random_ratio"] for r in mine], "^:", color=line.get_color(), alpha=0.6,
                       label=f"{name}: random")
        for ax in (left, right):
            ax.set_xscale("log")
            ax.set_xlabel("n")
            ax.axhline(1.0, color="grey", lw=0.8)
            # UMAP's default schedule: 500 epochs up to 10,000 points, 200 above
            ax.axvline(10_000, color="grey", lw=0.8, ls=":")
        left.set_ylabel("J(UMAP) / J(DK-LLE)")
        left.set_title("UMAP against the DK-LLE optimum")
        right.set_yscale("log")
        right.set_ylabel("J / J(DK-LLE)")
        right.set_title("with PCA and random references (best scale)")
        left.legend(fontsize="small")
        right.legend(fontsize="x-small", ncol=2)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def run(args):
    from .._files import atomic_outputs
    from .._files import jsonable
    from .dklle import parse_datasets

    names = [name for name, _ in parse_datasets(args.datasets or (QUICK_DATASETS if args.quick else DEFAULT_DATASETS))]
    sizes = _sizes(args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES))
    seeds = parse_seeds(args.seeds)
    check_run_options(args)
    rows = []
    for name in names:
        available = _rows_available(name)
        for n in sizes:
            if available is not None and n > available:
                print(f"{name}: size {n} skipped (the data set has {available} rows)", flush=True)
                continue
            rows.append(run_case(name, n, seeds, args, lambda m: print(m, flush=True)))
    if not rows:
        raise ValueError("no (data set, size) pair to run: every size exceeds its data set")
    with atomic_outputs(args.out) as staging:
        with open(staging / "results.json", "w", encoding="utf-8") as f:
            json.dump(jsonable({"experiment": "conjecture", "rows": rows}), f, indent=2)
        (staging / "results.md").write_text(markdown(rows), encoding="utf-8")
        figure(rows, staging / "ratio.png")
    print(f"wrote {args.out}/results.json, results.md, ratio.png")

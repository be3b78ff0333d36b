"""``ardr reproduce dklle``: DK-LLE against UMAP, classical LLE and Laplacian eigenmaps.

The paper's equivalence claim (docs/mathematics.md, 6a and 7) as a measurement. Per data set, on ONE
fuzzy graph P (built by ardr.UMAP with the first seed; the other seeds reuse its
neighbours): UMAP with several seeds, DK-LLE on P, classical LLE and Laplacian
eigenmaps (the spectral layout of P). Each embedding gets 5-NN accuracy,
trustworthiness, its 15-NN overlap and Procrustes error against every UMAP seed,
J (DK-LLE's objective on P) and J / J(DK-LLE). The UMAP seed-to-seed overlaps and
Procrustes errors are the baseline: a method "reproduces UMAP" when its mean overlap
with the UMAP runs is no lower than the lowest seed-to-seed overlap and its 5-NN
accuracy is within 0.01 of UMAP's mean.

Writes results.json, results.md, dklle.png (one row per data set) and
embeddings.npz to --out, atomically.
"""

import json
import time

import numpy as np

DEFAULT_DATASETS = "digits,mnist5k,fashion-mnist:10000,fashion-mnist"
QUICK_DATASETS = "digits:200"
OVERLAP_K = 15
ACCURACY_K = 5
TRUST_K = 10
ACCURACY_TOLERANCE = 0.01
METHODS = ("umap", "dklle", "lle", "laplacian")
LABELS = {"umap": "UMAP", "dklle": "DK-LLE", "lle": "classical LLE", "laplacian": "Laplacian eigenmaps"}


def add_arguments(parser):
    parser.add_argument("--datasets", default=None,
                        help=f"comma-separated NAME or NAME:N (seeded N-row subset); default {DEFAULT_DATASETS}")
    parser.add_argument("--seeds", default="0,1,2", help="UMAP seeds (the first also seeds DK-LLE)")
    parser.add_argument("--max-iter", type=int, default=150, help="DK-LLE outer iterations")
    parser.add_argument("--umap-epochs", type=int, default=None, help="UMAP epochs (default: UMAP's own)")
    parser.add_argument("--init", default="umap-epoch", help="DK-LLE start: umap-epoch (default) or spectral")
    parser.add_argument("--lle-neighbors", type=int, default=15, help="classical LLE's k")
    parser.add_argument("--lle-max-rows", type=int, default=20_000,
                        help="skip classical LLE above this many points (its shift-invert eigensolve "
                             "factorizes the n x n matrix M)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the data subsets")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--quick", action="store_true", help=f"tiny run for tests ({QUICK_DATASETS}, "
                        "2 seeds, 100 UMAP epochs, 20 DK-LLE iterations)")


def parse_datasets(text):
    """'digits,fashion-mnist:10000' -> [('digits', None), ('fashion-mnist', 10000)]."""
    out = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        name, _, size = item.partition(":")
        if size:
            try:
                n = int(size)
            except ValueError:
                raise ValueError(f"bad data set size in {item!r}; use NAME or NAME:N") from None
            if n < 30:
                raise ValueError(f"data set {item!r}: at least 30 points are needed")
            out.append((name, n))
        else:
            out.append((name, None))
    if not out:
        raise ValueError("no data sets given")
    return out


def parse_seeds(text, minimum=1):
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if len(seeds) < minimum or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds needs at least {minimum} distinct non-negative integers, got {text!r}")
    return seeds


def dataset_tag(name, n):
    return name if n is None else f"{name}:{n}"


def fit_umap_runs(X, seeds, n_jobs, n_epochs=None):
    """ardr.UMAP for each seed on one graph: later seeds reuse the first one's neighbours."""
    from ..methods.neighbor_embedding import UMAP

    runs = []
    for s in seeds:
        knn = None if not runs else (runs[0].knn_indices_, runs[0].knn_dists_)
        t0 = time.perf_counter()
        est = UMAP(random_state=s, n_jobs=n_jobs, precomputed_knn=knn, n_epochs=n_epochs).fit(X)
        est.wall_ = time.perf_counter() - t0
        runs.append(est)
    return runs


def score(X, y, Y, umap_embeddings, objective, J_dk, *, seed=0):
    """The table's columns for one embedding (None where the labels are missing)."""
    from ..explain import metrics
    from ..explain.objective import best_scale

    Y = np.asarray(Y, dtype=np.float64)
    overlaps = [metrics.knn_overlap(Y, U, OVERLAP_K) for U in umap_embeddings]
    procrustes = [metrics.procrustes_error(Y, U) for U in umap_embeddings]
    J = objective.value(Y)
    _, J_best = best_scale(objective, Y)
    return {
        "knn_accuracy": None if y is None else metrics.knn_accuracy(Y, y, k=ACCURACY_K, random_state=seed),
        "trustworthiness": metrics.trustworthiness(X, Y, TRUST_K, n_queries=2000, random_state=seed),
        "overlap_with_umap": overlaps,
        "overlap_with_umap_mean": float(np.mean(overlaps)) if overlaps else None,
        "procrustes_to_umap": procrustes,
        "procrustes_to_umap_mean": float(np.mean(procrustes)) if procrustes else None,
        "J": J,
        "ratio": J / J_dk,
        "ratio_at_best_scale": J_best / J_dk,  # LLE's and the spectral layout's scales are arbitrary
    }


def seed_baseline(umap_embeddings):
    """Overlap and Procrustes error between every pair of UMAP seeds."""
    from ..explain import metrics

    pairs = [(i, j) for i in range(len(umap_embeddings)) for j in range(i + 1, len(umap_embeddings))]
    overlap = [metrics.knn_overlap(umap_embeddings[i], umap_embeddings[j], OVERLAP_K) for i, j in pairs]
    procrustes = [metrics.procrustes_error(umap_embeddings[i], umap_embeddings[j]) for i, j in pairs]
    return {"pairs": pairs, "overlap": overlap, "procrustes": procrustes,
            "overlap_min": min(overlap), "overlap_mean": float(np.mean(overlap)),
            "procrustes_max": max(procrustes), "procrustes_mean": float(np.mean(procrustes))}


def run_dataset(name, n, seeds, args, log):
    """Every method on one data set; returns (row dict, {method: embedding}, labels)."""
    from .. import datasets
    from .._validation import check_data
    from ..engine.numba.dklle import DKObjective
    from ..graph.initialization import spectral_layout
    from ..methods.lle import DKLLE, LLE

    X, y = datasets.load(name, n_samples=n, random_state=args.data_seed)
    X = check_data(X)
    tag = dataset_tag(name, n)
    log(f"{tag}: {X.shape[0]} x {X.shape[1]}")
    times = {}
    umaps = fit_umap_runs(X, seeds, args.n_jobs, args.umap_epochs)
    times["umap"] = [u.wall_ for u in umaps]
    log(f"  UMAP x {len(seeds)}: {', '.join(f'{t:.0f} s' for t in times['umap'])}")
    P = umaps[0].graph_
    a, b = umaps[0].a_, umaps[0].b_
    embeddings = {f"umap_seed{s}": u.embedding_ for s, u in zip(seeds, umaps)}

    t0 = time.perf_counter()
    dk = DKLLE(precomputed_graph=umaps[0], init=args.init, max_iter=args.max_iter, random_state=seeds[0],
               n_jobs=args.n_jobs).fit()
    times["dklle"] = time.perf_counter() - t0
    embeddings["dklle"] = dk.embedding_
    log(f"  DK-LLE: {times['dklle']:.0f} s, {dk.n_iter_} iterations, J {dk.objective_[0]:.6g} -> "
        f"{dk.objective_[-1]:.6g}, stationarity {dk.stationarity_[-1]:.3g}")

    lle_note = None
    if X.shape[0] <= args.lle_max_rows:
        t0 = time.perf_counter()
        try:
            embeddings["lle"] = LLE(n_neighbors=args.lle_neighbors, random_state=seeds[0],
                                    n_jobs=args.n_jobs).fit_transform(X)
        except Exception as exc:  # an eigensolver failure is a result here, not a crash
            lle_note = f"failed: {type(exc).__name__}: {exc}"
        times["lle"] = time.perf_counter() - t0
    else:
        lle_note = f"skipped above --lle-max-rows={args.lle_max_rows}"
    t0 = time.perf_counter()
    embeddings["laplacian"] = spectral_layout(P, dk.embedding_.shape[1], seeds[0])
    times["laplacian"] = time.perf_counter() - t0

    objective = DKObjective(P, a, b, dk.negative_sample_rate, repulsion="auto", dim=dk.embedding_.shape[1])
    J_dk = objective.value(np.asarray(dk.embedding_, dtype=np.float64))
    umap_Y = [u.embedding_ for u in umaps]
    baseline = seed_baseline(umap_Y) if len(umap_Y) > 1 else None
    scores = {}
    for i, s in enumerate(seeds):
        others = [U for j, U in enumerate(umap_Y) if j != i]
        scores[f"umap_seed{s}"] = score(X, y, umap_Y[i], others, objective, J_dk, seed=seeds[0])
    for method in ("dklle", "lle", "laplacian"):
        if method in embeddings:
            scores[method] = score(X, y, embeddings[method], umap_Y, objective, J_dk, seed=seeds[0])
    umap_acc = [scores[f"umap_seed{s}"]["knn_accuracy"] for s in seeds]
    umap_acc_mean = None if y is None else float(np.mean(umap_acc))
    for method in ("dklle", "lle", "laplacian"):
        if method in scores and baseline is not None:
            sc = scores[method]
            sc["overlap_ok"] = sc["overlap_with_umap_mean"] >= baseline["overlap_min"]
            sc["accuracy_ok"] = None if y is None else abs(sc["knn_accuracy"] - umap_acc_mean) <= ACCURACY_TOLERANCE
            sc["reproduces_umap"] = bool(sc["overlap_ok"] and sc["accuracy_ok"] is not False)
    row = {
        "dataset": tag, "n": int(X.shape[0]), "dim": int(X.shape[1]), "seeds": seeds,
        "umap_accuracy_mean": umap_acc_mean, "seed_baseline": baseline, "scores": scores, "times_s": times,
        "dklle": {"init": args.init, "n_iter": dk.n_iter_, "J_start": float(dk.objective_[0]),
                  "J_final": float(dk.objective_[-1]), "stationarity_final": float(dk.stationarity_[-1]),
                  "J_decreased_every_iteration": bool(np.all(np.diff(dk.objective_) < 0)),
                  "repulsion": dk.repulsion_, "solver": dk.solver_, "timings_s": dk.timings_},
        "lle_note": lle_note,
    }
    return row, embeddings, y


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def markdown(rows):
    lines = ["# DK-LLE against UMAP, classical LLE and Laplacian eigenmaps", "",
             f"Same fuzzy graph for every method. Overlap: mean {OVERLAP_K}-NN Jaccard overlap with the UMAP "
             "runs (UMAP rows: with the other seeds). Procrustes: mean error to the UMAP runs. J: DK-LLE's "
             f"objective on the graph; ratio: J / J(DK-LLE), as given and with the embedding at its best "
             "overall scale (J is not scale-invariant; LLE's and the spectral layout's scales are arbitrary). "
             "Reproduces UMAP: mean overlap >= the lowest UMAP "
             f"seed-to-seed overlap and {ACCURACY_K}-NN accuracy within {ACCURACY_TOLERANCE} of UMAP's mean.", ""]
    for row in rows:
        base = row["seed_baseline"]
        lines.append(f"## {row['dataset']} (n = {row['n']})")
        lines.append("")
        if base is not None:
            lines.append(f"UMAP seed to seed: overlap min {base['overlap_min']:.3f}, mean {base['overlap_mean']:.3f}; "
                         f"Procrustes mean {base['procrustes_mean']:.3f}, max {base['procrustes_max']:.3f}.")
            lines.append("")
        lines.append(f"| method | {ACCURACY_K}-NN acc | trust@{TRUST_K} | overlap with UMAP (per seed) "
                     "| Procrustes to UMAP | J | ratio | ratio at best scale | reproduces UMAP |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for key, sc in row["scores"].items():
            label = key.replace("umap_seed", "UMAP seed ") if key.startswith("umap") else LABELS[key]
            ok = sc.get("reproduces_umap")
            verdict = "" if ok is None else ("yes" if ok else "no")
            per_seed = ", ".join(f"{v:.3f}" for v in sc["overlap_with_umap"])
            lines.append(f"| {label} | {_fmt(sc['knn_accuracy'], '.4f')} | {sc['trustworthiness']:.4f} | "
                         f"{_fmt(sc['overlap_with_umap_mean'], '.3f')} ({per_seed}) | "
                         f"{_fmt(sc['procrustes_to_umap_mean'], '.3f')} | {sc['J']:.6g} | {sc['ratio']:.4f} | "
                         f"{sc['ratio_at_best_scale']:.4f} | {verdict} |")
        if row["lle_note"]:
            lines.append(f"\nclassical LLE: {row['lle_note']}")
        d = row["dklle"]
        lines.append(f"\nDK-LLE: init {d['init']}, {d['n_iter']} iterations, {d['repulsion']} repulsion, "
                     f"{d['solver']} solver, J {d['J_start']:.6g} -> {d['J_final']:.6g} (decreased every "
                     f"iteration: {d['J_decreased_every_iteration']}), final stationarity "
                     f"{d['stationarity_final']:.3g}, {row['times_s']['dklle']:.0f} s.")
        lines.append("")
    return "\n".join(lines) + "\n"


def figure(rows, all_embeddings, all_labels, path):
    from ..plot import _pyplot, scatter

    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), 4, figsize=(16, 4 * len(rows)), dpi=90, squeeze=False)
    try:
        for r, row in enumerate(rows):
            emb, labels = all_embeddings[r], all_labels[r]
            first = f"umap_seed{row['seeds'][0]}"
            for c, key in enumerate((first, "dklle", "lle", "laplacian")):
                ax = axes[r, c]
                if key not in emb:
                    ax.set_axis_off()
                    ax.set_title(f"{LABELS.get(key, key)}: not run")
                    continue
                sc = row["scores"][key]
                acc = "" if sc["knn_accuracy"] is None else f", acc {sc['knn_accuracy']:.3f}"
                label = "UMAP" if key.startswith("umap") else LABELS[key]
                scatter(ax, emb[key], labels, title=f"{row['dataset']}: {label}\noverlap "
                        f"{_fmt(sc['overlap_with_umap_mean'], '.2f')}{acc}, J ratio {sc['ratio']:.3f}")
                if ax.get_legend() is not None and c > 0:
                    ax.get_legend().remove()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def check_run_options(args):
    """Shared by ``reproduce dklle`` and ``reproduce conjecture``: --quick shortens the
    runs; the DK-LLE and UMAP options are checked here."""
    if args.quick and args.max_iter == 150:
        args.max_iter = 20
    if args.quick and args.umap_epochs is None:
        args.umap_epochs = 100
    if args.umap_epochs is not None and args.umap_epochs < 1:
        raise ValueError(f"--umap-epochs must be >= 1, got {args.umap_epochs}")
    if args.max_iter < 1:
        raise ValueError(f"--max-iter must be >= 1, got {args.max_iter}")
    if args.init not in ("umap-epoch", "spectral"):
        raise ValueError(f"--init must be umap-epoch or spectral, got {args.init!r}")


def run(args):
    from .._files import atomic_outputs
    from .._files import jsonable

    text = QUICK_DATASETS if args.quick and args.datasets is None else (args.datasets or DEFAULT_DATASETS)
    data = parse_datasets(text)
    seeds = parse_seeds("0,1" if args.quick and args.seeds == "0,1,2" else args.seeds, minimum=1)
    check_run_options(args)

    def log(message):
        print(message, flush=True)

    rows, embeddings, labels = [], [], []
    for name, n in data:
        row, emb, y = run_dataset(name, n, seeds, args, log)
        rows.append(row)
        embeddings.append(emb)
        labels.append(y)
    with atomic_outputs(args.out) as staging:
        with open(staging / "results.json", "w", encoding="utf-8") as f:
            json.dump(jsonable({"experiment": "dklle", "rows": rows}), f, indent=2)
        (staging / "results.md").write_text(markdown(rows), encoding="utf-8")
        figure(rows, embeddings, labels, staging / "dklle.png")
        arrays = {f"{row['dataset']}/{key}": np.asarray(Y, dtype=np.float32)
                  for row, emb in zip(rows, embeddings) for key, Y in emb.items()}
        np.savez_compressed(staging / "embeddings.npz", **arrays)
    print(f"wrote {args.out}/results.json, results.md, dklle.png, embeddings.npz")

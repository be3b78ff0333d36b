"""``ardr explain``: what an embedding made by any tool preserves of its input, point by
point -> report.html (self-contained), report.json, pointwise.csv."""

import json
import time
from types import SimpleNamespace

import numpy as np

LAWS = ("umap", "tsne")


def add_parser(sub):
    p = sub.add_parser("explain", help="explain an embedding of an input: an HTML report with per-point "
                                       "trustworthiness, stationarity residuals and a Shepard diagram")
    p.add_argument("--input", required=True, help="input data (.npy, .npz or .csv), one row per point")
    p.add_argument("--embedding", required=True, help="the embedding of those rows (any tool), same order")
    p.add_argument("--labels", help="labels file, one per row (optional)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--k", type=int, default=10, help="neighbours for the neighbourhood metrics (default 10)")
    p.add_argument("--law", choices=LAWS, default="umap",
                   help="force law whose balance the residual measures (default umap)")
    p.add_argument("--n-neighbors", type=int, default=15, help="umap law: neighbours in the input graph")
    p.add_argument("--perplexity", type=float, default=30.0, help="tsne law: perplexity of the input kernel")
    p.add_argument("--n-pairs", type=int, default=20000, help="random pairs in the Shepard diagram")
    p.add_argument("--seed", type=int, default=0, help="seed of every sample drawn")


def _load(args):
    """(X, Y, labels), validated: same rows, finite, k < n / 2; else ValueError naming the problem."""
    from .._files import load_matrix
    from .._validation import check_data, check_float, check_int
    from ._common import load_data

    X, labels, _ = load_data(SimpleNamespace(dataset=None, input=args.input, labels=args.labels,
                                             n_samples=None, seed=args.seed))
    X = check_data(X, name="input", min_rows=3)
    Y = np.asarray(load_matrix(args.embedding, what="embedding"))
    if Y.ndim == 1:
        Y = Y[:, None]
    Y = check_data(Y, name="embedding", min_rows=3, dtype=np.float64)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"the embedding has {Y.shape[0]} rows but the input has {X.shape[0]}")
    n = X.shape[0]
    k = check_int(args.k, "--k", low=1)
    if k >= n / 2:
        raise ValueError(f"--k {k} must be smaller than half the number of points (n = {n})")
    check_int(args.n_neighbors, "--n-neighbors", low=2)
    check_float(args.perplexity, "--perplexity", low=0.0, low_inclusive=False)
    check_int(args.n_pairs, "--n-pairs", low=10)
    if labels is not None and len(np.unique(labels)) < 2:
        labels = None  # one class says nothing
    return X, Y, labels


def _diagnose(X, Y, labels, args):
    """Global metrics and per-point diagnostics; X's neighbours are searched once above the exact limit."""
    from ..explain import metrics
    from ..explain import pointwise
    from ..graph.neighbors import nearest_neighbors

    n, k = X.shape[0], args.k
    timings = {}
    t0 = time.perf_counter()
    input_knn = None
    if n > 20000:  # the exact limit of ardr.metrics; above, share one approximate search
        K = min(n - 1, max(3 * k, 30, args.n_neighbors - 1, int(3 * args.perplexity)))
        input_knn = nearest_neighbors(X, K, random_state=args.seed)
    timings["input_neighbours"] = time.perf_counter() - t0
    common = {"input_knn": input_knn, "random_state": args.seed}
    t0 = time.perf_counter()
    result = metrics.report(X, Y, labels=labels, k=k, random_state=args.seed)
    timings["metrics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    local = {
        "local_trustworthiness": pointwise.local_trustworthiness(X, Y, k, **common),
        "local_continuity": pointwise.local_continuity(X, Y, k, **common),
        "local_knn_overlap": pointwise.local_knn_overlap(X, Y, k, **common),
        "neighbour_agreement": pointwise.neighbour_agreement(X, Y, k=k, **common),
    }
    timings["pointwise"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    settings = pointwise.force_settings(X, args.law, n_neighbors=args.n_neighbors, perplexity=args.perplexity,
                                        **common)
    local["residual"] = pointwise.reconstruction_residual(None, Y, law=settings, random_state=args.seed)
    timings["residual"] = time.perf_counter() - t0
    result["neighbour_agreement"] = float(local["neighbour_agreement"].mean())
    result["median_residual"] = float(np.median(local["residual"]))
    return result, local, timings


def _shepard_pairs(X, Y, n_pairs, seed):
    """Input and embedded distances of seeded random pairs i != j."""
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n
    dx = np.linalg.norm(X[i].astype(np.float64) - X[j], axis=1)
    dy = np.linalg.norm(Y[i] - Y[j], axis=1)
    return dx, dy


def _page(X, Y, labels, result, local, args):
    from scipy import stats

    from .. import __version__
    from ..explain import html as page

    k = args.k
    dx, dy = _shepard_pairs(X, Y, args.n_pairs, args.seed)
    rho = float(stats.spearmanr(dx, dy).statistic) if np.ptp(dx) > 0 and np.ptp(dy) > 0 else 0.0
    figures = [
        (page.value_figure(Y, local["local_trustworthiness"], title=f"Local trustworthiness (k = {k})",
                           colour_label="trustworthiness of the point's neighbourhood"),
         "Each point coloured by its own trustworthiness term: dark points have picture neighbours that "
         "are far away in the input."),
        (page.value_figure(Y, local["residual"], title=f"Stationarity residual ({args.law} forces)",
                           colour_label="net force / total force", cmap="plasma", reverse=True),
         "How far each point is from the weighted average of the others under the chosen force law: "
         "bright points are not at rest."),
    ]
    if labels is not None:
        figures.append((page.label_figure(Y, labels, title="Labels"), "The embedding coloured by label."))
    figures.append((page.value_figure(Y, local["local_continuity"], title=f"Local continuity (k = {k})",
                                      colour_label="continuity of the point's neighbourhood"),
                    "Dark points have input neighbours that are drawn far from them."))
    figures.append((page.shepard_figure(dx, dy, spearman=rho),
                    "Input distance against embedded distance for random pairs: a thin rising band means "
                    "distances are kept."))
    figures = [(page.png_data_uri(fig), caption) for fig, caption in figures]
    lines = page.reading(result, local["local_trustworthiness"], local["residual"], local["neighbour_agreement"],
                         Y, labels, law=args.law)
    details = {
        "input": f"{args.input} ({X.shape[0]:,} x {X.shape[1]})",
        "embedding": f"{args.embedding} ({Y.shape[0]:,} x {Y.shape[1]})",
        "labels": args.labels or "none",
        "neighbours k": k,
        "force law": args.law + (f", n_neighbors {args.n_neighbors}" if args.law == "umap"
                                 else f", perplexity {args.perplexity}"),
        "ardr": __version__,
    }
    html = page.render(title="What this embedding preserves", figures=figures, metrics=result,
                       reading_lines=lines, details=details)
    return html, lines


def run(args):
    from .. import __version__
    from .._files import atomic_outputs

    t_start = time.perf_counter()
    X, Y, labels = _load(args)
    result, local, timings = _diagnose(X, Y, labels, args)
    t0 = time.perf_counter()
    html, lines = _page(X, Y, labels, result, local, args)
    timings["report"] = time.perf_counter() - t0
    with atomic_outputs(args.out) as staging:
        (staging / "report.html").write_text(html, encoding="utf-8")
        names = list(local)
        table = np.column_stack([np.arange(len(Y))] + [local[name] for name in names])
        np.savetxt(staging / "pointwise.csv", table, delimiter=",", header="index," + ",".join(names),
                   comments="", fmt=["%d"] + ["%.6g"] * len(names))
        timings["total"] = time.perf_counter() - t_start
        summary = {
            "ardr_version": __version__,
            "input": str(args.input),
            "embedding": str(args.embedding),
            "labels": args.labels,
            "law": args.law,
            "metrics": result,
            "reading": lines,
            "timings": timings,
        }
        (staging / "report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"wrote {args.out}/report.html, report.json, pointwise.csv ({timings['total']:.1f} s)")

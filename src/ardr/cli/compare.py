"""``ardr compare``: several methods on the same data and the same kNN graph ->
grid.png (one panel per method, same colours), table.md and table.json (metrics and
times), embedding_<method>.npy."""

import json
import time

import numpy as np

from .._files import jsonable
from ._common import add_data_arguments, load_data

_COLUMNS = (  # (key in a row, header, format)
    ("fit_s", "fit (s)", "{:.2f}"),
    ("trustworthiness", "trust", "{:.4f}"),
    ("continuity", "continuity", "{:.4f}"),
    ("knn_overlap", "kNN overlap", "{:.4f}"),
    ("distance_spearman", "dist. Spearman", "{:.4f}"),
    ("knn_accuracy", "5-NN acc.", "{:.4f}"),
    ("objective", "objective", "{:.6g}"),
)


def add_parser(sub):
    p = sub.add_parser("compare", help="run several methods on the same data and kNN graph; grid figure and "
                                       "metric table")
    add_data_arguments(p)
    p.add_argument("--methods", required=True, help="comma-separated method names, e.g. umap,tsne,pca,isomap")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--k", type=int, default=10, help="neighbours for the quality metrics (default 10)")
    p.add_argument("--n-neighbors", type=int, default=15,
                   help="neighbours for every method that takes n_neighbors (default 15, UMAP's): one graph")
    p.add_argument("--n-jobs", type=int, help="threads for the methods that take it (default: theirs)")
    p.add_argument("--quiet", action="store_true", help="no progress")


def parse_methods(text):
    """The method names, checked against the registry before any work is done."""
    from ..methods.registry import METHODS, available

    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise ValueError(f"--methods must be a comma-separated list of names, got {text!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"--methods lists a method twice: {text!r}")
    installed = available()
    for name in names:
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; choose from {', '.join(installed)}")
        if name not in installed:
            module = METHODS[name].split(":")[0]
            raise ValueError(f"method {name!r} is not available: its module {module} is not installed in this "
                             f"version of ardr (available: {', '.join(installed)})")
    return names


def _shared_inputs(names, X, args):
    """Estimator options that make every method use one kNN search: precomputed_knn where
    the estimator takes it, else a UMAP graph built from it (precomputed_graph)."""
    from ..methods.registry import estimator_class
    from ..graph.neighbors import nearest_neighbors

    n = X.shape[0]
    params = {name: estimator_class(name)().get_params(deep=False) | _common_options(name, args)
              for name in names}
    needed = 1
    for p in params.values():
        if "n_neighbors" in p:
            needed = max(needed, int(p["n_neighbors"]))
        if "perplexity" in p:
            needed = max(needed, int(3 * p["perplexity"]))
    k = min(n - 1, needed)
    t0 = time.perf_counter()
    knn = nearest_neighbors(X, k, random_state=args.seed)
    knn_s = time.perf_counter() - t0
    options = {}
    for name, p in params.items():
        if "precomputed_knn" in p:
            options[name] = {"precomputed_knn": knn}
        elif "precomputed_graph" in p and "n_neighbors" in p:
            from ..graph.affinities import umap_graph

            m = min(int(p["n_neighbors"]), n)
            options[name] = {"precomputed_graph": umap_graph(knn[0][:, : m - 1], knn[1][:, : m - 1], m)}
        else:
            options[name] = {}
    return options, k, knn_s


def _neighbours_used(options, params):
    """How a method got its neighbours: the shared search, its own, or none needed."""
    if options:
        return "shared"
    return "own" if "n_neighbors" in params or "perplexity" in params else "none"


def _common_options(name, args):
    """--n-neighbors and --n-jobs, for the methods that have such a parameter."""
    from ..methods.registry import estimator_class

    params = estimator_class(name)().get_params(deep=False)
    wanted = {"n_neighbors": args.n_neighbors, "n_jobs": args.n_jobs}
    return {key: value for key, value in wanted.items() if key in params and value is not None}


def _objective(estimator):
    """The method's final objective value, if the estimator records one."""
    value = getattr(estimator, "final_objective_", None)
    if value is None:
        value = getattr(estimator, "objective_", None)
    if value is None:
        return None
    value = np.asarray(value, dtype=np.float64).ravel()
    return float(value[-1]) if value.size else None


def _markdown(rows, source, n, knn_k, knn_s):
    columns = [c for c in _COLUMNS if any(row.get(c[0]) is not None for row in rows)]
    lines = [f"Methods on {source} ({n:,} points), one shared {knn_k}-NN search ({knn_s:.2f} s).", "",
             "| method | neighbours | " + " | ".join(header for _, header, _ in columns) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in columns) + " |"]
    for row in rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "" for key, _, fmt in columns]
        lines.append(f"| {row['method']} | {row['neighbours']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _grid(embeddings, labels, titles, path):
    from .. import plot

    plt = plot._pyplot()
    m = len(embeddings)
    cols = int(np.ceil(np.sqrt(m)))
    rows = int(np.ceil(m / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.6 * rows), dpi=100, squeeze=False)
    try:
        for ax, Y, title in zip(axes.ravel(), embeddings, titles):
            plot.scatter(ax, Y, labels, title=title)
        for ax in axes.ravel()[m:]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def run(args):
    from .. import __version__
    from ..explain import metrics
    from .._files import atomic_outputs
    from .._validation import check_data, check_int
    from ..methods.registry import make_estimator

    names = parse_methods(args.methods)
    X, y, source = load_data(args)
    X = check_data(X)
    n = X.shape[0]
    k = check_int(args.k, "--k", low=1)
    check_int(args.n_neighbors, "--n-neighbors", low=2)
    if k >= n / 2:
        raise ValueError(f"--k {k} must be smaller than half the number of points (n = {n})")
    labels = y if y is not None and len(np.unique(y)) > 1 else None
    say = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    options, knn_k, knn_s = _shared_inputs(names, X, args)
    say(f"{knn_k}-NN graph of {n:,} points: {knn_s:.1f} s")
    rows, embeddings = [], {}
    for name in names:
        estimator = make_estimator(name, random_state=args.seed, **_common_options(name, args), **options[name])
        t0 = time.perf_counter()
        Y = np.asarray(estimator.fit_transform(X), dtype=np.float64)
        fit_s = time.perf_counter() - t0
        if not np.isfinite(Y).all():
            raise FloatingPointError(f"method {name} produced a non-finite embedding")
        t0 = time.perf_counter()
        row = {"method": name, "fit_s": fit_s,
               "neighbours": _neighbours_used(options[name], estimator.get_params(deep=False)),
               **metrics.report(X, Y, labels=labels, k=k, random_state=args.seed),
               "metrics_s": time.perf_counter() - t0, "objective": _objective(estimator),
               "parameters": jsonable(estimator.get_params())}
        for key in ("precomputed_knn", "precomputed_graph"):
            row["parameters"].pop(key, None)
        rows.append(row)
        embeddings[name] = Y
        say(f"{name}: fit {fit_s:.1f} s, trustworthiness {row['trustworthiness']:.3f}")
    with atomic_outputs(args.out) as staging:
        _grid(list(embeddings.values()), labels, [f"{name} ({row['fit_s']:.1f} s)" for name, row in
                                                   zip(embeddings, rows)], staging / "grid.png")
        for name, Y in embeddings.items():
            np.save(staging / f"embedding_{name}.npy", Y)
        (staging / "table.md").write_text(_markdown(rows, source, n, knn_k, knn_s), encoding="utf-8")
        table = {"ardr_version": __version__, "source": source, "n_samples": n, "n_features": int(X.shape[1]),
                 "seed": args.seed, "k": k, "shared_knn": {"k": knn_k, "seconds": knn_s}, "methods": rows}
        (staging / "table.json").write_text(json.dumps(jsonable(table), indent=2), encoding="utf-8")
    say(f"wrote {args.out}/grid.png, table.md, table.json, embedding_<method>.npy")

"""``ardr explain``: what a 2-D picture of an input can and cannot say -> report.html
(self-contained), report.json, pointwise.csv (and embedding.npy when it embeds first).

The picture is any tool's (``--embedding FILE``) or made here (``--method NAME``); the
input is a file (``--input``) or a bundled data set (``--dataset``).
"""

import time

import numpy as np

from ._common import add_data_arguments, load_data

LAWS = ("auto", "umap", "tsne", "linear", "unknown")


def add_parser(sub):
    p = sub.add_parser("explain", help="say which group sizes, distances, gaps and splits of a 2-D picture of "
                                       "the input can be read, and which cannot (HTML + JSON report)")
    add_data_arguments(p)
    picture = p.add_mutually_exclusive_group(required=True)
    picture.add_argument("--embedding", help="the picture of the input's rows (any tool's), same order "
                                             "(.npy, .npz or .csv)")
    picture.add_argument("--method", help="embed the input with this ardr method first (umap, tsne, pca, ...)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--law", choices=LAWS, default="auto",
                   help="the force law that made the picture (default: detected; with --method: the method's)")
    p.add_argument("--k", type=int, default=15, help="neighbours per point in the input graph (default 15)")
    p.add_argument("--perplexity", type=float, default=30.0,
                   help="perplexity of the tSNE law tried or stated (default 30)")
    p.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean",
                   help="input distance (default euclidean)")


def _load(args):
    """(X, Y or None, labels, description), validated: one-line ValueErrors name the problem."""
    from .._files import load_matrix
    from ..datasets import class_names

    X, labels, source = load_data(args)
    if args.dataset and labels is not None:
        labels = class_names(args.dataset, labels)
    Y = None
    if args.embedding:
        Y = np.asarray(load_matrix(args.embedding, what="embedding"))
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.shape[0] != np.shape(X)[0]:
            raise ValueError(f"the embedding has {Y.shape[0]} rows but the input has {np.shape(X)[0]}")
    if labels is not None and len(np.unique(labels)) < 2:
        raise ValueError("the labels name a single group: give labels with at least two, or none "
                         "(groups are then found in the input)")
    return X, Y, labels, source


def _embed(X, args):
    from ..methods.registry import make_estimator

    est = make_estimator(args.method, random_state=args.seed)
    if "metric" in est.get_params() and args.metric != "euclidean":
        est.set_params(metric=args.metric)
    t0 = time.perf_counter()
    Y = est.fit_transform(X)
    return est, np.asarray(Y, dtype=np.float64), time.perf_counter() - t0


def run(args):
    from .. import __version__
    from .._files import atomic_outputs
    from .._validation import check_data
    from ..explain.explanation import explain

    t_start = time.perf_counter()
    X, Y, labels, source = _load(args)
    X = check_data(X, name="input", min_rows=3)
    law, fit_seconds, estimator = args.law, None, None
    if args.method:
        estimator, Y, fit_seconds = _embed(X, args)
        if args.law == "auto" and hasattr(estimator, "graph_") and hasattr(estimator, "a_"):
            law = estimator  # the picture's own force law and graph
    result = explain(X, Y, labels, law=law, k=args.k, metric=args.metric, perplexity=args.perplexity,
                     random_state=args.seed)
    details = {"input": f"{source} ({X.shape[0]:,} x {X.shape[1]})",
               "picture": (f"{args.embedding}" if args.embedding else f"ardr {args.method} (seed {args.seed})")
               + f" ({Y.shape[0]:,} x {Y.shape[1]})",
               "labels": "given" if labels is not None else "none (groups found in the input)",
               "ardr": __version__}
    t0 = time.perf_counter()
    page = result.to_html(details=details)
    report_seconds = time.perf_counter() - t0
    with atomic_outputs(args.out) as staging:
        (staging / "report.html").write_text(page, encoding="utf-8")
        result.to_csv(staging / "pointwise.csv")
        if args.method:
            np.save(staging / "embedding.npy", Y.astype(np.float32))
        timings = result.timings | {"report": report_seconds, "total": time.perf_counter() - t_start}
        if fit_seconds is not None:
            timings["fit"] = fit_seconds
        result.to_json(staging / "report.json", input=str(source),
                       embedding=args.embedding or f"ardr {args.method}", labels=args.labels or args.dataset,
                       timings=timings)
    print(f"wrote {args.out}/report.html, report.json, pointwise.csv ({timings['total']:.1f} s)")

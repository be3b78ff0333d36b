"""``ardr embed``: one method on one data set -> embedding.npy, embedding.png, report.json."""

import json
import time

import numpy as np

from ._common import add_data_arguments, add_method_arguments, jsonable, load_data, method_options


def add_parser(sub):
    from ..methods import available

    p = sub.add_parser("embed", help="embed a data set; write embedding, plot and report")
    add_data_arguments(p)
    p.add_argument("--method", default="umap", choices=available())
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-metrics", action="store_true", help="skip the quality metrics in the report")
    add_method_arguments(p)


def run(args):
    from .. import __version__, metrics, plot
    from .._files import atomic_outputs
    from .._validation import check_data
    from ..methods import make_estimator

    t_start = time.perf_counter()
    X, y, source = load_data(args)
    X = check_data(X)
    estimator = make_estimator(args.method, random_state=args.seed, verbose=not args.quiet,
                               **method_options(args))
    timings = {"load": time.perf_counter() - t_start}
    Y = estimator.fit_transform(X)
    timings.update({f"fit_{k}": v for k, v in getattr(estimator, "timings_", {}).items()})
    timings["fit"] = time.perf_counter() - t_start - timings["load"]
    report = {
        "ardr_version": __version__,
        "method": args.method,
        "source": source,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "seed": args.seed,
        "parameters": jsonable(estimator.get_params()),
        "metrics": None,
    }
    if not args.no_metrics:
        t0 = time.perf_counter()
        k = min(10, (X.shape[0] - 1) // 2)
        if k >= 1:
            labels = y if y is not None and len(np.unique(y)) > 1 else None
            report["metrics"] = metrics.report(X, Y, labels=labels, k=k, random_state=args.seed)
        timings["metrics"] = time.perf_counter() - t0
    with atomic_outputs(args.out) as staging:
        t0 = time.perf_counter()
        np.save(staging / "embedding.npy", Y)
        plot.save_embedding_plot(Y, staging / "embedding.png", labels=y, title=f"{args.method} of {source}")
        timings["write"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        report["timings"] = timings
        with open(staging / "report.json", "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    print(f"wrote {args.out}/embedding.npy, embedding.png, report.json ({timings['total']:.1f} s)")

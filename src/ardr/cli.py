"""The ``ardr`` command.

    ardr embed --dataset digits --method umap --out DIR
    ardr embed --input X.npy [--labels y.npy] --method tsne --out DIR

Writes DIR/embedding.npy, DIR/embedding.png and DIR/report.json, all or nothing.
Errors print one line and exit with status 1 (2 for bad command-line usage).
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np

# CLI option -> estimator parameter, per method; None means "not given, keep the default".
_COMMON = ("n_components", "metric", "init", "n_jobs")
METHOD_OPTIONS = {
    "umap": _COMMON + ("n_neighbors", "min_dist", "spread", "n_epochs", "learning_rate",
                       "negative_sample_rate", "normalized"),
    "tsne": _COMMON + ("perplexity", "n_iter", "early_exaggeration", "learning_rate", "repulsion"),
}


def _estimator(method, options, seed, verbose):
    import ardr

    cls = {"umap": ardr.UMAP, "tsne": ardr.TSNE}[method]
    params = {k: v for k, v in options.items() if k in METHOD_OPTIONS[method] and v is not None}
    if method == "tsne" and "n_epochs" in options and options["n_epochs"] is not None:
        params["n_iter"] = options["n_epochs"]
    return cls(random_state=seed, verbose=verbose, **params)


def _parser():
    parser = argparse.ArgumentParser(prog="ardr", description="Attraction/repulsion dimensionality reduction.")
    sub = parser.add_subparsers(dest="command", required=True)
    embed = sub.add_parser("embed", help="embed a data set and write embedding, plot and report")
    source = embed.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="a bundled data set (see ardr.datasets.names())")
    source.add_argument("--input", help="a data file: .npy, .npz or .csv (rows = points)")
    embed.add_argument("--labels", help="labels file (.npy, .npz or .csv), one per row of --input")
    embed.add_argument("--n-samples", type=int, help="use a seeded random subset of this many rows")
    embed.add_argument("--method", default="umap", choices=sorted(METHOD_OPTIONS))
    embed.add_argument("--out", required=True, help="output folder")
    embed.add_argument("--seed", type=int, default=0)
    embed.add_argument("--quiet", action="store_true", help="no progress bar")
    embed.add_argument("--no-metrics", action="store_true", help="skip the quality metrics in the report")
    g = embed.add_argument_group("method options (defaults: the method's own)")
    g.add_argument("--n-components", type=int)
    g.add_argument("--metric", choices=("euclidean", "cosine"))
    g.add_argument("--init", choices=("spectral", "pca", "random"))
    g.add_argument("--n-jobs", type=int)
    g.add_argument("--n-neighbors", type=int)
    g.add_argument("--min-dist", type=float)
    g.add_argument("--spread", type=float)
    g.add_argument("--n-epochs", type=int, help="epochs (tsne: iterations)")
    g.add_argument("--learning-rate", type=float)
    g.add_argument("--negative-sample-rate", type=int)
    g.add_argument("--normalized", action="store_true", default=None, help="umap: tSNE's normalization")
    g.add_argument("--perplexity", type=float)
    g.add_argument("--early-exaggeration", type=float)
    g.add_argument("--repulsion", choices=("auto", "exact", "fft", "sampled"))
    return parser


def _load_input(args):
    from . import datasets
    from ._files import load_matrix

    if args.dataset:
        X, y = datasets.load(args.dataset, n_samples=args.n_samples, random_state=args.seed)
        if args.labels:
            raise ValueError("--labels goes with --input; bundled data sets carry their own labels")
        return X, y, args.dataset
    X = load_matrix(args.input, what="input")
    y = load_matrix(args.labels, what="labels") if args.labels else None
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 2 and 1 in y.shape:
            y = y.ravel()
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"labels have shape {y.shape} but the input has {len(X)} rows")
    if args.n_samples is not None and args.n_samples < len(X):
        if args.n_samples < 2:
            raise ValueError("--n-samples must be at least 2")
        keep = np.sort(np.random.default_rng(args.seed).choice(len(X), args.n_samples, replace=False))
        X, y = X[keep], (None if y is None else y[keep])
    return X, y, str(args.input)


def embed(args):
    from . import __version__
    from ._files import atomic_outputs
    from ._validation import check_data
    from .plot import save_embedding_plot

    t_start = time.perf_counter()
    X, y, source = _load_input(args)
    X = check_data(X)
    options = {k: getattr(args, k) for k in vars(args)}
    estimator = _estimator(args.method, options, args.seed, verbose=not args.quiet)
    timings = {"load": time.perf_counter() - t_start}
    Y = estimator.fit_transform(X)
    timings.update({f"fit_{k}": v for k, v in estimator.timings_.items()})
    report = {
        "ardr_version": __version__,
        "method": args.method,
        "source": source,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "seed": args.seed,
        "parameters": {k: _jsonable(v) for k, v in estimator.get_params().items()},
        "metrics": None,
    }
    if not args.no_metrics:
        from . import metrics

        t0 = time.perf_counter()
        k = min(10, (X.shape[0] - 1) // 2)
        if k >= 1:
            report["metrics"] = metrics.report(X, Y, labels=y if y is not None and len(np.unique(y)) > 1 else None,
                                               k=k, random_state=args.seed)
        timings["metrics"] = time.perf_counter() - t0
    with atomic_outputs(args.out) as staging:
        t0 = time.perf_counter()
        np.save(staging / "embedding.npy", Y)
        save_embedding_plot(Y, staging / "embedding.png", labels=y, title=f"{args.method} of {source}")
        timings["write"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        report["timings"] = timings
        with open(staging / "report.json", "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)[:200]


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            if args.command == "embed":
                report = embed(args)
                print(f"wrote {args.out}/embedding.npy, embedding.png, report.json "
                      f"({report['timings']['total']:.1f} s)")
    except (ValueError, OSError, FloatingPointError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"ardr: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ardr: interrupted; nothing written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Pieces shared by the sub-commands: data sources and method options."""

import numpy as np


def add_data_arguments(parser, *, labels=True):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="a bundled data set (see ardr.datasets.names())")
    source.add_argument("--input", help="a data file (rows = points): .npy, .npz (dense, or scipy sparse), "
                                        ".csv/.tsv/.txt (comma, semicolon, tab or space separated; .gz too)")
    if labels:
        parser.add_argument("--labels", metavar="COLUMN|FILE",
                            help="labels: a column of the --input table (its header name, or a 0-based index; "
                                 "it is then not a feature), or a file with one label per row of --input")
    parser.add_argument("--n-samples", type=int, help="use a seeded random subset of this many rows")
    parser.add_argument("--seed", type=int, default=0)


# (flag, type, help); an option reaches the estimator only if it is one of its parameters
METHOD_OPTIONS = (
    ("--n-components", int, "output dimensions"),
    ("--metric", str, "euclidean or cosine"),
    ("--init", str, "spectral, pca or random"),
    ("--n-jobs", int, "threads (-1: all)"),
    ("--n-neighbors", int, "neighbours in the input graph"),
    ("--min-dist", float, "umap: minimum distance in the output kernel"),
    ("--spread", float, "umap: scale of the output kernel"),
    ("--n-epochs", int, "epochs (tsne: iterations)"),
    ("--learning-rate", float, "learning rate"),
    ("--negative-sample-rate", int, "repulsions per attraction"),
    ("--perplexity", float, "tsne: perplexity"),
    ("--early-exaggeration", float, "tsne: early exaggeration factor"),
    ("--repulsion", str, "normalized methods: auto, exact, fft or sampled"),
    ("--solver", str, "classical methods: forces or exact"),
    ("--sampling", int, "classical methods: partners per point per epoch (default: exact sums)"),
    ("--dissimilarity", str, "mds: euclidean or precomputed"),
    ("--reg", float, "lle: regularization"),
    ("--max-iter", int, "iterations of iterative solvers"),
    ("--backend", str, "numba (CPU, default) or torch: umap, tsne, pca, mds, isomap"),
    ("--device", str, "torch backend: cpu, cuda or cuda:N (default: cuda when available)"),
)
FLAGS = ("--normalized",)


def add_method_arguments(parser):
    group = parser.add_argument_group("method options (default: the method's own; an option the method "
                                      "does not have is an error)")
    for flag, typ, text in METHOD_OPTIONS:
        group.add_argument(flag, type=typ, help=text)
    group.add_argument("--normalized", action="store_true", default=None, help="umap: tSNE's normalization")
    group.add_argument("--distributed", action="store_true", default=None,
                       help="umap: one rank of a sharded run (torchrun --nproc-per-node=N -m ardr embed "
                            "--distributed ...; backend torch unless --backend says otherwise)")


def method_options(args):
    names = [flag[2:].replace("-", "_") for flag, _, _ in METHOD_OPTIONS] + ["normalized", "distributed"]
    options = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if options.get("distributed"):
        options.setdefault("backend", "torch")
    return options


def load_data(args):
    """(X, y, description) from --dataset or --input/--labels, optionally subsampled."""
    from .. import datasets

    n_samples = getattr(args, "n_samples", None)
    if args.dataset:
        if getattr(args, "labels", None):
            raise ValueError("--labels goes with --input; bundled data sets carry their own labels")
        X, y = datasets.load(args.dataset, n_samples=n_samples, random_state=args.seed)
        return X, y, args.dataset
    X, y = load_input(args.input, getattr(args, "labels", None))
    n = X.shape[0] if X.ndim else 0
    if n_samples is not None and n_samples < n:
        if n_samples < 2:
            raise ValueError("--n-samples must be at least 2")
        keep = np.sort(np.random.default_rng(args.seed).choice(n, n_samples, replace=False))
        X, y = X[keep], (None if y is None else y[keep])
    return X, y, str(args.input)


def load_input(path, labels=None):
    """(X, y) from an input file and ``--labels``: a column of the input table (by header
    name or index) or a labels file. X may be a scipy sparse matrix (a sparse .npz)."""
    from pathlib import Path

    from .._files import is_text_table, load_matrix, load_table, table_columns

    if labels is not None and is_text_table(path) and Path(path).is_file():
        columns = table_columns(path)
        is_column = (columns is not None and labels in columns) or _is_int(labels)
        if is_column and Path(labels).is_file():
            raise ValueError(f"--labels {labels} is both a column of {path} and a file; rename one")
        if is_column:
            return load_table(path, labels, what="input")
        if not Path(labels).exists():
            names = "it has no header line" if columns is None else f"its columns are {', '.join(columns[:20])}"
            raise ValueError(f"--labels {labels}: no such file, and no such column of {path} ({names})")
    X = load_matrix(path, what="input")
    if labels is None:
        return X, None
    y = load_matrix(labels, what="labels")
    if hasattr(y, "toarray"):
        y = y.toarray()
    y = np.asarray(y)
    if y.ndim == 2 and 1 in y.shape:
        y = y.ravel()
    if y.ndim != 1 or len(y) != X.shape[0]:
        raise ValueError(f"labels have shape {y.shape} but the input has {X.shape[0]} rows")
    return X, y


def _is_int(text):
    try:
        int(text)
    except ValueError:
        return False
    return True

"""``ardr embed``: one method on one data set -> embedding.npy, embedding.png, report.json,
and with ``--save-model FILE`` the fitted model (``ardr.load(FILE)`` reads it back).

All outputs appear together or not at all: they are written under temporary names in
their target folders and renamed into place once everything has been written.

Under ``torchrun --nproc-per-node=N -m ardr embed --distributed ...`` every rank fits its
shard (``ardr.methods.distributed``) and rank 0 writes the outputs."""

import contextlib
import json
import time
from pathlib import Path

import numpy as np

from .._files import jsonable
from ._common import add_data_arguments, add_method_arguments, load_data, method_options


# what a fitted estimator says about its own run, copied into report.json when present
_RESULT_ATTRIBUTES = ("variant_", "n_iter_", "n_epochs_", "gradient_norm_", "final_objective_", "kl_divergence_",
                      "distributed_stats_")


def add_parser(sub):
    from ..methods.registry import available

    p = sub.add_parser("embed", help="embed a data set; write embedding, plot and report")
    add_data_arguments(p)
    p.add_argument("--method", default="umap", choices=available())
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-metrics", action="store_true", help="skip the quality metrics in the report")
    p.add_argument("--save-model", metavar="FILE",
                   help="also write the fitted model to FILE (.npz, no pickle; ardr.load(FILE) reads it)")
    add_method_arguments(p)


def run(args):
    from .. import __version__, plot
    from ..explain import metrics
    from .._files import atomic_outputs
    from .._validation import check_data
    from ..methods.registry import make_estimator

    t_start = time.perf_counter()
    model_path = _model_destination(args)  # checked before the (long) fit
    X, y, source = load_data(args)
    X = check_data(X)
    estimator = make_estimator(args.method, random_state=args.seed, verbose=not args.quiet,
                               **method_options(args))
    timings = {"load": time.perf_counter() - t_start}
    Y = estimator.fit_transform(X)
    if getattr(estimator, "distributed_stats_", {}).get("rank", 0) != 0:
        return  # a sharded run: every rank holds the embedding, rank 0 writes it
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
        "result": {name: jsonable(getattr(estimator, name)) for name in _RESULT_ATTRIBUTES
                   if hasattr(estimator, name)},
        "metrics": None,
    }
    precomputed = getattr(estimator, "dissimilarity", None) == "precomputed"
    if not args.no_metrics and not precomputed:  # a dissimilarity matrix is not a feature space
        t0 = time.perf_counter()
        k = min(10, (X.shape[0] - 1) // 2)
        if k >= 1:
            labels = y if y is not None and len(np.unique(y)) > 1 else None
            report["metrics"] = metrics.report(X, Y, labels=labels, k=k, random_state=args.seed)
        timings["metrics"] = time.perf_counter() - t0
    with atomic_outputs(args.out) as staging, _model_file(model_path, args.out, staging) as model_file:
        t0 = time.perf_counter()
        np.save(staging / "embedding.npy", Y)
        plot.save_embedding_plot(Y, staging / "embedding.png", labels=y, title=f"{args.method} of {source}")
        if model_file is not None:
            from ..io import save

            save(estimator, model_file)
            report["model"] = str(model_path)
        timings["write"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        report["timings"] = timings
        with open(staging / "report.json", "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    written = "embedding.npy, embedding.png, report.json" + (f"; model {model_path}" if model_path else "")
    print(f"wrote {args.out}/{written} ({timings['total']:.1f} s)")


_OUTPUT_NAMES = ("embedding.npy", "embedding.png", "report.json")


def _model_destination(args):
    """The --save-model path, checked up front: not one of the other outputs, folder exists."""
    if not args.save_model:
        return None
    path = Path(args.save_model)
    out = Path(args.out).resolve()
    target = path.resolve()
    if target.is_dir() or target == out:
        raise ValueError(f"--save-model {path} is a folder; give a file name such as model.npz")
    if target.parent == out and target.name in _OUTPUT_NAMES:
        raise ValueError(f"--save-model {path} would overwrite the {target.name} that embed writes")
    if not target.is_relative_to(out) and not target.parent.is_dir():
        raise ValueError(f"--save-model {path}: folder {path.parent} does not exist")
    return path


@contextlib.contextmanager
def _model_file(model_path, out, staging):
    """Where to write the model: in the staging folder when it goes inside --out (it then
    moves into place with the other outputs), else a temporary file renamed on success."""
    if model_path is None:
        yield None
        return
    out = Path(out).resolve()
    target = model_path.resolve()
    if target.is_relative_to(out):
        staged = staging / target.relative_to(out)
        staged.parent.mkdir(parents=True, exist_ok=True)
        yield staged
        return
    from .._files import atomic_file

    with atomic_file(target) as tmp:
        yield tmp

"""``ardr transform``: place new points with a saved model (``ardr embed --save-model``,
``est.save``) and write their coordinates to one file (.npy, or a .csv table)."""

import numpy as np


def add_parser(sub):
    p = sub.add_parser("transform", help="place new points with a saved model")
    p.add_argument("--model", required=True, help="a model file (.npz) written by `ardr embed --save-model` or est.save")
    p.add_argument("--input", required=True,
                   help="the new points: .npy, .npz (dense or scipy sparse), .csv/.tsv/.txt (.gz too)")
    p.add_argument("--labels", metavar="COLUMN",
                   help="a column of the --input table that is not a feature (as given to `ardr embed`); left out")
    p.add_argument("--out", required=True, help="output file: .npy, or .csv (one row per input row)")


def run(args):
    from pathlib import Path

    from .._files import atomic_file
    from ..io import load
    from ._common import load_input

    out = Path(args.out)
    if out.suffix.lower() not in (".npy", ".csv"):
        raise ValueError(f"--out {out} must end in .npy or .csv")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: folder {out.parent} does not exist")
    model = load(args.model)
    if not hasattr(model, "transform"):
        raise ValueError(f"the {type(model).__name__} in {args.model} has no transform: it embeds only the points "
                         "it was fitted on")
    X, _ = load_input(args.input, args.labels)
    Y = np.asarray(model.transform(X))
    with atomic_file(out) as tmp:
        if out.suffix.lower() == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, Y)
        else:
            np.savetxt(tmp, Y, delimiter=",", fmt="%.9g")
    print(f"wrote {out}: {Y.shape[0]} x {Y.shape[1]} ({type(model).__name__} from {args.model})")

"""``ardr reproduce NAME --out DIR``: the paper's experiments, one module each in
``ardr.experiments`` (``add_arguments(parser)``, ``run(args)``)."""

import importlib
import importlib.util

EXPERIMENTS = {
    "recovery": "PCA, classical MDS and Isomap recovered by forces from a random start",
    "dklle": "DK-LLE against UMAP, classical LLE and Laplacian eigenmaps",
    "conjecture": "J(UMAP) / J(DK-LLE) over data sets and sizes",
}


def add_parser(sub):
    p = sub.add_parser("reproduce", help="reproduce one of the paper's experiments")
    inner = p.add_subparsers(dest="experiment", required=True)
    for name, text in EXPERIMENTS.items():
        if importlib.util.find_spec(f"ardr.experiments.{name}") is None:
            continue
        q = inner.add_parser(name, help=text)
        q.add_argument("--out", required=True, help="output folder")
        importlib.import_module(f"ardr.experiments.{name}").add_arguments(q)


def run(args):
    importlib.import_module(f"ardr.experiments.{args.experiment}").run(args)

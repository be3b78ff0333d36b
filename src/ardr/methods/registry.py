"""The registry of embedding methods the command line (and ``compare``) can run.

Each name maps to "module:Class"; a method whose module is not installed is simply
not offered. Estimators take the options whose names are among their parameters.
"""

import importlib
import importlib.util

METHODS = {
    "umap": "ardr.methods.neighbor_embedding:UMAP",
    "tsne": "ardr.methods.neighbor_embedding:TSNE",
    "pca": "ardr.methods.classical:PCA",
    "mds": "ardr.methods.classical:ClassicalMDS",
    "isomap": "ardr.methods.classical:Isomap",
    "metric-mds": "ardr.methods.classical:MetricMDS",
    "lle": "ardr.methods.lle:LLE",
    "dklle": "ardr.methods.lle:DKLLE",
}


def available():
    """Names of the methods whose module exists in this installation."""
    return [name for name, target in METHODS.items() if importlib.util.find_spec(target.split(":")[0])]


def estimator_class(name):
    if name not in METHODS or name not in available():
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(available())}")
    module, cls = METHODS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_estimator(name, *, random_state=None, verbose=False, **options):
    """An estimator for ``name`` with the given options (None = the method's default).

    An option the method does not have is an error, not silently dropped. The command
    line embeds: a method whose own default is all components (PCA, as scikit-learn's)
    gets ``n_components=2`` unless it is given."""
    cls = estimator_class(name)
    params = cls().get_params(deep=False)
    given = {k: v for k, v in options.items() if v is not None}
    if name == "tsne" and "n_epochs" in given:
        given["max_iter"] = given.pop("n_epochs")
    unknown = sorted(set(given) - set(params))
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise ValueError(f"method {name} does not take {flags}")
    if params.get("n_components", 2) is None:
        given.setdefault("n_components", 2)
    for key, value in (("random_state", random_state), ("verbose", verbose)):
        if key in params:
            given[key] = value
    return cls(**given)

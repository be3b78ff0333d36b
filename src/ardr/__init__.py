"""ardr: attraction/repulsion dimensionality reduction.

UMAP, tSNE and classical methods as input kernel + output kernel + force law on one
optimizer. Public names are loaded lazily so that ``import ardr`` stays fast: no
numba kernel, pynndescent or matplotlib is imported until it is used.
"""

__version__ = "0.1.0"

_LAZY = {
    "ARDR": "ardr.methods.neighbor_embedding",
    "UMAP": "ardr.methods.neighbor_embedding",
    "TSNE": "ardr.methods.neighbor_embedding",
    "PCA": "ardr.methods.classical",
    "ClassicalMDS": "ardr.methods.classical",
    "Isomap": "ardr.methods.classical",
    "MetricMDS": "ardr.methods.classical",
    "LLE": "ardr.methods.lle",
    "DKLLE": "ardr.methods.lle",
    "load": "ardr.io",
    "save": "ardr.io",
    "datasets": "ardr.datasets",
    "metrics": "ardr.explain.metrics",
    "explain": "ardr.explain",
    "tl": "ardr.tl",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__.rpartition(".")[2] == name else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ardr' has no attribute {name!r}")


def __dir__():
    return __all__

"""ardr: attraction/repulsion dimensionality reduction.

UMAP, tSNE and classical methods as input kernel + output kernel + force law on one
optimizer. Public names are loaded lazily so that ``import ardr`` stays fast: no
numba kernel, pynndescent or matplotlib is imported until it is used.
"""

__version__ = "0.1.0"

_LAZY = {
    "ARDR": "ardr.estimators",
    "UMAP": "ardr.estimators",
    "TSNE": "ardr.estimators",
    "PCA": "ardr.classical_methods",
    "ClassicalMDS": "ardr.classical_methods",
    "Isomap": "ardr.classical_methods",
    "MetricMDS": "ardr.classical_methods",
    "LLE": "ardr.lle",
    "DKLLE": "ardr.lle",
    "load": "ardr.io",
    "datasets": "ardr.datasets",
    "metrics": "ardr.metrics",
    "explain": "ardr.explain",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__ == f"ardr.{name}" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ardr' has no attribute {name!r}")


def __dir__():
    return __all__

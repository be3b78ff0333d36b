"""Metrics of the neighbour search: names, the row transforms that turn some of them into
euclidean distance, and compiled kernels for the others.

- **euclidean family** (``EUCLIDEAN_FAMILY``): after a transform of the rows the metric
  is a function of the euclidean distance between them, so the fast search (BLAS and
  the IVF) serves it: cosine (unit rows; d = |u - v|^2 / 2), correlation (centred unit
  rows; the same), hellinger (square roots of rows scaled to sum 1; d = |u - v| / sqrt 2).
- **other named metrics** (``KERNEL_METRICS``): manhattan, chebyshev, minkowski (``p``),
  hamming, jaccard, with the definitions of scipy's ``cdist`` (and pynndescent's), computed
  by the cached kernels below (one switch on a metric code: no per-process compilation).
- **user callables**: a numba-compiled ``f(x, y) -> float``; the same kernels are compiled
  once per process around it (``with_distance``).
"""

import types

import numba
import numpy as np
import scipy.sparse as sp

ALIASES = {"l2": "euclidean", "l1": "manhattan", "taxicab": "manhattan", "cityblock": "manhattan",
           "linf": "chebyshev", "linfinity": "chebyshev"}
EUCLIDEAN_FAMILY = ("euclidean", "cosine", "correlation", "hellinger")
KERNEL_METRICS = ("manhattan", "chebyshev", "minkowski", "hamming", "jaccard")
METRICS = EUCLIDEAN_FAMILY + KERNEL_METRICS + ("precomputed",)
# Metrics that take sparse CSR rows without densifying them.
SPARSE_METRICS = ("euclidean", "cosine", "hellinger", "jaccard")
_CODES = {name: code for code, name in enumerate(KERNEL_METRICS)}
CALLABLE_CODE = -1


def canonical(metric, metric_kwds=None):
    """(name or callable, minkowski p); ValueError for unknown metrics or arguments."""
    kwds = dict(metric_kwds or {})
    if callable(metric):
        if not hasattr(metric, "py_func"):
            raise ValueError("a metric function must be compiled with numba (@numba.njit): f(x, y) -> float")
        if kwds:
            raise ValueError(f"metric_kwds {sorted(kwds)} are not passed to a metric function")
        return metric, 2.0
    if not isinstance(metric, str):
        raise ValueError(f"metric must be a name or a numba function, got {metric!r}")
    name = ALIASES.get(metric, metric)
    if name not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)} or a numba function")
    p = 2.0
    if name == "minkowski":
        p = kwds.pop("p", 2.0)
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not p >= 1 or not np.isfinite(p):
            raise ValueError(f"minkowski needs a finite p >= 1 in metric_kwds, got p={p!r}")
    if kwds:
        raise ValueError(f"metric {metric!r} takes no metric_kwds {sorted(kwds)}")
    return name, float(p)


def code_of(metric):
    return CALLABLE_CODE if callable(metric) else _CODES[metric]


# ------------------------------------------------------------------ transforms
def power_of_two_scale(*arrays):
    """An exact power of two bringing the largest |entry| near 1 when it lies outside
    [2^-40, 2^40]; else 1. Float32 squared distances neither overflow nor underflow then."""
    big = max((max(float(np.max(a)), -float(np.min(a))) if a.size else 0.0) for a in arrays)  # no |a| copy
    if big == 0.0 or 2.0**-40 < big < 2.0**40:
        return 1.0
    return float(2.0 ** np.frexp(big)[1])


def unit_rows(X, metric):
    """Rows whose euclidean geometry gives the metric (float32; sparse stays sparse).
    A zero row (no direction) stays zero."""
    if metric == "euclidean":
        return X.astype(np.float32) if sp.issparse(X) else np.asarray(X, dtype=np.float32)
    if metric == "hellinger":
        if (X.data if sp.issparse(X) else np.asarray(X)).min(initial=0) < 0:
            raise ValueError("hellinger needs non-negative data (rows are treated as distributions)")
        sums = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
        return _sqrt_rows(_scale_rows(X, np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)))
    if metric == "correlation":
        X = np.asarray(X, dtype=np.float64)
        X = X - X.mean(axis=1, keepdims=True)
    norms = _row_norms(X)
    return _scale_rows(X, np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)).astype(np.float32)


def _row_norms(X):
    if sp.issparse(X):
        return np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel())
    return np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))


def _scale_rows(X, factors):
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(factors) @ X, dtype=np.float64)
    return np.asarray(X, dtype=np.float64) * factors[:, None]


def _sqrt_rows(X):
    if sp.issparse(X):
        X = X.copy()
        X.data = np.sqrt(X.data)
        return X.astype(np.float32)
    return np.sqrt(X).astype(np.float32)


def from_squared(keys, metric):
    """The metric from squared euclidean distances between the transformed rows."""
    keys = np.maximum(keys, 0.0)
    if metric in ("cosine", "correlation"):
        return keys / 2.0
    if metric == "hellinger":
        return np.sqrt(keys / 2.0)
    return np.sqrt(keys)


# --------------------------------------------------------------------- kernels
@numba.njit(cache=True, fastmath={"reassoc", "contract"})
def metric_distance(x, y, code, p):
    """The kernel metrics, as scipy's cdist defines them."""
    acc = 0.0
    if code == 0:  # manhattan
        for d in range(x.shape[0]):
            acc += abs(x[d] - y[d])
        return acc
    if code == 1:  # chebyshev
        for d in range(x.shape[0]):
            acc = max(acc, abs(x[d] - y[d]))
        return acc
    if code == 2:  # minkowski
        for d in range(x.shape[0]):
            acc += abs(x[d] - y[d]) ** p
        return acc ** (1.0 / p)
    if code == 3:  # hamming: the fraction of coordinates that differ
        for d in range(x.shape[0]):
            if x[d] != y[d]:
                acc += 1.0
        return acc / x.shape[0]
    # jaccard: non-zero coordinates as set members
    union = 0.0
    for d in range(x.shape[0]):
        a, b = x[d] != 0, y[d] != 0
        union += a or b
        acc += a and b
    return 1.0 - acc / union if union > 0 else 0.0


def with_distance(kernel, distance):
    """``kernel`` compiled (uncached) with a user's ``distance(x, y)`` in place of
    ``metric_distance``: the same source, another metric."""
    user = distance

    @numba.njit
    def call(x, y, code, p):
        return user(x, y)

    f = kernel.py_func
    scope = dict(f.__globals__, metric_distance=call)
    clone = types.FunctionType(f.__code__, scope, f.__name__, f.__defaults__, f.__closure__)
    options = {key: value for key, value in kernel.targetoptions.items() if key not in ("cache", "nopython")}
    return numba.njit(**options)(clone)

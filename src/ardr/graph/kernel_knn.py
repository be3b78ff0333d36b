"""Neighbours in the kernel metrics (``distances.KERNEL_METRICS``) and user callables.

- exact: every pair through the compiled metric, in parallel over the queries, each
  query keeping a heap of its k smallest (distance, index); O(m n D) time, O(m k) memory.
- approximate (``approximate``): the euclidean search on a proxy of the rows (the rows
  themselves; for jaccard their non-zero pattern) proposes ``2k + 32`` candidates, the
  metric ranks them, then neighbour-of-neighbour rounds in the metric
  (``descent.refine``) run until a round changes under ``DESCENT_STOP`` of the entries.

All deterministic: each query writes only its own row, ties go to the lower index.
"""

import numba
import numpy as np

from . import descent
from ._rows import sort_rows
from .distances import code_of, metric_distance, with_distance
from .ivf import _NO_INDEX, _before, _replace_top

CANDIDATES_PER_NEIGHBOUR = 2
EXTRA_CANDIDATES = 32
DESCENT_FAN = 16
DESCENT_ROUNDS = 6
DESCENT_STOP = 0.001


@numba.njit(parallel=True, cache=True)
def exact_kernel(Q, X, k, self_index, code, p):
    """The k nearest rows of X to each row of Q (excluding X[self_index[i]] for query i;
    -1: none), as unsorted heaps (keys, indices)."""
    m, n = Q.shape[0], X.shape[0]
    keys = np.full((m, k), np.inf, dtype=np.float32)
    idx = np.full((m, k), _NO_INDEX, dtype=np.int32)
    for i in numba.prange(m):
        hk, hi = keys[i], idx[i]
        for j in range(n):
            if j == self_index[i]:
                continue
            d = np.float32(metric_distance(Q[i], X[j], code, p))
            if _before(d, j, hk[0], hi[0]):
                _replace_top(hk, hi, d, j)
    return keys, idx


@numba.njit(parallel=True, cache=True)
def pair_kernel(X, candidates, code, p):
    """The metric from each row to its candidates."""
    n, c = candidates.shape
    keys = np.empty((n, c), dtype=np.float32)
    for i in numba.prange(n):
        for s in range(c):
            keys[i, s] = metric_distance(X[i], X[candidates[i, s]], code, p)
    return keys


_USER_KERNELS = {}  # (id of the user's function, kernel name) -> (function, kernel)


def _kernel(kernel, metric):
    """``kernel`` for a metric name, or compiled once per process around a user's function."""
    if not callable(metric):
        return kernel
    key = (id(metric), kernel.__name__)
    if key not in _USER_KERNELS:
        _USER_KERNELS[key] = (metric, with_distance(kernel, metric))
    return _USER_KERNELS[key][1]


def rows_for_kernels(X):
    X = np.asarray(X)
    return np.ascontiguousarray(X if X.dtype in (np.float32, np.float64) else X.astype(np.float64))


def exact(X, k, metric, p, *, queries=None, exclude_self=True):
    """Exact k nearest neighbours in a kernel metric: (indices int32, distances float32)."""
    X = rows_for_kernels(X)
    Q = X if queries is None else rows_for_kernels(queries).astype(X.dtype)
    m = Q.shape[0]
    self_index = np.arange(m) if (exclude_self and queries is None) else np.full(m, -1)
    keys, idx = _kernel(exact_kernel, metric)(Q, X, k, self_index, code_of(metric), p)
    order = sort_rows(keys, idx)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(keys, order, axis=1)


def approximate(X, k, metric, p, euclidean_search):
    """Approximate k nearest neighbours in a kernel metric; ``euclidean_search(P, c)``
    returns c euclidean candidates per row of the proxy P."""
    X = rows_for_kernels(X)
    n = X.shape[0]
    proxy = (X != 0).astype(np.float32) if metric == "jaccard" else X
    n_candidates = min(n - 1, CANDIDATES_PER_NEIGHBOUR * k + EXTRA_CANDIDATES)
    candidates, _ = euclidean_search(proxy, n_candidates)
    code = code_of(metric)
    keys = _kernel(pair_kernel, metric)(X, candidates, code, p)
    order = sort_rows(keys, candidates)[:, :k]
    indices, keys = np.take_along_axis(candidates, order, axis=1), np.take_along_axis(keys, order, axis=1)
    return descent.refine(X, indices, keys, code=code, p=p, fan=DESCENT_FAN, rounds=DESCENT_ROUNDS,
                          min_changes=DESCENT_STOP, round_kernel=_kernel(descent.refine_round, metric))

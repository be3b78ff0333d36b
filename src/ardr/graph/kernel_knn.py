"""Neighbours in the kernel metrics (``distances.KERNEL_METRICS``) and user callables.

- exact: every pair through the compiled metric, in parallel over the queries, each
  query keeping a heap of its k smallest (distance, index); O(m n D) time, O(m k) memory.
- approximate (``approximate``): the euclidean search on a proxy of the rows (the rows
  themselves; for jaccard their non-zero pattern) proposes ``2k + 32`` candidates, the
  metric ranks them, then neighbour-of-neighbour rounds in the metric
  (``descent.refine``) run until a round changes under ``DESCENT_STOP`` of the entries.
- chebyshev: euclidean candidates hardly predict it (on Fashion-MNIST 20k, 300 queries:
  2,000 euclidean candidates hold 84% of the 14 nearest), and the rounds stop at recall
  0.86-0.89. The approximate neighbours' k-th distance then bounds an exact scan
  (``chebyshev_scan``) that drops a row at its first coordinate farther than the bound,
  coordinates taken by decreasing variance: the result is the exact kNN.

All deterministic: each query writes only its own row, ties go to the lower index.
"""

import warnings

import numba
import numpy as np

from . import descent
from ._heaps import before, replace_top, sort_rows_in_place
from ._rows import sort_rows
from .distances import code_of, metric_distance, with_distance
from .ivf import _NO_INDEX

CANDIDATES_PER_NEIGHBOUR = 2
EXTRA_CANDIDATES = 32
DESCENT_FAN = 16
DESCENT_ROUNDS = 6
DESCENT_STOP = 0.001
# columns of the chebyshev scan's compact copy (Fashion-MNIST 20k: a pair is decided
# after 23 coordinates on average, in variance order)
CHEBYSHEV_HEAD = 32
# the scan is O(n^2) pairs (each decided in a few coordinates): exact up to this many rows
CHEBYSHEV_SCAN_MAX_ROWS = 100_000


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
            if before(d, j, hk[0], hi[0]):
                replace_top(hk, hi, d, j)
    return keys, idx


@numba.njit(parallel=True, cache=True)
def _chebyshev_scan(X, head, bound, keys, idx):
    """Exact chebyshev kNN of every row of X into the empty heaps (keys, idx). ``bound[i]``
    is at least row i's k-th nearest distance (a good guess's k-th); a row is dropped at
    the first coordinate beyond the smaller of it and the heap's largest entry. X's
    columns come ordered so that large differences come early; ``head`` is a compact copy
    of X's first columns, where most pairs are decided."""
    n, dim = X.shape
    width = head.shape[1]
    for i in numba.prange(n):
        hk, hi = keys[i], idx[i]
        for j in range(n):
            if j == i:
                continue
            limit = min(bound[i], hk[0])
            acc = 0.0
            for d in range(width):
                acc = max(acc, abs(head[i, d] - head[j, d]))
                if acc > limit:
                    break
            if acc > limit:
                continue
            for d in range(width, dim):
                acc = max(acc, abs(X[i, d] - X[j, d]))
                if acc > limit:
                    break
            if acc > limit:
                continue
            key = np.float32(acc)
            if before(key, j, hk[0], hi[0]):
                replace_top(hk, hi, key, j)


def chebyshev_scan(X, k, bound):
    """The exact chebyshev kNN (k per row); ``bound``: per row, at least its k-th nearest
    distance (an approximate search's k-th)."""
    n = X.shape[0]
    heap_keys = np.full((n, k), np.inf, dtype=np.float32)
    heap_idx = np.full((n, k), _NO_INDEX, dtype=np.int32)
    order = np.argsort(-X.var(axis=0), kind="stable")
    X = np.ascontiguousarray(X[:, order])
    _chebyshev_scan(X, np.ascontiguousarray(X[:, :CHEBYSHEV_HEAD]), np.asarray(bound, dtype=np.float32),
                    heap_keys, heap_idx)
    sort_rows_in_place(heap_keys, heap_idx)
    return heap_idx, heap_keys


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
    sort_rows_in_place(keys, idx)
    return idx, keys


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
    indices, keys = descent.refine(X, indices, keys, code=code, p=p, fan=DESCENT_FAN, rounds=DESCENT_ROUNDS,
                                   min_changes=DESCENT_STOP,
                                   distances=_kernel(descent.offer_distances, metric))
    if isinstance(metric, str) and metric == "chebyshev":
        if n <= CHEBYSHEV_SCAN_MAX_ROWS:
            return chebyshev_scan(X, k, keys[:, -1])
        warnings.warn(f"chebyshev neighbours of {n:,} rows are approximate (recall about 0.86 measured on "
                      f"Fashion-MNIST); up to {CHEBYSHEV_SCAN_MAX_ROWS:,} rows they are exact", stacklevel=4)
    return indices, keys

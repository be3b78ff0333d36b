"""k-nearest-neighbour search in every metric of ``distances.METRICS``: exact, approximate
(the IVF search, ``ivf``), pynndescent's NN-descent on request, precomputed.

Every search returns ``(indices, distances)`` of shape (n, k), int32 and float32, each
row sorted by (distance, index), the query point itself excluded. The default
(``method="auto"``) is exact up to ``EXACT_MAX_ROWS`` rows and approximate above:

- euclidean, cosine, correlation, hellinger (dense or sparse CSR for all but
  correlation): the rows are transformed (``distances.unit_rows``) and searched by
  euclidean distance: blocked BLAS products (exact), the IVF with probes measured to
  find ``ivf.TARGET_RECALL`` of the true neighbours (approximate);
- manhattan, chebyshev, minkowski (``metric_kwds={"p": ...}``), hamming, jaccard and
  numba functions: compiled kernels (``kernel_knn``): all pairs (exact), or euclidean
  candidates ranked in the metric and refined by neighbour-of-neighbour rounds;
- sparse jaccard: ``sparse_knn``; "precomputed": the k smallest entries of each row of
  a dense or sparse distance matrix (sparse: the stored entries are the distances).

All searches are deterministic by seed on any thread count; pynndescent's is outside
that promise.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from . import distances as dist_
from ._rows import smallest, sort_rows
from .distances import KERNEL_METRICS, SPARSE_METRICS, canonical
from .distances import power_of_two_scale as _power_of_two_scale

METRICS = dist_.METRICS
METHODS = ("auto", "exact", "approximate", "nndescent")
# Exact search is quadratic: Fashion-MNIST 20k, k=14: 9.4 s exact vs 1.9 s by IVF (recall
# 0.992); 10k: 2.4 s vs 0.85 s (recall 0.998).
EXACT_MAX_ROWS = 10_000
_BLOCK_ELEMENTS = 16_000_000  # ~64 MB float32 distance block
_DOT_METRICS = ("cosine", "correlation", "hellinger")  # unit rows: d = g(1 - u.v)


def nearest_neighbors(X, k, *, metric="euclidean", metric_kwds=None, method="auto", random_state=0, n_jobs=-1,
                      verbose=False, exact_max_rows=EXACT_MAX_ROWS, progress=None):
    """The k nearest neighbours of every row of X among the other rows (X: dense rows,
    sparse CSR rows, or with ``metric="precomputed"`` an n x n distance matrix).
    ``progress(total, desc)``: a tqdm-like bar factory for the approximate search."""
    metric, p = canonical(metric, metric_kwds)
    n = X.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k={k} neighbours need at least {k + 1} rows, got {n}")
    if method not in METHODS:
        raise ValueError(f"unknown neighbour method {method!r}; choose one of {', '.join(map(repr, METHODS))}")
    if isinstance(metric, str) and metric == "precomputed":
        return precomputed_knn(X, k)
    check_sparse_metric(X, metric)
    if method == "auto":
        method = "exact" if n <= exact_max_rows else "approximate"
    if method == "exact":
        return exact_knn(X, k, metric=metric, metric_kwds=metric_kwds)
    if method == "nndescent":
        return nndescent_knn(X, k, metric=metric, metric_kwds=metric_kwds, random_state=random_state,
                             n_jobs=n_jobs, verbose=verbose)
    if sp.issparse(X):
        from . import sparse_knn

        return sparse_knn.approximate(X, k, metric, random_state=random_state)
    if callable(metric) or metric in KERNEL_METRICS:
        from . import kernel_knn

        def euclidean_candidates(P, c):
            return inverted_file_knn(P, c, metric="euclidean", random_state=random_state)

        return kernel_knn.approximate(X, k, metric, p, euclidean_candidates)
    return inverted_file_knn(X, k, metric=metric, random_state=random_state, progress=progress)


def check_sparse_metric(X, metric):
    if sp.issparse(X) and (callable(metric) or metric not in SPARSE_METRICS):
        name = getattr(metric, "__name__", metric)
        raise ValueError(f"metric {name!r} does not take sparse input; use one of {', '.join(SPARSE_METRICS)} "
                         "or densify the data")


def inverted_file_knn(X, k, *, metric="euclidean", random_state=0, progress=None):
    """Approximate neighbours of dense rows in a metric of the euclidean family, by
    k-means cells and BLAS blocks (``ardr.graph.ivf``): deterministic, no per-process
    compilation; wide data is searched among its principal components and the
    candidates ranked by exact distance."""
    from .ivf import PROJECT_ABOVE_DIMS, PROJECT_MAX_K, ivf_knn, projected_ivf_knn

    scale = 1.0 if metric in _DOT_METRICS else _power_of_two_scale(X)
    R = _prepare(X, metric, scale)
    found = None
    if R.shape[1] > PROJECT_ABOVE_DIMS and k <= PROJECT_MAX_K:
        found = projected_ivf_knn(R, k, random_state=random_state, progress=progress)
    indices, keys = found if found is not None else ivf_knn(R, k, random_state=random_state, progress=progress)
    if metric in _DOT_METRICS:
        # 1 - u.v from the unit rows themselves (a zero row: 1 - 0, as in exact_knn; the
        # search's key |u - v|^2 = 2 (1 - u.v) holds only between unit rows)
        keys = np.empty(indices.shape, dtype=np.float64)
        rows = max(1, _BLOCK_ELEMENTS // (indices.shape[1] * R.shape[1]))  # bounded gather
        for start in range(0, R.shape[0], rows):
            block = slice(start, start + rows)
            keys[block] = 1.0 - np.einsum("ikd,id->ik", R[indices[block]], R[block], dtype=np.float64)
        order = sort_rows(keys, indices)  # the search's float32 order may differ in the last bits
        indices, keys = np.take_along_axis(indices, order, axis=1), np.take_along_axis(keys, order, axis=1)
    distances = _to_metric(keys, metric)
    if scale != 1.0:
        distances = distances.astype(np.float64) * scale
    return indices, distances.astype(np.float32)


def _prepare(X, metric, scale=1.0):
    """float32 rows ready for BLAS: divided by ``scale``; transformed for the metric."""
    X = np.asarray(X)
    if scale != 1.0:
        X = X.astype(np.float64) / scale
    return dist_.unit_rows(X, metric)


def _to_metric(key, metric):
    """Distances from the search key: squared euclidean, or 1 - u.v for unit rows."""
    key = np.maximum(key, 0.0)
    if metric == "hellinger":
        return np.sqrt(key)
    return key if metric in _DOT_METRICS else np.sqrt(key)


def exact_knn(X, k, *, metric="euclidean", metric_kwds=None, queries=None, exclude_self=True):
    """Exact neighbours of the rows of ``queries`` (default: X itself, each row's own
    index excluded) among the rows of X, in any metric; O(block x n) memory. With
    ``metric="precomputed"``, ``queries`` holds distances from new points to X's rows
    (m x n) and X is not read."""
    metric, p = canonical(metric, metric_kwds)
    if isinstance(metric, str) and metric == "precomputed":
        D = X if queries is None else queries
        return precomputed_knn(D, k, exclude_self=exclude_self and queries is None)
    check_sparse_metric(X, metric)
    if queries is not None:
        check_sparse_metric(queries, metric)
    if sp.issparse(X) or sp.issparse(queries):
        from . import sparse_knn

        return sparse_knn.exact(X, k, metric, queries=queries, exclude_self=exclude_self)
    if callable(metric) or metric in KERNEL_METRICS:
        from . import kernel_knn

        return kernel_knn.exact(X, k, metric, p, queries=queries, exclude_self=exclude_self)
    scale = 1.0 if metric in _DOT_METRICS else _power_of_two_scale(*(a for a in (X, queries) if a is not None))
    R = _prepare(X, metric, scale)
    Q = R if queries is None else _prepare(queries, metric, scale)
    r_norms = np.einsum("ij,ij->i", R, R) if metric == "euclidean" else None
    m, n = Q.shape[0], R.shape[0]
    indices = np.empty((m, k), dtype=np.int32)
    distances = np.empty((m, k), dtype=np.float32)
    block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, m, block):
        stop = min(m, start + block)
        q = Q[start:stop]
        if metric in _DOT_METRICS:
            sq = 1.0 - q @ R.T  # 1 - u.v itself (1 for a zero row)
        else:
            sq = np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * (q @ R.T) + r_norms[None, :]
        if exclude_self and queries is None:
            sq[np.arange(stop - start), np.arange(start, stop)] = np.inf
        idx, key = smallest(sq, k)
        indices[start:stop] = idx
        distances[start:stop] = _to_metric(key, metric)
    if scale != 1.0:
        distances = (distances.astype(np.float64) * scale).astype(np.float32)
    return indices, distances


def precomputed_knn(D, k, *, exclude_self=True):
    """The k smallest distances of each row of a dense or sparse (stored entries only)
    distance matrix, the diagonal excluded (``exclude_self``)."""
    m = D.shape[0]
    if D.ndim != 2 or (exclude_self and D.shape[0] != D.shape[1]):
        raise ValueError(f"metric='precomputed' needs a square distance matrix, got shape {D.shape}")
    if sp.issparse(D):
        return _sparse_precomputed(sp.csr_matrix(D), k, exclude_self)
    D = np.asarray(D)
    if not np.isfinite(D).all() or (D < 0).any():
        raise ValueError("a precomputed distance matrix must be finite and non-negative")
    indices = np.empty((m, k), dtype=np.int32)
    distances = np.empty((m, k), dtype=np.float32)
    block = max(1, _BLOCK_ELEMENTS // max(1, D.shape[1]))
    for start in range(0, m, block):
        stop = min(m, start + block)
        key = np.array(D[start:stop], dtype=np.float64)
        if exclude_self:
            key[np.arange(stop - start), np.arange(start, stop)] = np.inf
        idx, d = smallest(key, k)
        indices[start:stop], distances[start:stop] = idx, d
    return indices, distances


def _sparse_precomputed(D, k, exclude_self):
    if not np.isfinite(D.data).all() or (D.data < 0).any():
        raise ValueError("a precomputed distance matrix must be finite and non-negative")
    D.sort_indices()
    m = D.shape[0]
    indices = np.empty((m, k), dtype=np.int32)
    distances = np.empty((m, k), dtype=np.float32)
    for i in range(m):
        cols = D.indices[D.indptr[i]:D.indptr[i + 1]]
        vals = D.data[D.indptr[i]:D.indptr[i + 1]]
        if exclude_self:
            keep = cols != i
            cols, vals = cols[keep], vals[keep]
        if len(cols) < k:
            raise ValueError(f"row {i} of the sparse distance matrix stores {len(cols)} distances to other "
                             f"points; {k} neighbours are needed")
        order = np.lexsort((cols, vals))[:k]
        indices[i], distances[i] = cols[order], vals[order]
    return indices, distances


def nndescent_knn(X, k, *, metric="euclidean", metric_kwds=None, random_state=0, n_jobs=-1, verbose=False):
    """Approximate neighbours with pynndescent (nearest-neighbour descent): ``method="nndescent"``."""
    from pynndescent import NNDescent

    scalable = metric in ("euclidean", "manhattan", "chebyshev", "minkowski")
    scale = _power_of_two_scale(X.data if sp.issparse(X) else X) if scalable else 1.0
    if not sp.issparse(X):
        X = np.asarray(X, dtype=np.float32) if scale == 1.0 else (np.asarray(X, np.float64) / scale).astype(np.float32)
    elif scale != 1.0:
        X = X / scale
    n = X.shape[0]
    # Fewer trees and iterations than pynndescent's defaults (18 and 16 at 70k rows):
    # on Fashion-MNIST 70k, k=14, recall against exact kNN 0.995 vs 0.9965, in 2/3 the time.
    n_trees = min(64, 4 + int(round(n**0.5 / 66.0)))
    n_iters = max(5, int(round(np.log2(n) / 2)))
    max_candidates = 60
    if k > 30:
        # Many neighbours per point already give NN-descent many candidates: for tSNE's
        # k = 90 on Fashion-MNIST 70k, 3 iterations of 20 candidates reach recall 0.986
        # in 9.4 s, against 0.9998 in 34 s with 8 of 60.
        n_iters, max_candidates = 3, 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = NNDescent(
            X,
            n_neighbors=min(n, k + 1),
            metric=metric,
            metric_kwds=metric_kwds,
            random_state=random_state,
            n_trees=n_trees,
            n_iters=n_iters,
            max_candidates=max_candidates,
            low_memory=True,
            n_jobs=n_jobs,
            verbose=verbose,
            compressed=True,
        )
        idx, dist = index.neighbor_graph
    idx, dist = drop_self(idx, dist, k)
    if scale != 1.0:
        dist = (dist.astype(np.float64) * scale).astype(np.float32)
    return idx, dist


def drop_self(indices, distances, k):
    """Remove each row's own index (or, if absent, its farthest neighbour); keep k columns."""
    indices = np.asarray(indices)
    distances = np.asarray(distances, dtype=np.float32)
    n = indices.shape[0]
    is_self = indices == np.arange(n)[:, None]
    # Missing entries (pynndescent marks them -1) sort last.
    key = np.where(is_self, -1.0, np.where(indices < 0, np.inf, distances))
    order = np.argsort(key, axis=1, kind="stable")
    first = is_self.any(axis=1).astype(np.intp)
    cols = first[:, None] + np.arange(k)[None, :]
    order = np.take_along_axis(order, cols, axis=1)
    idx = np.take_along_axis(indices, order, axis=1).astype(np.int32)
    dist = np.take_along_axis(distances, order, axis=1)
    if (idx < 0).any():
        raise ValueError("the neighbour search returned fewer neighbours than requested")
    return idx, dist


def check_precomputed(knn, n, k):
    """Validate a user's ``(indices, distances)`` pair; self columns are dropped."""
    try:
        indices, distances = knn
    except (TypeError, ValueError):
        raise ValueError("precomputed_knn must be a pair (indices, distances)") from None
    indices = np.asarray(indices)
    distances = np.asarray(distances)
    if indices.ndim != 2 or indices.shape != distances.shape:
        raise ValueError(
            f"precomputed_knn indices and distances must be 2-D of equal shape, got {indices.shape} and {distances.shape}"
        )
    if indices.shape[0] != n:
        raise ValueError(f"precomputed_knn has {indices.shape[0]} rows but the data has {n}")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"precomputed_knn indices must be integers, got {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError("precomputed_knn indices must lie in [0, n)")
    if not np.isfinite(distances).all() or (distances < 0).any():
        raise ValueError("precomputed_knn distances must be finite and non-negative")
    has_self = (indices == np.arange(n)[:, None]).any(axis=1)
    available = indices.shape[1] - int(has_self.any())
    if available < k:
        raise ValueError(f"precomputed_knn has {available} neighbours per row but {k} are needed")
    return drop_self(indices, distances, k)

"""k-nearest-neighbour search: exact (blocked BLAS), approximate (k-means cells, ``ivf``),
pynndescent's NN-descent, precomputed.

Every function returns ``(indices, distances)`` of shape (n, k), int32 and float32,
sorted by distance, with the query point itself excluded. Exact search is
deterministic; it is the default below ``EXACT_MAX_ROWS`` rows.
"""

import warnings

import numpy as np

from ._rows import sort_rows

METRICS = ("euclidean", "cosine")
METHODS = ("auto", "exact", "approximate", "nndescent")
# Exact search is quadratic: Fashion-MNIST 20k, k=14: 9.4 s exact vs 1.9 s by IVF (recall
# 0.992); 10k: 2.4 s vs 0.85 s (recall 0.998).
EXACT_MAX_ROWS = 10_000
IVF_PROBES = 24  # cells searched per cell (of ~256 points each)
_BLOCK_ELEMENTS = 16_000_000  # ~64 MB float32 distance block


def nearest_neighbors(X, k, *, metric="euclidean", method="auto", random_state=0, n_jobs=-1, verbose=False):
    """The k nearest neighbours of every row of X among the other rows."""
    n = X.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k={k} neighbours need at least {k + 1} rows, got {n}")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if method == "auto":
        method = "exact" if n <= EXACT_MAX_ROWS else "approximate"
    if method == "exact":
        return exact_knn(X, k, metric=metric)
    if method == "approximate":
        return inverted_file_knn(X, k, metric=metric, random_state=random_state)
    if method == "nndescent":
        return nndescent_knn(X, k, metric=metric, random_state=random_state, n_jobs=n_jobs, verbose=verbose)
    raise ValueError(f"unknown neighbour method {method!r}; choose one of {', '.join(map(repr, METHODS))}")


def inverted_file_knn(X, k, *, metric="euclidean", random_state=0):
    """Approximate neighbours by k-means cells and BLAS blocks (``ardr.graph.ivf``): deterministic,
    no per-process compilation; wide data is searched among its principal components and
    the candidates ranked by exact distance."""
    from .ivf import PROJECT_ABOVE_DIMS, PROJECT_MAX_K, ivf_knn, projected_ivf_knn

    scale = 1.0 if metric == "cosine" else _power_of_two_scale(X)
    R = _prepare(X, metric, scale)
    if R.shape[1] > PROJECT_ABOVE_DIMS and k <= PROJECT_MAX_K:
        indices, keys = projected_ivf_knn(R, k, n_probe=IVF_PROBES, random_state=random_state)
    else:
        indices, keys = ivf_knn(R, k, n_probe=IVF_PROBES, random_state=random_state)
    if metric == "cosine":
        # 1 - cos from the unit rows themselves (a zero row: distance 1, as in exact_knn;
        # the search's key |x - y|^2 = 2 (1 - cos) holds only between unit rows)
        distances = np.empty(indices.shape, dtype=np.float64)
        rows = max(1, _BLOCK_ELEMENTS // (indices.shape[1] * R.shape[1]))  # bounded gather
        for start in range(0, R.shape[0], rows):
            block = slice(start, start + rows)
            distances[block] = 1.0 - np.einsum("ikd,id->ik", R[indices[block]], R[block], dtype=np.float64)
    else:
        distances = np.sqrt(keys)
    if scale != 1.0:
        distances = (distances.astype(np.float64) * scale).astype(np.float32)
    return indices, distances.astype(np.float32)


def _power_of_two_scale(*arrays):
    """An exact power of two bringing the largest |entry| near 1 when it lies outside
    [2^-40, 2^40]; else 1. Float32 squared distances neither overflow nor underflow then."""
    big = max((float(np.max(np.abs(a))) if a.size else 0.0) for a in arrays)
    if big == 0.0 or 2.0**-40 < big < 2.0**40:
        return 1.0
    return float(2.0 ** np.frexp(big)[1])


def _prepare(X, metric, scale=1.0):
    """float32 rows ready for BLAS: divided by ``scale``; unit length for cosine."""
    X = np.asarray(X)
    if scale != 1.0:
        X = X.astype(np.float64) / scale
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))[:, None]
        # A zero row has no direction: it sits at cosine distance 1 from every other row.
        X = np.divide(X, norms, out=np.zeros(X.shape), where=norms > 0)
    return np.asarray(X, dtype=np.float32)


def _to_metric(key, metric):
    """Distances from the search key: squared euclidean, or the cosine distance itself."""
    key = np.maximum(key, 0.0)
    return key if metric == "cosine" else np.sqrt(key)


def exact_knn(X, k, *, metric="euclidean", queries=None, exclude_self=True):
    """Exact neighbours by blocked matrix products; O(block x n) memory."""
    scale = 1.0 if metric == "cosine" else _power_of_two_scale(*(a for a in (X, queries) if a is not None))
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
        if metric == "cosine":
            sq = 1.0 - q @ R.T  # the cosine distance itself (1 for a zero row)
        else:
            sq = np.einsum("ij,ij->i", q, q)[:, None] - 2.0 * (q @ R.T) + r_norms[None, :]
        if exclude_self:
            sq[np.arange(stop - start), np.arange(start, stop)] = np.inf
        part = np.argpartition(sq, k - 1, axis=1)[:, :k]
        part_sq = np.take_along_axis(sq, part, axis=1)
        _break_boundary_ties(sq, part, part_sq)
        order = sort_rows(part_sq, part)
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        distances[start:stop] = _to_metric(np.take_along_axis(part_sq, order, axis=1), metric)
    if scale != 1.0:
        distances = (distances.astype(np.float64) * scale).astype(np.float32)
    return indices, distances


def _break_boundary_ties(sq, part, part_sq):
    """Where points tie with the k-th neighbour, keep the lowest indices (in place), so the
    k nearest are always a prefix of the k + 1 nearest, whatever argpartition chose."""
    kth = part_sq.max(axis=1)
    tied = np.flatnonzero((sq <= kth[:, None]).sum(axis=1) > part.shape[1])
    for r in tied:
        candidates = np.flatnonzero(sq[r] <= kth[r])
        keep = candidates[np.lexsort((candidates, sq[r, candidates]))][: part.shape[1]]
        part[r] = keep
        part_sq[r] = sq[r, keep]


def nndescent_knn(X, k, *, metric="euclidean", random_state=0, n_jobs=-1, verbose=False):
    """Approximate neighbours with pynndescent (nearest-neighbour descent): ``method="nndescent"``."""
    from pynndescent import NNDescent

    scale = _power_of_two_scale(X)
    X = _prepare(X, "euclidean", scale)  # cosine is scale-free; pynndescent normalizes itself
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
    if scale != 1.0 and metric != "cosine":
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

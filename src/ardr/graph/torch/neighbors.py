"""k-nearest-neighbour search on a torch device, for dense rows in the euclidean family
of metrics (euclidean, cosine, correlation, hellinger: rows transformed as
``graph/neighbors.py`` does, then searched by euclidean distance): exact (blocked
matrix products and ``topk``) up to ``exact_max_rows(device)`` rows, the IVF search
(``ivf``) above. Other metrics, sparse rows, precomputed distances and NN-descent run
the CPU's searches of ``graph/neighbors.py``.

Same contract as ``graph/neighbors.py``: ``(indices, distances)`` as numpy int32 and
float32, rows sorted by (distance, index), the point itself excluded.
"""

import numpy as np
import scipy.sparse as sp

from ...engine.torch.device import as_tensor, import_torch, to_numpy
from ..distances import EUCLIDEAN_FAMILY, canonical
from ..neighbors import (_BLOCK_ELEMENTS, _DOT_METRICS, EXACT_MAX_ROWS, METHODS, _power_of_two_scale, _prepare,
                         _to_metric)
from ..neighbors import nearest_neighbors as cpu_nearest_neighbors
from ._rows import TIE_MARGIN, sort_rows, take_sorted

#: exact search on a GPU up to this many rows: n^2 D multiply-adds (1e6 x 1e6 x 50 is
#: 5e13, about a second of an H100's float32 rate) and n^2 keys through topk. Not
#: measured here (no GPU was available); on the CPU the numba backend's limit holds.
EXACT_MAX_ROWS_GPU = 200_000
_DEVICE_BLOCK_ELEMENTS = 1 << 26  # keys per block of the exact search (256 MB float32)


def exact_max_rows(device):
    return EXACT_MAX_ROWS_GPU if device.type == "cuda" else EXACT_MAX_ROWS


def nearest_neighbors(X, k, *, metric="euclidean", metric_kwds=None, method="auto", random_state=0, n_jobs=-1,
                      verbose=False, device, rows=None):
    """The k nearest neighbours of every row of X among the other rows. ``rows`` (int
    array; None: all): the neighbours of these rows only, each row's the same as in the
    full search (a sharded run searches its own rows; euclidean family, dense X)."""
    name, _ = canonical(metric, metric_kwds)
    if rows is not None and (sp.issparse(X) or not isinstance(name, str) or name not in EUCLIDEAN_FAMILY
                             or method == "nndescent"):
        raise ValueError("a sharded neighbour search needs dense rows, a metric of the euclidean family "
                         f"({', '.join(sorted(EUCLIDEAN_FAMILY))}) and knn_method 'auto', 'exact' or 'approximate'")
    if sp.issparse(X) or not isinstance(name, str) or name not in EUCLIDEAN_FAMILY or method == "nndescent":
        return cpu_nearest_neighbors(X, k, metric=metric, metric_kwds=metric_kwds, method=method,
                                     random_state=random_state, n_jobs=n_jobs, verbose=verbose)
    n = X.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k={k} neighbours need at least {k + 1} rows, got {n}")
    if method not in METHODS:
        raise ValueError(f"unknown neighbour method {method!r}; choose one of {', '.join(map(repr, METHODS))}")
    if method == "auto":
        method = "exact" if n <= exact_max_rows(device) else "approximate"
    rows = None if rows is None else as_tensor(np.asarray(rows, dtype=np.int64), device)
    if method == "exact":
        return exact_knn(X, k, metric=name, device=device, rows=rows)
    return inverted_file_knn(X, k, metric=name, random_state=random_state, device=device, rows=rows)


def exact_knn(X, k, *, metric="euclidean", queries=None, exclude_self=True, device, rows=None):
    """Exact neighbours by blocked matrix products on the device; O(block x n) memory.
    Ties with the k-th neighbour go to the lowest indices (unless more than TIE_MARGIN tie).
    ``rows`` (a tensor): the neighbours among X of these rows of X only."""
    torch = import_torch()
    scale = 1.0 if metric in _DOT_METRICS else _power_of_two_scale(*(a for a in (X, queries) if a is not None))
    R = as_tensor(_prepare(X, metric, scale), device)
    Q = R if queries is None else as_tensor(_prepare(queries, metric, scale), device)
    if rows is not None:
        Q = R[rows]
    r_norms = (R * R).sum(dim=1) if metric not in _DOT_METRICS else None
    m, n = Q.shape[0], R.shape[0]
    indices = torch.empty((m, k), dtype=torch.int32, device=device)
    keys = torch.empty((m, k), dtype=torch.float32, device=device)
    block = max(1, _DEVICE_BLOCK_ELEMENTS // n)
    for start in range(0, m, block):
        stop = min(m, start + block)
        q = Q[start:stop]
        if metric in _DOT_METRICS:
            key = (q @ R.T).neg_().add_(1.0)  # 1 - u.v itself (1 for a zero row)
        else:  # (|q|^2 - 2 q.r) + |r|^2, numpy's rounding, in one block-sized tensor
            key = (q @ R.T).mul_(-2.0).add_((q * q).sum(dim=1)[:, None]).add_(r_norms[None, :])
        if exclude_self and queries is None:
            block_rows = torch.arange(stop - start, device=device)
            own = block_rows + start if rows is None else rows[start:stop]
            key[block_rows, own] = float("inf")
        part_key, part = torch.topk(key, min(n, k + TIE_MARGIN), dim=1, largest=False, sorted=False)
        part, part_key = take_sorted(part_key, part)
        indices[start:stop] = part[:, :k].to(torch.int32)
        keys[start:stop] = part_key[:, :k]
    return _finish(to_numpy(indices), to_numpy(keys), metric, scale)


def _finish(indices, keys, metric, scale):
    """numpy (indices int32, distances float32) from the search's keys, rescaled."""
    distances = _to_metric(keys, metric)
    if scale != 1.0:
        distances = distances.astype(np.float64) * scale
    return indices.astype(np.int32), np.asarray(distances, dtype=np.float32)


def inverted_file_knn(X, k, *, metric="euclidean", random_state=0, device, rows=None):
    """Approximate neighbours by k-means cells (``ivf``); wide data searched among its
    principal components and ranked by exact distance when that keeps enough neighbours,
    as ``graph.neighbors.inverted_file_knn``."""
    torch = import_torch()
    from ..ivf import PROJECT_ABOVE_DIMS, PROJECT_MAX_K
    from .ivf import ivf_knn, projected_ivf_knn

    scale = 1.0 if metric in _DOT_METRICS else _power_of_two_scale(X)
    R = as_tensor(_prepare(X, metric, scale), device)
    found = None
    if R.shape[1] > PROJECT_ABOVE_DIMS and k <= PROJECT_MAX_K:
        found = projected_ivf_knn(R, k, random_state=random_state, rows=rows)
    indices, keys = found if found is not None else ivf_knn(R, k, random_state=random_state, rows=rows)
    if metric in _DOT_METRICS:
        # 1 - u.v from the unit rows themselves, in float64, in bounded blocks; re-sorted
        keys = torch.empty(indices.shape, dtype=torch.float64, device=device)
        queries = R if rows is None else R[rows]
        step = max(1, _BLOCK_ELEMENTS // (indices.shape[1] * R.shape[1]))
        for start in range(0, indices.shape[0], step):
            near = R[indices[start:start + step]].double()
            keys[start:start + step] = 1.0 - (near * queries[start:start + step, None, :].double()).sum(-1)
        order = sort_rows(keys, indices)
        indices, keys = indices.gather(1, order), keys.gather(1, order)
    return _finish(to_numpy(indices), to_numpy(keys), metric, scale)

"""k-nearest-neighbour search on a torch device: exact (blocked matrix products and
``topk``) up to ``exact_max_rows(device)`` rows, the IVF search (``ivf``) above;
pynndescent's NN-descent on request runs on the CPU as in ``graph/neighbors.py``.

Same contract as ``graph/neighbors.py``: ``(indices, distances)`` as numpy int32 and
float32, rows sorted by (distance, index), the point itself excluded. Data are
prepared (scaled, unit rows for cosine) by the same helpers.
"""

import numpy as np

from ...engine.torch.device import as_tensor, import_torch, to_numpy
from ..neighbors import EXACT_MAX_ROWS, IVF_PROBES, METHODS, METRICS, _power_of_two_scale, _prepare, nndescent_knn
from ._rows import TIE_MARGIN, take_sorted

#: exact search on a GPU up to this many rows: n^2 D multiply-adds (1e6 x 1e6 x 50 is
#: 5e13, about a second of an H100's float32 rate) and n^2 keys through topk. Not
#: measured here (no GPU was available); on the CPU the numba backend's limit holds.
EXACT_MAX_ROWS_GPU = 200_000
_BLOCK_ELEMENTS = 1 << 26  # keys per block of the exact search (256 MB float32)


def exact_max_rows(device):
    return EXACT_MAX_ROWS_GPU if device.type == "cuda" else EXACT_MAX_ROWS


def nearest_neighbors(X, k, *, metric="euclidean", method="auto", random_state=0, n_jobs=-1, verbose=False,
                      device):
    """The k nearest neighbours of every row of X among the other rows."""
    n = X.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k={k} neighbours need at least {k + 1} rows, got {n}")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if method == "auto":
        method = "exact" if n <= exact_max_rows(device) else "approximate"
    if method == "exact":
        return exact_knn(X, k, metric=metric, device=device)
    if method == "approximate":
        return inverted_file_knn(X, k, metric=metric, random_state=random_state, device=device)
    if method == "nndescent":
        return nndescent_knn(X, k, metric=metric, random_state=random_state, n_jobs=n_jobs, verbose=verbose)
    raise ValueError(f"unknown neighbour method {method!r}; choose one of {', '.join(map(repr, METHODS))}")


def exact_knn(X, k, *, metric="euclidean", queries=None, exclude_self=True, device):
    """Exact neighbours by blocked matrix products on the device; O(block x n) memory."""
    torch = import_torch()
    scale = 1.0 if metric == "cosine" else _power_of_two_scale(*(a for a in (X, queries) if a is not None))
    R = as_tensor(_prepare(X, metric, scale), device)
    Q = R if queries is None else as_tensor(_prepare(queries, metric, scale), device)
    r_norms = (R * R).sum(dim=1) if metric == "euclidean" else None
    m, n = Q.shape[0], R.shape[0]
    indices = torch.empty((m, k), dtype=torch.int32, device=device)
    keys = torch.empty((m, k), dtype=torch.float32, device=device)
    block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, m, block):
        stop = min(m, start + block)
        q = Q[start:stop]
        if metric == "cosine":
            key = 1.0 - q @ R.T
        else:
            # (|q|^2 - 2 q.r) + |r|^2, numpy's rounding, in one block-sized tensor
            key = (q @ R.T).mul_(-2.0).add_((q * q).sum(dim=1)[:, None]).add_(r_norms[None, :])
        if exclude_self:
            rows = torch.arange(stop - start, device=device)
            key[rows, rows + start] = float("inf")
        # a few more than k, so that points tied with the k-th are kept by lowest index
        # (as the numba backend's search) unless more than TIE_MARGIN of them tie
        part_key, part = torch.topk(key, min(n, k + TIE_MARGIN), dim=1, largest=False, sorted=False)
        part, part_key = take_sorted(part_key, part)
        indices[start:stop] = part[:, :k].to(torch.int32)
        keys[start:stop] = part_key[:, :k]
    return _finish(to_numpy(indices), to_numpy(keys), metric, scale)


def _finish(indices, keys, metric, scale, distances=None):
    """numpy (indices, distances): sqrt of squared keys (or the cosine distance), rescaled."""
    if distances is None:
        keys = np.maximum(keys, 0.0)
        distances = keys if metric == "cosine" else np.sqrt(keys)
    if scale != 1.0:
        distances = distances.astype(np.float64) * scale
    return indices, np.asarray(distances, dtype=np.float32)


def inverted_file_knn(X, k, *, metric="euclidean", random_state=0, device):
    """Approximate neighbours by k-means cells (``ivf``), wide data searched among its
    principal components and ranked by exact distance, as ``graph.neighbors.inverted_file_knn``."""
    torch = import_torch()
    from ..ivf import PROJECT_ABOVE_DIMS, PROJECT_MAX_K
    from .ivf import ivf_knn, projected_ivf_knn

    scale = 1.0 if metric == "cosine" else _power_of_two_scale(X)
    R = as_tensor(_prepare(X, metric, scale), device)
    if R.shape[1] > PROJECT_ABOVE_DIMS and k <= PROJECT_MAX_K:
        indices, keys = projected_ivf_knn(R, k, n_probe=IVF_PROBES, random_state=random_state)
    else:
        indices, keys = ivf_knn(R, k, n_probe=IVF_PROBES, random_state=random_state)
    distances = None
    if metric == "cosine":
        # 1 - cos from the unit rows themselves, in float64, in bounded blocks
        distances = torch.empty(indices.shape, dtype=torch.float64, device=device)
        rows = max(1, _BLOCK_ELEMENTS // (indices.shape[1] * R.shape[1]) // 2)
        for start in range(0, R.shape[0], rows):
            idx = indices[start:start + rows].long()
            distances[start:start + rows] = 1.0 - (R[idx].double() * R[start:start + rows, None, :].double()).sum(-1)
        distances = to_numpy(distances)
    return _finish(to_numpy(indices.to(torch.int32)), to_numpy(keys), metric, scale, distances)

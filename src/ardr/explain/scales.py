"""Neighbourhood preservation at several scales, in one pass over distance rows, and the
input's intrinsic dimension as the baseline a 2-D picture is up against.

For every query point (all points, or a seeded sample above a size limit) and each scale
s, the *recall* is the share of its s nearest input neighbours that are among its s
nearest picture neighbours; chance gives s / (n - 1). Trustworthiness and continuity
(Venna & Kaski) at k come from the same rows: the rank in the input of each of the k
nearest picture neighbours, and the reverse. Ranks count strictly closer points
("min" ranking of ties), as :mod:`ardr.explain.metrics` does.
"""

import numba
import numpy as np

from .neighbourhoods import distance_rows


@numba.njit(parallel=True, cache=True)
def _rank_penalties(D, neighbours, k):
    """Per row r: sum over the given neighbour columns j of max(0, rank(D[r, j]) - k),
    rank = 1 + #{l : D[r, l] < D[r, j]} (the row's own entry is +inf, never counted)."""
    m, n = D.shape
    out = np.zeros(m)
    for r in numba.prange(m):
        total = 0.0
        for s in range(neighbours.shape[1]):
            threshold = D[r, neighbours[r, s]]
            closer = 0
            for l in range(n):
                closer += D[r, l] < threshold
            total += max(0, closer + 1 - k)
        out[r] = total
    return out


def _nearest_columns(D, k):
    """The k smallest columns of each row of D, ordered by (value, column)."""
    part = np.argpartition(D, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(D, part, axis=1)
    order = np.lexsort((part, values), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _kth_values(D, s):
    """The s-th smallest value of each row."""
    return np.partition(D, s - 1, axis=1)[:, s - 1]


def rank_pass(X, Y, queries, *, k=10, scales=(10, 100), metric="euclidean"):
    """Trustworthiness and continuity at k, kNN Jaccard overlap at k, and recall at each scale.

    Returns a dict: ``trustworthiness``, ``continuity``, ``knn_overlap`` (means over the
    queries), ``recall`` {scale: mean recall}, ``chance`` {scale: s / (n - 1)} and the
    per-query ``agreement`` at k (share of the k nearest picture neighbours that are
    among the k nearest input neighbours). Scales >= n are dropped.
    """
    n = X.shape[0]
    scales = sorted({int(s) for s in scales if 1 <= s < n - 1})
    trust_pen, cont_pen, shared_k = [], [], []
    recall = {s: 0.0 for s in scales}
    for block, dx, dy in distance_rows(X, Y, queries, metric=metric):
        near_y = _nearest_columns(dy, k)
        near_x = _nearest_columns(dx, k)
        trust_pen.append(_rank_penalties(dx, near_y, k))
        cont_pen.append(_rank_penalties(dy, near_x, k))
        shared_k.append((near_x[:, :, None] == near_y[:, None, :]).any(axis=2).sum(axis=1))
        for s in scales:
            inside_x = dx <= _kth_values(dx, s)[:, None]
            inside_y = dy <= _kth_values(dy, s)[:, None]
            # ties at the s-th distance may widen a set; the share is capped at 1
            recall[s] += float(np.minimum((inside_x & inside_y).sum(axis=1) / s, 1.0).sum())
    norm = 2.0 / (k * (2.0 * n - 3.0 * k - 1.0))
    shared = np.concatenate(shared_k).astype(np.float64)
    return {
        "trustworthiness": float(1.0 - norm * np.concatenate(trust_pen).mean()),
        "continuity": float(1.0 - norm * np.concatenate(cont_pen).mean()),
        "knn_overlap": float(np.mean(shared / (2.0 * k - shared))),
        "recall": {s: recall[s] / len(queries) for s in scales},
        "chance": {s: s / (n - 1.0) for s in scales},
        "agreement": shared / k,
    }


def intrinsic_dimension(distances, k=None):
    """Maximum-likelihood intrinsic dimension (Levina & Bickel 2004, MacKay & Ghahramani's
    averaging of inverses) from each point's sorted neighbour distances (n, K).

    Uses the first k columns (all by default); points whose nearest distances are zero
    (duplicates) are left out. Returns nan when too few points qualify.
    """
    d = np.asarray(distances, dtype=np.float64)
    if k is not None:
        d = d[:, :k]
    d = d[(d[:, 0] > 0) & np.isfinite(d).all(axis=1)]
    if d.shape[0] < 10 or d.shape[1] < 3:
        return float("nan")
    logs = np.log(d[:, -1:] / d[:, :-1])  # log(T_K / T_j), j < K
    inverse = logs.sum(axis=1) / (d.shape[1] - 2)  # unbiased form: (K - 2) in the denominator
    inverse = inverse[inverse > 0]
    return float(1.0 / inverse.mean()) if inverse.size else float("nan")

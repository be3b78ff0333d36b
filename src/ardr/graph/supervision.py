"""Supervised and semi-supervised UMAP graphs: umap-learn's target simplicial set
intersection.

The data's fuzzy graph P is combined with what the target y says about each pair:

- **categorical y** (``target_metric="categorical"``): an edge between two different
  labels is scaled by exp(-far_dist), far_dist = 2.5 / (1 - target_weight) (1e12 for
  target_weight = 1); an edge touching an unlabelled point (y = -1) by exp(-1). No edge
  is added: labels only cut across-class edges.
- **continuous y** (``target_metric="l2"`` or another metric of the neighbour search):
  y gets its own UMAP graph T (``target_n_neighbors``), and P and T are intersected,
  P^((1 - w)/w) T for target_weight w >= 0.5, P T^(w/(1 - w)) below, an entry missing
  from one graph counting as half that graph's smallest weight (the union of both
  patterns survives, so points close in y become neighbours).

Either way each row is rescaled so its strongest edge is 1, and the result is
symmetrized again by fuzzy union (umap-learn's ``reset_local_connectivity``).
"""

import numbers

import numba
import numpy as np
import scipy.sparse as sp

from .affinities import fuzzy_union, scale_rows_to_max, umap_graph
from .neighbors import nearest_neighbors

CATEGORICAL = "categorical"
UNKNOWN_LABEL = -1
UNKNOWN_DIST = 1.0  # umap-learn's distance of an unlabelled point from any label


def check_target(y, n, target_metric):
    """y as a 1-D label vector (categorical) or an (n, d) float array (a metric), or a
    clear ValueError."""
    if target_metric == CATEGORICAL:
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D for target_metric='categorical', got shape {y.shape}")
    else:
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"y must be numeric for target_metric={target_metric!r}") from None
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} entries but X has {n} rows")
    return y


def label_codes(y):
    """Integer codes of categorical labels; -1 stays -1 (umap-learn's "unlabelled")."""
    if y.dtype.kind in "biuf":
        unknown = y == UNKNOWN_LABEL
    else:
        unknown = np.zeros(len(y), dtype=bool)
    _, codes = np.unique(y, return_inverse=True)
    codes = codes.astype(np.int64)
    codes[unknown] = UNKNOWN_LABEL
    return codes


def far_distance(target_weight):
    return 2.5 / (1.0 - target_weight) if target_weight < 1.0 else 1.0e12


@numba.njit(cache=True)
def _scale_by_labels(indptr, indices, data, codes, unknown_scale, far_scale):
    for i in range(indptr.shape[0] - 1):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if codes[i] == -1 or codes[j] == -1:
                data[e] *= unknown_scale
            elif codes[i] != codes[j]:
                data[e] *= far_scale


def categorical_intersection(P, y, target_weight):
    """P with across-label edges scaled by exp(-far_dist) and edges to unlabelled points
    by exp(-1), then locally reset."""
    P = sp.csr_matrix(P, dtype=np.float64, copy=True)
    _scale_by_labels(P.indptr, P.indices, P.data, label_codes(y), np.exp(-UNKNOWN_DIST),
                     np.exp(-far_distance(target_weight)))
    P.eliminate_zeros()
    return reset_local_connectivity(P)


def general_intersection(P, T, weight):
    """umap-learn's weighted fuzzy intersection of two graphs on the union of their patterns."""
    P = sp.csr_matrix(P, dtype=np.float64)
    T = sp.csr_matrix(T, dtype=np.float64)
    left_min = max(P.data.min() / 2.0, 1.0e-8) if P.nnz else 1.0e-8
    right_min = min(max(T.data.min() / 2.0, 1.0e-8), 1.0e-4) if T.nnz else 1.0e-8
    pattern = (abs(P) + abs(T)).tocsr()
    pattern.sort_indices()
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    left = np.asarray(P[rows, pattern.indices]).ravel()
    right = np.asarray(T[rows, pattern.indices]).ravel()
    left = np.where(left > 0, left, left_min)
    right = np.where(right > 0, right, right_min)
    if weight < 0.5:
        values = left * right ** (weight / (1.0 - weight))
    else:
        values = left ** ((1.0 - weight) / weight) * right
    return sp.csr_matrix((values, pattern.indices, pattern.indptr), shape=pattern.shape)


def reset_local_connectivity(P):
    """Each row divided by its largest weight (every point fully trusts its strongest
    edge again), then fuzzy union."""
    return fuzzy_union(scale_rows_to_max(P))


def target_graph(y, n_neighbors, metric, *, random_state=0):
    """UMAP graph of a continuous target y (n, d) with ``n_neighbors`` counting the point."""
    n = y.shape[0]
    k = min(n_neighbors, n) - 1
    idx, dist = nearest_neighbors(np.ascontiguousarray(y, dtype=np.float32), k, metric=metric,
                                  random_state=random_state)
    return umap_graph(idx, dist, k + 1)


def supervise(P, y, *, target_metric=CATEGORICAL, target_weight=0.5, target_n_neighbors=15,
              random_state=0):
    """The data graph P combined with the target y (see the module docstring)."""
    if target_metric == CATEGORICAL:
        return categorical_intersection(P, y, target_weight)
    T = target_graph(y, target_n_neighbors, target_metric, random_state=random_state)
    return reset_local_connectivity(general_intersection(P, T, target_weight))


def check_target_weight(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"target_weight must lie in [0, 1], got {value!r}")
    return float(value)

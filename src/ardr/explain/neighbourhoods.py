"""What every measure of an explanation stands on, computed once.

- **Input neighbours**: the ``k`` nearest other input rows of every point, from one search
  (:func:`ardr.graph.neighbors.nearest_neighbors`: exact up to its exact-search limit, the
  approximate search above). The input graph (an edge joins i and j when either is among
  the other's ``k`` nearest) is built from it.
- **Picture neighbours**: the ``k`` nearest other points of the picture, exact (a KD-tree in
  the picture's few dimensions).
- **Distance rows** (:func:`distance_rows`): for a set of query points, their distances to
  every point in the input and in the picture, one block of queries at a time, never
  n x n. The rank-based measures (trustworthiness, continuity, neighbourhood recall at
  several scales) are read off these rows in one pass.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

_BLOCK_BYTES = 96 * 2**20  # one block of query rows, both spaces together


@dataclass
class Neighbourhoods:
    """The shared neighbour lists of an input X and its picture Y (n points each).

    ``input_indices``/``input_distances`` and ``picture_indices``/``picture_distances``
    are (n, k) arrays, each row the k nearest other points sorted by distance.
    """

    input_indices: np.ndarray
    input_distances: np.ndarray
    picture_indices: np.ndarray
    picture_distances: np.ndarray
    description: str = ""
    _graph: object = field(default=None, repr=False)

    @property
    def n(self):
        return self.input_indices.shape[0]

    @property
    def k(self):
        return self.input_indices.shape[1]

    def first(self, k):
        """The same neighbourhoods cut to each point's k nearest (itself when k is all)."""
        if k >= self.k:
            return self
        return Neighbourhoods(self.input_indices[:, :k], self.input_distances[:, :k],
                              self.picture_indices[:, :k], self.picture_distances[:, :k], self.description)

    def input_graph(self, k=None):
        """Symmetric 0/1 adjacency (CSR) of the input's k-nearest-neighbour graph (k = all)."""
        if k is None or k >= self.k:
            if self._graph is None:
                self._graph = _symmetric_graph(self.input_indices)
            return self._graph
        return _symmetric_graph(self.input_indices[:, :k])

    def input_edges(self, k=None):
        """Each undirected edge of the input graph once: (i, j) with i < j."""
        upper = sp.triu(self.input_graph(k), k=1).tocoo()
        return upper.row.astype(np.int64), upper.col.astype(np.int64)


def _symmetric_graph(indices):
    n, k = indices.shape
    rows = np.repeat(np.arange(n), k)
    A = sp.csr_matrix((np.ones(n * k, dtype=np.float32), (rows, indices.ravel())), shape=(n, n))
    A = A.maximum(A.T).tocsr()
    A.setdiag(0)
    A.eliminate_zeros()
    A.sort_indices()
    return A


def find_neighbourhoods(X, Y, k, *, metric="euclidean", input_knn=None, random_state=0):
    """The :class:`Neighbourhoods` of X and Y: one input search, one exact picture search.

    ``input_knn`` = (indices, distances) of X's neighbours, nearest first, replaces the
    input search (at least ``k`` columns; the point itself may be among them).
    """
    from ..graph.neighbors import EXACT_MAX_ROWS, check_precomputed, nearest_neighbors

    n = X.shape[0]
    if input_knn is not None:
        idx, dist = check_precomputed(input_knn, n, k)
        how = f"the given {k} nearest input neighbours of each point"
    else:
        idx, dist = nearest_neighbors(X, k, metric=metric, random_state=random_state)
        how = (f"an {'exact' if n <= EXACT_MAX_ROWS else 'approximate'} search for the {k} nearest input "
               f"neighbours ({metric})")
    p_idx, p_dist = picture_knn(Y, k)
    return Neighbourhoods(np.asarray(idx), np.asarray(dist, dtype=np.float64), p_idx, p_dist,
                          description=how + "; exact picture neighbours")


def picture_knn(Y, k):
    """Exact k nearest other points of the picture, ties broken by index."""
    from scipy.spatial import cKDTree

    # scipy's tree queries on every core (scikit-learn's KDTree on one: 3x slower at 70k)
    dist, idx = cKDTree(Y).query(Y, k=min(k + 1, Y.shape[0]), workers=-1)
    idx = idx.astype(np.intp, copy=False)
    # drop the point itself (or, among duplicates, the farthest column)
    return _drop_self(idx, dist, k)


def _drop_self(idx, dist, k):
    n = idx.shape[0]
    is_self = idx == np.arange(n)[:, None]
    key = np.where(is_self, -1.0, dist)
    order = np.lexsort((idx, key), axis=1)  # by distance, ties by index
    first = is_self.any(axis=1).astype(np.intp)
    cols = first[:, None] + np.arange(k)[None, :]
    order = np.take_along_axis(order, cols, axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)


def query_points(n, max_exact, n_queries, seed):
    """All points up to ``max_exact``, else a seeded sorted sample: (queries, sampled)."""
    if n <= max_exact or n_queries >= n:
        return np.arange(n), False
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=n_queries, replace=False)), True


def distance_rows(X, Y, queries, *, metric="euclidean"):
    """Yield (block, squared input distances, squared picture distances) for blocks of queries.

    Each row holds one query's squared distances to all n points (in the input's own
    precision, float32 or float64; float64 in the picture), the query's own entry set to
    +inf. Memory: one block.
    """
    n = X.shape[0]
    R = _rows_for_products(X, metric)
    r_sq = np.einsum("ij,ij->i", R, R)
    y_sq = np.einsum("ij,ij->i", Y, Y)
    step = int(max(1, min(len(queries), _BLOCK_BYTES // (12 * n))))
    for start in range(0, len(queries), step):
        block = queries[start:start + step]
        dx = r_sq[block, None] + r_sq[None, :] - 2.0 * (R[block] @ R.T)
        np.maximum(dx, 0.0, out=dx)
        dy = y_sq[block, None] + y_sq[None, :] - 2.0 * (Y[block] @ Y.T)
        np.maximum(dy, 0.0, out=dy)
        rows = np.arange(len(block))
        dx[rows, block] = np.inf
        dy[rows, block] = np.inf
        yield block, dx, dy


def _rows_for_products(X, metric):
    """Rows (float32 if X is, else float64) whose squared euclidean distances rank as the
    metric does."""
    X = np.asarray(X)
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))[:, None]
        X = np.divide(X, norms, out=np.zeros(X.shape), where=norms > 0)
    else:
        big = float(np.abs(X).max()) if X.size else 0.0
        if big > 0 and not 2.0**-40 < big < 2.0**40:
            X = X / 2.0 ** np.frexp(big)[1]  # float32 squares neither overflow nor underflow
    return np.ascontiguousarray(X, dtype=dtype)

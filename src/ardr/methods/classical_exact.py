"""Exact references for the classical methods: what the forces must recover.

- PCA: the top right singular vectors of the centred data (through the D x D Gram
  matrix when the data are tall, which gives the same vectors faster).
- Classical MDS and Isomap: the top eigenvectors of B = -1/2 C (Delta o Delta) C,
  scaled by the square roots of their (positive) eigenvalues; a dense symmetric
  eigensolver for small n, Lanczos (ARPACK) above that.
- Isomap's Delta: shortest paths (Dijkstra) on the symmetrized kNN graph, with edge
  lengths recomputed in float64.
- Landmark MDS / landmark Isomap (de Silva & Tenenbaum 2004): dissimilarities from L
  landmarks only (L x n memory), classical MDS of the landmarks, every point
  triangulated from its dissimilarities to them. The result is a feature matrix Z
  (n x r); its top principal components are the embedding, so both solvers work on
  the kernel Z Z^T exactly as PCA works on X X^T.
- Metric MDS: scikit-learn's SMACOF.

Size limit: a dense n x n float64 matrix costs 8 n^2 bytes. Anything that would build
one checks ``check_dense_size`` first and refuses above ``DENSE_MAX_ROWS`` rows
(0.8 GB per matrix at the limit) with an error naming the alternative.
"""

import numpy as np

#: largest n for which an n x n float64 matrix is built (0.8 GB)
DENSE_MAX_ROWS = 10_000
#: landmarks used when the landmark variant is chosen automatically
DEFAULT_LANDMARKS = 1000
#: below this many rows the dense eigensolver is used, above it Lanczos
DENSE_EIGEN_MAX_ROWS = 500
#: spare neighbour candidates re-ranked in float64 (the kNN search itself runs in float32)
KNN_SPARE = 5
#: landmark coordinates keep at most this many eigen-directions (times n_components)
LANDMARK_RANK_FACTOR = 10


def check_dense_size(n, what, alternative, *, limit=None):
    """Raise before allocating an n x n matrix above the size limit."""
    limit = DENSE_MAX_ROWS if limit is None else limit
    if n > limit:
        gb = 8.0 * n * n / 1e9
        raise ValueError(f"{what} needs an n x n matrix ({n} rows: {gb:.1f} GB), above the limit of "
                         f"{limit} rows; {alternative}")


# ----------------------------------------------------------------------------- PCA
def pca(Z, n_components):
    """Top principal components of Z (rows = points): (scores, components, variances).

    ``scores`` = Zc V (n x d), ``components`` = V^T (d x D), ``variances`` the
    eigenvalues of Zc^T Zc / (n - 1). Signs: each component's largest entry positive.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n, D = Z.shape
    Zc = Z - Z.mean(axis=0)
    d = min(n_components, n, D)
    if n >= 2 * D:
        import scipy.linalg

        values, V = scipy.linalg.eigh(Zc.T @ Zc, subset_by_index=[D - d, D - 1])
        order = np.argsort(values)[::-1]
        values, V = np.maximum(values[order], 0.0), V[:, order]
    else:
        _, s, Vt = np.linalg.svd(Zc, full_matrices=False)
        values, V = s[:d] ** 2, Vt[:d].T
    V = V * _signs(V)
    scores = np.zeros((n, n_components))
    scores[:, :d] = Zc @ V
    components = np.zeros((n_components, D))
    components[:d] = V.T
    variances = np.zeros(n_components)
    variances[:d] = values / max(n - 1, 1)
    return scores, components, variances


def _signs(V):
    flip = np.sign(V[np.abs(V).argmax(axis=0), np.arange(V.shape[1])])
    return np.where(flip == 0, 1.0, flip)


# ------------------------------------------------------------------ classical MDS
def double_centre(S):
    """B = -1/2 C S C, written over S (a float64 n x n array of squared dissimilarities)."""
    row = S.mean(axis=1)
    total = row.mean()
    S -= row[:, None]
    S -= row[None, :]
    S += total
    S *= -0.5
    return S


def gram_from_dissimilarities(Delta):
    """B = -1/2 C (Delta o Delta) C as a new n x n array (size-checked by the caller)."""
    return double_centre(np.square(np.asarray(Delta, dtype=np.float64)))


def top_eigen(B, k, *, seed=0):
    """The k largest (algebraic) eigenpairs of the symmetric matrix B, largest first."""
    n = B.shape[0]
    k = min(k, n)
    if n <= DENSE_EIGEN_MAX_ROWS or k >= n - 1:
        import scipy.linalg

        values, vectors = scipy.linalg.eigh(B, subset_by_index=[n - k, n - 1])
    else:
        from scipy.sparse.linalg import eigsh

        v0 = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
        values, vectors = eigsh(B, k=k, which="LA", tol=0.0, v0=v0)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def classical_mds(B, n_components, *, seed=0):
    """Classical scaling of the double-centred B: (embedding, eigenvalues).

    Directions with non-positive eigenvalues (B may be indefinite) get zero columns,
    which is also where the strain forces converge for them."""
    values, vectors = top_eigen(B, n_components, seed=seed)
    vectors = vectors * _signs(vectors)
    Y = np.zeros((B.shape[0], n_components))
    Y[:, : len(values)] = vectors * np.sqrt(np.maximum(values, 0.0))
    return Y, values


# --------------------------------------------------------------------- geodesics
def remeasured(X, metric):
    """Whether edge lengths are measured again in float64 (dense euclidean rows)."""
    import scipy.sparse as sp

    return isinstance(metric, str) and metric in ("euclidean", "l2") and not sp.issparse(X)


def knn_graph(X, n_neighbors, *, random_state=0, n_jobs=-1, metric="euclidean", metric_kwds=None):
    """Symmetric sparse kNN graph with float64 edge lengths in ``metric`` (euclidean:
    measured again in float64), and its (indices, lengths).

    A graph in several parts is joined as scikit-learn's Isomap joins it (with a warning)."""
    from ..graph.neighbors import nearest_neighbors

    n = X.shape[0]
    if remeasured(X, metric):
        # the search runs in float32: take a few spare candidates and choose among them in float64
        n_candidates = min(n - 1, n_neighbors + KNN_SPARE)
        candidates, _ = nearest_neighbors(X, n_candidates, random_state=random_state, n_jobs=n_jobs)
        candidates = candidates.astype(np.int64)
        candidate_lengths = edge_lengths(X, candidates)
        order = np.lexsort((candidates, candidate_lengths), axis=1)[:, :n_neighbors]  # by length, then index
        idx = np.take_along_axis(candidates, order, axis=1)
        lengths = np.take_along_axis(candidate_lengths, order, axis=1)
    else:
        idx, lengths = nearest_neighbors(X, n_neighbors, metric=metric, metric_kwds=metric_kwds,
                                         random_state=random_state, n_jobs=n_jobs)
        idx, lengths = idx.astype(np.int64), lengths.astype(np.float64)
    graph = symmetric_graph(idx, lengths, n)
    from scipy.sparse.csgraph import connected_components

    n_parts, labels = connected_components(graph, directed=False)
    if n_parts > 1:
        import warnings

        warnings.warn(f"the {n_neighbors}-nearest-neighbour graph has {n_parts} disconnected parts; using an edge "
                      "between the closest two points of every pair of parts to join them, as scikit-learn's "
                      "Isomap does (geodesics between parts cross it; increase n_neighbors to avoid this)",
                      stacklevel=3)
        graph = connect_components(graph, X, labels, n_parts, metric=_join_metric(metric))
    return graph, idx, lengths


def _join_metric(metric):
    """The metric in which parts of the graph are joined: the graph's own where
    scikit-learn's pairwise_distances knows it, else euclidean."""
    known = ("euclidean", "l2", "cosine", "manhattan", "l1", "chebyshev", "hamming", "jaccard", "correlation")
    return metric if isinstance(metric, str) and metric in known else "euclidean"


def symmetric_graph(idx, lengths, n):
    """The undirected kNN graph as a symmetric CSR matrix, zero lengths kept as explicit
    edges (duplicated points are neighbours at distance 0; scipy's csgraph reads an
    explicit zero as an edge, a missing entry as none)."""
    import scipy.sparse as sp

    k = idx.shape[1]
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = idx.ravel().astype(np.int64)
    rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    values = np.concatenate([lengths.ravel(), lengths.ravel()])  # ||x_i - x_j|| is the same both ways
    keep = np.unique(rows * n + cols, return_index=True)[1]  # each edge once, ordered by (row, column)
    rows, cols, values = rows[keep], cols[keep], values[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    return sp.csr_matrix((values, cols, indptr), shape=(n, n))


#: bytes of the distance blocks computed while joining the parts of a kNN graph
CONNECT_BLOCK_BYTES = 64 * 2**20


def connect_components(graph, X, labels, n_parts, *, metric="euclidean"):
    """``graph`` with one edge added between the closest two points of every pair of its
    parts (scikit-learn's ``_fix_connected_components``): distances from each part to
    the points of the parts before it, in blocks of bounded memory; n^2 / 2 distances in all."""
    import scipy.sparse as sp
    from sklearn.metrics import pairwise_distances

    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(n_parts + 1))
    rows, cols, values = [], [], []
    for part in range(1, n_parts):
        members, earlier = order[starts[part]:starts[part + 1]], order[:starts[part]]  # earlier: by part
        best = np.full(len(earlier), np.inf)
        best_member = np.zeros(len(earlier), dtype=np.int64)
        block = max(1, CONNECT_BLOCK_BYTES // (8 * len(earlier)))
        for s in range(0, len(members), block):
            D = pairwise_distances(X[members[s:s + block]], X[earlier], metric=metric)
            where = D.argmin(axis=0)
            value = D[where, np.arange(D.shape[1])]
            better = value < best  # ties keep the earlier member, as an argmin over all would
            best[better], best_member[better] = value[better], members[s:s + block][where[better]]
        for other in range(part):
            lo, hi = starts[other], starts[other + 1]
            j = lo + int(np.argmin(best[lo:hi]))
            rows.append(best_member[j]), cols.append(earlier[j]), values.append(best[j])
    coo = graph.tocoo()
    rows, cols = np.concatenate([coo.row, rows, cols]), np.concatenate([coo.col, cols, rows])
    values = np.concatenate([coo.data, values, values])
    # from COO without a sum of two matrices, which would drop explicit zero-length edges
    return sp.coo_matrix((values, (rows, cols)), shape=graph.shape).tocsr()


def edge_lengths(X, idx, *, queries=None):
    """||q_i - x_idx[i, j]|| in float64, in row blocks (bounded memory)."""
    X = np.asarray(X, dtype=np.float64)
    Q = X if queries is None else np.asarray(queries, dtype=np.float64)
    out = np.empty(idx.shape)
    block = max(1, 4_000_000 // max(1, idx.shape[1] * X.shape[1]))
    for s in range(0, Q.shape[0], block):
        diff = X[idx[s : s + block]] - Q[s : s + block, None, :]
        out[s : s + block] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return out


def geodesic_distances(graph, sources=None):
    """Shortest-path lengths from ``sources`` (all points if None) to every point."""
    from scipy.sparse.csgraph import dijkstra

    if sources is None:
        check_dense_size(graph.shape[0], "all-pairs geodesic distances",
                         "use the landmark variant (n_landmarks=...) instead")
    return dijkstra(graph, directed=False, indices=sources)


def geodesics_to_new_points(knn_idx, knn_lengths, distances_from_fit):
    """Geodesic distances from the rows of ``distances_from_fit`` (s x n_fit) to new points
    whose nearest fitted points are ``knn_idx`` at ``knn_lengths`` (m x k): s x m."""
    out = np.full((distances_from_fit.shape[0], knn_idx.shape[0]), np.inf)
    for j in range(knn_idx.shape[1]):
        np.minimum(out, distances_from_fit[:, knn_idx[:, j]] + knn_lengths[None, :, j], out=out)
    return out


# ---------------------------------------------------------------------- landmarks
def choose_landmarks(n, n_landmarks, seed):
    """n_landmarks distinct points, seeded, in increasing order."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n, n_landmarks), replace=False))


class LandmarkMap:
    """Landmark MDS (de Silva & Tenenbaum): triangulate points from their dissimilarities
    to the landmarks. Built from the landmark-to-landmark block of dissimilarities;
    ``features(Delta_L)`` maps an L x m block of dissimilarities (landmarks to points)
    to m x r coordinates whose Gram matrix approximates classical MDS's B."""

    _saved_state = ("mean_squares", "rank", "eigenvalues", "projection")  # rebuilt from these by ardr.io

    def __init__(self, delta_landmarks, n_components):
        S = np.square(np.asarray(delta_landmarks, dtype=np.float64))
        self.mean_squares = S.mean(axis=1)
        B = double_centre(S)
        values, vectors = np.linalg.eigh(B)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        keep = values > values[0] * 1e-10 if values[0] > 0 else np.zeros(len(values), dtype=bool)
        rank = int(min(keep.sum(), max(n_components, LANDMARK_RANK_FACTOR * n_components)))
        if rank < 1:
            raise ValueError("the landmark dissimilarities have no positive eigenvalue; use more landmarks")
        self.rank = rank
        self.eigenvalues = values[:rank]
        # pseudo-inverse transpose of the landmark coordinates: v_k / sqrt(lambda_k)
        self.projection = vectors[:, :rank] / np.sqrt(values[:rank])

    def features(self, delta_to_points):
        """m x r coordinates from the L x m dissimilarities between landmarks and points."""
        S = np.square(np.asarray(delta_to_points, dtype=np.float64))
        S -= self.mean_squares[:, None]
        return -0.5 * (S.T @ self.projection)


# --------------------------------------------------------------------- metric MDS
def smacof(Delta, n_components, *, init=None, random_state=0, max_iter=300, eps=1e-6):
    """scikit-learn's SMACOF on the dissimilarity matrix: (embedding, stress, iterations).

    ``stress`` is the raw stress sum_{i<j} (d_ij - delta_ij)^2."""
    from sklearn.manifold import smacof as sk_smacof

    Y, stress, n_iter = sk_smacof(np.asarray(Delta, dtype=np.float64), n_components=n_components, init=init,
                                  n_init=1, random_state=random_state, max_iter=max_iter, eps=eps,
                                  normalized_stress=False, return_n_iter=True)
    return Y, float(stress), int(n_iter)


def stress(Y, Delta):
    """Raw stress sum_{i<j} (||y_i - y_j|| - delta_ij)^2, in row blocks."""
    Y = np.asarray(Y, dtype=np.float64)
    n = Y.shape[0]
    sq = np.einsum("ij,ij->i", Y, Y)
    total = 0.0
    block = max(1, 4_000_000 // n)
    for s in range(0, n, block):
        d2 = sq[s : s + block, None] - 2.0 * (Y[s : s + block] @ Y.T) + sq[None, :]
        d = np.sqrt(np.maximum(d2, 0.0))
        rows = np.arange(s, min(n, s + block))
        d[np.arange(len(rows)), rows] = 0.0
        total += float(np.square(d - Delta[s : s + block]).sum())
    return total / 2.0


def euclidean_distances(X):
    """Dense float64 Euclidean distance matrix (size-checked by the caller)."""
    X = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    D = sq[:, None] - 2.0 * (X @ X.T) + sq[None, :]
    np.maximum(D, 0.0, out=D)
    np.sqrt(D, out=D)
    np.fill_diagonal(D, 0.0)
    return D

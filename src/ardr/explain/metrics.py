"""Quality metrics for an embedding ``Y`` (n x d) of input data ``X`` (n x D).

All neighbourhood metrics are computed without any n x n array, so they scale to
MNIST-sized data (n = 70,000, D = 784) in seconds and a few hundred MiB:

* neighbours *in the space whose neighbourhoods are judged* (the embedding for
  trustworthiness) come from :class:`sklearn.neighbors.NearestNeighbors`
  (KD-tree for low-dimensional data, chunked brute force otherwise);
* *ranks in the reference space* (the input for trustworthiness) come from exact
  distances of one block of query rows at a time, so memory stays ~ block x n.

Above ``max_exact`` points the neighbourhood metrics look at a seeded random sample of
``n_queries`` query points instead of all of them. Every per-point quantity is
averaged, so the sampled value is an unbiased estimate of the exact one; the ranks
and neighbours of each sampled query are still exact (computed against all n points).

Ties in the reference space
---------------------------
:func:`trustworthiness` reproduces :func:`sklearn.manifold.trustworthiness`
(euclidean) exactly when the reference-space distances from a query have no ties.
The rank of a neighbour ``j`` of query ``i`` is ``1 + #{l != i : d(i, l) < d(i, j)}``,
the query itself is excluded. scikit-learn instead takes the position in an
(unstable) ``argsort`` of the distances, which breaks ties arbitrarily. Here a
tied neighbour gets the *lowest* rank of its tie group ("min" ranking), which is
never larger than the rank scikit-learn gives it. So with ties the result here is
deterministic and greater than or equal to scikit-learn's. Squared distances are
compared (sqrt is monotone, so it cannot reorder them), and values the
squared-norm trick makes slightly negative count as 0, as in scikit-learn.
Ties among neighbours in the judged space (which of several equally distant
points is the k-th neighbour) are broken by NearestNeighbors, as in
scikit-learn.
"""

import numpy as np

# scipy.stats and sklearn.neighbors/model_selection are imported inside the functions
# that use them: together they take ~1.5 s to import, which `import ardr.explain.metrics`
# should not pay before a metric is actually computed.
from ardr._validation import check_data, check_int, check_labels, check_seed

__all__ = [
    "trustworthiness",
    "continuity",
    "knn_overlap",
    "knn_accuracy",
    "procrustes_error",
    "distance_spearman",
    "report",
]

# Memory for one block of query-to-all distance rows (float64). 128 MiB means
# ~240 query rows per block at n = 70,000: large enough for an efficient GEMM,
# small enough that a report stays far below its 2 GiB budget.
_BLOCK_BYTES = 128 * 2**20
_MAX_BLOCK_ROWS = 1024
# Memory for the gathered row differences in distance_spearman.
_PAIR_BLOCK_BYTES = 32 * 2**20


# --------------------------------------------------------------------------- checks


def _as_data(A, name):
    """Validated float64, C-contiguous 2-D array with at least 2 rows (else ValueError),
    divided by a power of two near its largest |entry|: every metric here is invariant to
    a global scale, and squared distances then neither overflow nor underflow."""
    A = check_data(A, name=name, min_rows=2, dtype=np.float64)
    big = float(np.abs(A).max())
    if big > 0 and not 2.0**-100 < big < 2.0**100:
        A = A / 2.0 ** np.frexp(big)[1]
    return A


def _check_pair(A, B, names):
    """Validate two data arrays describing the same points (same number of rows)."""
    A = _as_data(A, names[0])
    B = _as_data(B, names[1])
    if A.shape[0] != B.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same number of rows, "
            f"got {A.shape[0]} and {B.shape[0]}"
        )
    return A, B


def _check_k(k, n, *, half=False):
    """k must leave at least one non-neighbour; trustworthiness needs k < n / 2.

    The trustworthiness normalization 2 / (n k (2n - 3k - 1)) maps the worst
    possible neighbourhoods to 0 only when k < n / 2 (scikit-learn's condition too).
    """
    k = check_int(k, "k", low=1)
    if k >= n:
        raise ValueError(f"k={k} must be smaller than the number of points n={n}")
    if half and k >= n / 2:
        raise ValueError(
            f"k={k} must be smaller than n / 2 = {n / 2} for trustworthiness and "
            f"continuity (their normalization assumes it)"
        )
    return k


def _select_queries(n, max_exact, n_queries, random_state):
    """Query points: all of them up to max_exact, else a seeded sorted random sample.

    Returns (queries, sampled). ``sampled`` is False whenever every point is a query.
    """
    max_exact = check_int(max_exact, "max_exact", low=0)
    n_queries = check_int(n_queries, "n_queries", low=1)
    if n <= max_exact or n_queries >= n:
        return np.arange(n), False
    rng = np.random.default_rng(check_seed(random_state))
    return np.sort(rng.choice(n, size=n_queries, replace=False)), True


# ---------------------------------------------------------------- neighbour machinery


def _knn(A, queries, k, sampled):
    """Indices (len(queries), k) of the k nearest neighbours of each query in A, self excluded.

    Exact mode calls ``kneighbors()`` without arguments, exactly like
    sklearn.manifold.trustworthiness does. Sampled mode asks for k + 1 neighbours
    and drops the query itself; if the query is hidden among more than k
    duplicates, the first column is dropped instead (scikit-learn's own rule).
    """
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k).fit(A)
    if not sampled:
        return nn.kneighbors(return_distance=False)
    ind = nn.kneighbors(A[queries], n_neighbors=k + 1, return_distance=False)
    keep = ind != queries[:, None]
    keep[keep.all(axis=1), 0] = False
    return ind[keep].reshape(len(queries), k)


def _block_rows(n):
    return int(max(1, min(_MAX_BLOCK_ROWS, _BLOCK_BYTES // (8 * n))))


def _rank_penalties(A, queries, neighbours):
    """Per query i: sum over its given neighbours j of max(0, rank_A(i, j) - k).

    rank_A(i, j) = 1 + #{l != i : |a_i - a_l| < |a_i - a_j|} (see module docstring
    for ties). Distances come from one GEMM per block of queries; the comparisons
    then run row by row so that each row (n floats) stays in cache.

    With h_l = |a_l|^2 / 2 - a_i . a_l we have |a_i - a_l|^2 = 2 h_l + |a_i|^2, so
    ranking by h is ranking by squared distance; clipping h at -|a_i|^2 / 2 is
    clipping the squared distance at 0.
    """
    n = A.shape[0]
    k = neighbours.shape[1]
    half_sq = 0.5 * np.einsum("ij,ij->i", A, A)
    penalties = np.zeros(len(queries), dtype=np.float64)
    h = np.empty(n, dtype=np.float64)
    closer = np.empty(n, dtype=bool)
    step = min(_block_rows(n), len(queries))
    gram_buffer = np.empty((step, n), dtype=np.float64)  # reused: no page faults per block
    for start in range(0, len(queries), step):
        block = queries[start : start + step]
        gram = np.matmul(A[block], A.T, out=gram_buffer[: len(block)])
        for r, i in enumerate(block):
            np.subtract(half_sq, gram[r], out=h)
            np.maximum(h, -half_sq[i], out=h)
            h[i] = np.inf  # the query is not its own neighbour
            total = 0
            for threshold in h[neighbours[start + r]]:
                np.less(h, threshold, out=closer)
                rank = 1 + np.count_nonzero(closer)
                total += max(0, rank - k)
            penalties[start + r] = total
    return penalties


def _trust_from_penalties(penalties, n, k):
    """Venna & Kaski normalization with the per-query penalty averaged over queries.

    With all n points as queries this is exactly scikit-learn's
    1 - 2 / (n k (2n - 3k - 1)) * sum of penalties.
    """
    return float(1.0 - 2.0 / (k * (2.0 * n - 3.0 * k - 1.0)) * penalties.mean())


def _trust(reference, judged, k, queries, sampled, judged_neighbours=None):
    """Trustworthiness of the neighbourhoods of ``judged`` w.r.t. ``reference``."""
    if judged_neighbours is None:
        judged_neighbours = _knn(judged, queries, k, sampled)
    penalties = _rank_penalties(reference, queries, judged_neighbours)
    return _trust_from_penalties(penalties, reference.shape[0], k)


def _mean_jaccard(ind_a, ind_b):
    """Mean over rows of |a_row & b_row| / |a_row | b_row| for two (m, k) index arrays."""
    m, k = ind_a.shape
    width = int(max(ind_a.max(), ind_b.max())) + 1
    offset = np.arange(m, dtype=np.int64)[:, None] * width
    shared = np.isin(ind_a + offset, ind_b + offset).reshape(m, k).sum(axis=1)
    return float(np.mean(shared / (2 * k - shared)))


# ---------------------------------------------------------------------- public API


def trustworthiness(X, Y, k=10, *, max_exact=20000, n_queries=5000, random_state=0):
    """Venna & Kaski trustworthiness of embedding Y of X: are Y's neighbours real?

    Same definition (euclidean) and value as ``sklearn.manifold.trustworthiness(X,
    Y, n_neighbors=k)`` (see the module docstring for ties), but memory is
    O(block x n) instead of O(n^2). For n <= max_exact every point is a query (exact);
    above, a seeded random sample of n_queries points is used and the per-query
    penalty is averaged, so the value estimates the exact one. 1 is perfect; needs
    1 <= k < n / 2.
    """
    X, Y = _check_pair(X, Y, ("X", "Y"))
    k = _check_k(k, X.shape[0], half=True)
    queries, sampled = _select_queries(X.shape[0], max_exact, n_queries, random_state)
    return _trust(X, Y, k, queries, sampled)


def continuity(X, Y, k=10, *, max_exact=20000, n_queries=5000, random_state=0):
    """Continuity: are X's neighbours kept in Y? Equals ``trustworthiness(Y, X, k)``.

    Same code path with the roles of the spaces swapped: neighbours are found in X
    and ranked in Y.
    """
    return trustworthiness(
        Y, X, k, max_exact=max_exact, n_queries=n_queries, random_state=random_state
    )


def knn_overlap(A, B, k=15, *, max_exact=20000, n_queries=5000, random_state=0):
    """Mean Jaccard overlap of each point's k-neighbour sets (self excluded) in A and B.

    A and B are two representations of the same points (input vs embedding, or two
    embeddings). 1 means identical neighbourhoods; about k / n for unrelated ones.
    Sampled queries above max_exact, as for :func:`trustworthiness`.
    """
    A, B = _check_pair(A, B, ("A", "B"))
    k = _check_k(k, A.shape[0])
    queries, sampled = _select_queries(A.shape[0], max_exact, n_queries, random_state)
    return _mean_jaccard(_knn(A, queries, k, sampled), _knn(B, queries, k, sampled))


def knn_accuracy(Y, labels, k=5, folds=5, random_state=0):
    """Mean accuracy of a k-NN classifier on Y under stratified, shuffled k-fold CV.

    Measures how well the classes separate locally in Y (sklearn
    KNeighborsClassifier + StratifiedKFold(shuffle=True, random_state)).
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    Y = _as_data(Y, "Y")
    n = Y.shape[0]
    y = check_labels(labels, n)
    folds = check_int(folds, "folds", low=2, high=n)
    train_min = n - -(-n // folds)  # smallest training fold: n - ceil(n / folds)
    k = check_int(k, "k", low=1)
    if k > train_min:
        raise ValueError(
            f"k={k} is larger than the smallest training fold ({train_min} of {n} "
            f"points with {folds} folds)"
        )
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < folds:
        raise ValueError(f"class {classes[counts.argmin()]!r} has {counts.min()} member(s), fewer than "
                         f"folds={folds}: stratified cross-validation needs at least one per fold")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=check_seed(random_state))
    scores = []
    for train, test in splitter.split(Y, y):
        model = KNeighborsClassifier(n_neighbors=k).fit(Y[train], y[train])
        scores.append(model.score(Y[test], y[test]))
    return float(np.mean(scores))


def procrustes_error(A, B):
    """Relative Procrustes disparity: 0 iff B is A up to shift, rotation, reflection, scale.

    Returns min over s, orthogonal R of ||A_c - s B_c R||_F^2 / ||A_c||_F^2 with A_c, B_c
    the column-centred inputs. This equals 1 - (sum of singular values of
    B_c^T A_c)^2 / (||A_c||^2 ||B_c||^2), so it is symmetric in A and B and lies in
    [0, 1] (it is scipy.spatial.procrustes' disparity). Different column counts are
    allowed and mean zero-padding the narrower array (padding does not change the
    singular values, so none is materialized). Rank-deficient inputs are fine; if a
    configuration is a single point repeated (no shape at all) the result is 0.0
    when both are, else 1.0.
    """
    A, B = _check_pair(A, B, ("A", "B"))
    scaled = []
    for M in (A, B):
        centred = M - M.mean(axis=0)
        norm = np.linalg.norm(centred)
        # Centring a constant array leaves rounding noise of order eps * |M|.
        if norm <= 64 * np.finfo(np.float64).eps * np.linalg.norm(M):
            norm = 0.0
        scaled.append((centred, norm))
    (Ac, na), (Bc, nb) = scaled
    if na == 0.0 or nb == 0.0:
        return 0.0 if na == nb else 1.0
    singular = np.linalg.svd((Bc / nb).T @ (Ac / na), compute_uv=False)
    return float(min(1.0, max(0.0, 1.0 - singular.sum() ** 2)))


def distance_spearman(X, Y, n_pairs=100000, random_state=0):
    """Spearman correlation of input vs embedded distances over seeded random pairs i != j.

    A global-structure score: 1 means the embedding orders all sampled distances as
    the input does. Returns 0.0 when either space's sampled distances are all equal
    (e.g. a collapsed embedding), where the correlation is undefined.
    """
    X, Y = _check_pair(X, Y, ("X", "Y"))
    n = X.shape[0]
    n_pairs = check_int(n_pairs, "n_pairs", low=2)
    rng = np.random.default_rng(check_seed(random_state))
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n  # uniform over j != i
    dx = _pair_distances(X, i, j)
    dy = _pair_distances(Y, i, j)
    if np.ptp(dx) == 0 or np.ptp(dy) == 0:
        return 0.0
    from scipy import stats

    return float(stats.spearmanr(dx, dy).statistic)


def _pair_distances(A, i, j):
    """|a_i - a_j| for index vectors i, j, gathering rows in blocks to bound memory."""
    out = np.empty(len(i), dtype=np.float64)
    step = max(1, _PAIR_BLOCK_BYTES // (8 * A.shape[1]))
    for s in range(0, len(i), step):
        diff = A[i[s : s + step]] - A[j[s : s + step]]
        out[s : s + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def report(X, Y, labels=None, k=10, random_state=0, max_exact=20000, *, n_queries=5000):
    """All metrics of embedding Y of X as a JSON-serializable dict of Python scalars.

    Keys: n, k, sampled, n_queries (query points actually used), trustworthiness,
    continuity, knn_overlap (X vs Y at k), distance_spearman, and knn_accuracy (k=5,
    5 folds) when labels are given. The values equal those of the individual
    functions called with the same k, max_exact, n_queries and random_state (the
    same query sample is used); neighbours in X are searched once and shared by
    continuity and knn_overlap.
    """
    X, Y = _check_pair(X, Y, ("X", "Y"))
    n = X.shape[0]
    k = _check_k(k, n, half=True)
    if labels is not None:
        labels = check_labels(labels, n)
    queries, sampled = _select_queries(n, max_exact, n_queries, random_state)
    nbr_x = _knn(X, queries, k, sampled)
    nbr_y = _knn(Y, queries, k, sampled)
    result = {
        "n": int(n),
        "k": int(k),
        "sampled": bool(sampled),
        "n_queries": int(len(queries)),
        "trustworthiness": _trust(X, Y, k, queries, sampled, judged_neighbours=nbr_y),
        "continuity": _trust(Y, X, k, queries, sampled, judged_neighbours=nbr_x),
        "knn_overlap": _mean_jaccard(nbr_x, nbr_y),
        "distance_spearman": distance_spearman(X, Y, random_state=random_state),
    }
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        if len(counts) > 1 and counts.min() >= 5 and n >= 10:
            result["knn_accuracy"] = knn_accuracy(Y, labels, k=5, folds=5, random_state=random_state)
        else:  # 5-fold stratified CV is undefined for this labelling; say so rather than fail
            result["knn_accuracy"] = None
    return result

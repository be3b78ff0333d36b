"""Input kernels: similarities between input points, as sparse symmetric matrices.

- ``umap_graph``: UMAP's fuzzy simplicial set (per-point bandwidths, fuzzy union).
- ``tsne_affinities``: tSNE's perplexity-calibrated Gaussian, symmetrized, summing to 1;
  several perplexities average their conditional P (openTSNE's ``Multiscale``).
- ``check_affinities``: a user's own symmetric P (openTSNE's affinity objects too).
- ``membership_strengths`` / ``conditional_gaussian``: the directed rows of each, also
  used to attach new points to a fitted embedding.
"""

import numba
import numpy as np
import scipy.sparse as sp

_SMOOTH_K_TOLERANCE = 1e-5
_MIN_K_DIST_SCALE = 1e-3
_BISECTION_STEPS = 64
_WEIGHT_BLOCK_ROWS = 65536


@numba.njit(parallel=True, cache=True)
def _smooth_knn_dist(distances, target, local_connectivity):
    """Per-point rho (distance to the local_connectivity-th nearest distinct neighbour,
    interpolated between neighbours for a fractional value) and sigma by bisection, so
    that sum_j exp(-(d_ij - rho_i) / sigma_i) = target. Infinite distances (edges cut by
    a disconnection distance) count as absent."""
    n, k = distances.shape
    rho = np.zeros(n, dtype=np.float64)
    sigma = np.zeros(n, dtype=np.float64)
    mean_all = 0.0
    n_finite = 0
    for i in range(n):
        for j in range(k):
            if distances[i, j] < np.inf:
                mean_all += distances[i, j]
                n_finite += 1
    mean_all /= max(1, n_finite)
    index = int(np.floor(local_connectivity))
    interpolation = local_connectivity - index
    for i in numba.prange(n):
        d = distances[i]
        # the row's distinct (non-zero) finite distances, in order
        nonzero = np.empty(k)
        n_nonzero = 0
        n_finite_i = 0
        total = 0.0
        for j in range(k):
            if d[j] < np.inf:
                total += d[j]
                n_finite_i += 1
                if d[j] > 0.0:
                    nonzero[n_nonzero] = d[j]
                    n_nonzero += 1
        if n_nonzero >= local_connectivity:
            if index > 0:
                rho[i] = nonzero[index - 1]
                if interpolation > _SMOOTH_K_TOLERANCE and index < n_nonzero:
                    rho[i] += interpolation * (nonzero[index] - nonzero[index - 1])
            else:
                rho[i] = interpolation * nonzero[0]
        elif n_nonzero > 0:
            rho[i] = np.max(nonzero[:n_nonzero])
        lo, hi, mid = 0.0, np.inf, 1.0
        for _ in range(_BISECTION_STEPS):
            psum = 0.0
            for j in range(k):
                gap = d[j] - rho[i]
                psum += np.exp(-(gap / mid)) if gap > 0 else 1.0
            if abs(psum - target) < _SMOOTH_K_TOLERANCE:
                break
            if psum > target:
                hi = mid
                mid = (lo + hi) / 2.0
            else:
                lo = mid
                mid = mid * 2.0 if hi == np.inf else (lo + hi) / 2.0
        sigma[i] = mid
        mean_i = total / max(1, n_finite_i)
        floor = _MIN_K_DIST_SCALE * (mean_i if rho[i] > 0.0 else mean_all)
        if sigma[i] < floor:
            sigma[i] = floor
    return rho, sigma


def membership_strengths(distances, n_neighbors, local_connectivity=1.0):
    """UMAP's directed weights v_{j|i} = exp(-(d_ij - rho_i) / sigma_i) for each kNN entry.

    ``distances`` holds the n_neighbors - 1 nearest *other* points (UMAP's n_neighbors
    counts the point itself), so the bandwidth target is log2(n_neighbors). An infinite
    distance (an edge cut by ``disconnection_distance``) gets weight 0.
    """
    distances = np.asarray(distances)
    rho, sigma = _smooth_knn_dist(np.asarray(distances, dtype=np.float64), np.log2(n_neighbors),
                                  float(local_connectivity))
    weights = np.empty(distances.shape, dtype=np.float32)
    # in row blocks: float64 temporaries of a block, not of the whole n x k
    for start in range(0, distances.shape[0], _WEIGHT_BLOCK_ROWS):
        rows = slice(start, start + _WEIGHT_BLOCK_ROWS)
        gap = np.asarray(distances[rows], dtype=np.float64) - rho[rows, None]
        # gap <= 0 (within rho) means weight 1; sigma is only 0 when every distance is 0
        with np.errstate(invalid="ignore"):
            scaled = np.divide(gap, sigma[rows, None], out=np.zeros_like(gap), where=gap > 0)
        weights[rows] = np.exp(-scaled)
    return weights


def _directed_matrix(indices, weights, n_cols):
    """The kNN rows as CSR, built directly (no COO triplets): a row's neighbours are
    distinct, so each row's entries only need sorting by column."""
    n, k = indices.shape
    indices = np.asarray(indices)
    order = np.argsort(indices, axis=1, kind="stable")
    M = sp.csr_matrix((np.take_along_axis(weights, order, axis=1).ravel(),
                       np.take_along_axis(indices, order, axis=1).ravel().astype(np.int32, copy=False),
                       np.arange(0, n * k + 1, k, dtype=np.int64)), shape=(n, n_cols))
    if k and (np.diff(M.indices.reshape(n, k), axis=1) == 0).any():  # repeated neighbours (a user's kNN)
        M.sum_duplicates()
    M.has_sorted_indices = True
    return M


def umap_graph(indices, distances, n_neighbors, *, set_op_mix_ratio=1.0, local_connectivity=1.0):
    """UMAP's fuzzy union P = V + V^T - V o V^T of the directed membership strengths;
    ``set_op_mix_ratio`` < 1 mixes in the fuzzy intersection V o V^T (0: intersection only)."""
    n = indices.shape[0]
    V = _directed_matrix(indices, membership_strengths(distances, n_neighbors, local_connectivity), n)
    V.eliminate_zeros()
    return fuzzy_union(V, set_op_mix_ratio)


def fuzzy_union(V, set_op_mix_ratio=1.0):
    """mix (V + V^T - V o V^T) + (1 - mix) V o V^T: sorted CSR, float32, no explicit zeros."""
    Vt = V.T.tocsr()
    product = V.multiply(Vt)
    P = V + Vt
    del Vt  # the largest temporaries go as soon as they are used (10M points: ~2 GB each)
    P = P - product
    if set_op_mix_ratio != 1.0:
        P = set_op_mix_ratio * P + (1.0 - set_op_mix_ratio) * product
    del product
    P = P.tocsr()
    P.eliminate_zeros()
    P.sort_indices()
    return P.astype(np.float32, copy=False)


def scale_rows_to_max(P):
    """Each row of a non-negative sparse P divided by its largest entry (float64 CSR): every
    point trusts its strongest edge fully."""
    P = sp.csr_matrix(P, dtype=np.float64)
    row_max = np.ones(P.shape[0])
    nonempty = np.diff(P.indptr) > 0
    row_max[nonempty] = np.maximum.reduceat(P.data, P.indptr[:-1][nonempty])
    row_max[row_max <= 0] = 1.0
    return (sp.diags(1.0 / row_max) @ P).tocsr()


@numba.njit(parallel=True, cache=True)
def _perplexity_rows(sq_distances, log_perplexity):
    """Row-stochastic Gaussian weights whose entropy is log(perplexity), beta by bisection."""
    n, k = sq_distances.shape
    P = np.zeros((n, k), dtype=np.float64)
    for i in numba.prange(n):
        d = sq_distances[i]
        d_min = np.min(d)
        beta, lo, hi = 1.0, 0.0, np.inf
        # scale so beta=1 is a sensible start whatever the data's units
        scale = np.mean(d - d_min)
        if scale <= 0.0:
            scale = 1.0
        row = np.empty(k)
        for _ in range(200):
            total = 0.0
            for j in range(k):
                row[j] = np.exp(-(d[j] - d_min) / scale * beta)
                total += row[j]
            entropy = 0.0
            for j in range(k):
                row[j] /= total
                if row[j] > 1e-300:
                    entropy -= row[j] * np.log(row[j])
            if abs(entropy - log_perplexity) < 1e-6:
                break
            if entropy > log_perplexity:
                lo = beta
                beta = beta * 2.0 if hi == np.inf else (lo + hi) / 2.0
            else:
                hi = beta
                beta = (lo + hi) / 2.0
        for j in range(k):
            P[i, j] = row[j]
    return P


def conditional_gaussian(distances, perplexity):
    """tSNE's conditional p_{j|i} over each point's neighbours (rows sum to 1). Several
    perplexities (multiscale) give the mean of their rows (each row still sums to 1)."""
    d = np.asarray(distances, dtype=np.float64)
    perplexities = np.atleast_1d(np.asarray(perplexity, dtype=np.float64))
    rows = _perplexity_rows(d * d, np.log(perplexities[0]))
    for value in perplexities[1:]:
        rows += _perplexity_rows(d * d, np.log(value))
    if perplexities.size > 1:
        rows /= perplexities.size
    return rows.astype(np.float32)


def tsne_affinities(indices, distances, perplexity):
    """Symmetric tSNE affinities P = (P_cond + P_cond^T) / (2n), summing to 1; ``perplexity``
    one number or several (multiscale: openTSNE's ``Multiscale``, the same P)."""
    n = indices.shape[0]
    P = _directed_matrix(indices, conditional_gaussian(distances, perplexity), n)
    P = (P + P.T.tocsr()).tocsr()
    P.eliminate_zeros()
    P.sort_indices()
    P.data /= P.data.sum()
    return P.astype(np.float32)


def check_affinities(affinities):
    """A user's input affinities as the engine takes them: CSR, float32, no diagonal,
    summing to 1. Accepts a square symmetric non-negative matrix (scipy sparse or dense)
    or an object holding one in ``P`` (openTSNE's ``Affinities``)."""
    P = getattr(affinities, "P", affinities)
    if not sp.issparse(P):
        P = np.asarray(P)
        if P.dtype == object or not np.issubdtype(P.dtype, np.number) or np.iscomplexobj(P):
            raise ValueError(f"affinities must be a numeric matrix (or an object with a P attribute), "
                             f"got {type(affinities).__name__}")
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"affinities must be a square matrix, got shape {P.shape}")
    P = sp.csr_matrix(P, dtype=np.float64)
    P.setdiag(0.0)
    P.eliminate_zeros()
    if not np.isfinite(P.data).all() or (P.data < 0).any():
        raise ValueError("affinities must be finite and non-negative")
    total = P.data.sum()
    if not total > 0:
        raise ValueError("affinities are all zero off the diagonal")
    asymmetry = abs(P - P.T).max() if P.nnz else 0.0
    if asymmetry > 1e-6 * P.data.max():
        raise ValueError("affinities must be symmetric (tSNE's joint P); symmetrize them first, "
                         "e.g. (P + P.T) / 2")
    P.data /= total
    P.sort_indices()
    return P.astype(np.float32)

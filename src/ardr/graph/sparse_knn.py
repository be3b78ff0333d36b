"""Neighbours of sparse CSR rows, never densified: euclidean, cosine, hellinger, jaccard.

After a transform of the rows (``distances.unit_rows``; jaccard: the non-zero pattern,
values 1) each of these metrics is a function of the dot product of two rows and their
squared norms, so:

- exact: blocks of queries times all rows (a sparse product, densified one block of
  ``_BLOCK_ELEMENTS`` at a time), the k smallest per row kept;
- approximate: the rows' top ``PROJECTED_DIMS`` singular directions (a seeded randomized
  SVD of the sparse matrix) hold a dense copy small enough for the IVF search
  (``ivf.candidates_in``, its probes measured against the exact neighbours of a sample),
  which proposes ``2k + 32`` candidates; their exact distances, from sparse dot products,
  rank them. Where the projection cannot reach ``ivf.TARGET_RECALL`` on the sample, the
  exact search runs instead.
"""

import numba
import numpy as np
import scipy.sparse as sp

from . import ivf
from ._rows import smallest, sort_rows
from .distances import from_squared, power_of_two_scale, unit_rows

PROJECTED_DIMS = 100
_BLOCK_ELEMENTS = 16_000_000


def prepare(X, metric, scale=1.0):
    """CSR float32 rows with sorted indices for ``metric`` (euclidean: divided by
    ``scale``) and their squared norms."""
    X = sp.csr_matrix(X)
    if scale != 1.0:
        X = X.astype(np.float64) / scale
    if metric == "jaccard":
        R = sp.csr_matrix(((X.data != 0).astype(np.float32), X.indices, X.indptr), shape=X.shape)
        R.eliminate_zeros()
    else:
        R = sp.csr_matrix(unit_rows(X, metric), dtype=np.float32)
    R.sort_indices()
    return R, np.asarray(R.multiply(R).sum(axis=1), dtype=np.float32).ravel()


def _keys(dots, q_norms, r_norms, metric):
    """Search keys (monotone in the metric) from dot products and squared norms."""
    if metric == "euclidean":
        return q_norms[:, None] + r_norms[None, :] - 2.0 * dots
    if metric == "jaccard":
        union = q_norms[:, None] + r_norms[None, :] - dots
        return np.where(union > 0, 1.0 - dots / np.where(union > 0, union, 1.0), 0.0)
    return 1.0 - dots  # unit rows (a zero row: 1 from every other)


def to_metric(keys, metric, scale=1.0):
    if metric == "euclidean":
        return np.sqrt(np.maximum(keys, 0.0)).astype(np.float64) * scale
    if metric == "hellinger":
        return from_squared(2.0 * keys, metric)
    return np.maximum(keys, 0.0)


def exact(X, k, metric, *, queries=None, exclude_self=True):
    """Exact neighbours of sparse rows: (indices int32, distances float32)."""
    scale = _scale(metric, X, queries)
    R, r_norms = prepare(X, metric, scale)
    Q, q_norms = (R, r_norms) if queries is None else prepare(queries, metric, scale)
    indices, keys = _exact_rows(R, r_norms, Q, q_norms, k, metric, np.arange(Q.shape[0]),
                                exclude_self and queries is None)
    return indices, to_metric(keys, metric, scale).astype(np.float32)


def _scale(metric, *matrices):
    """A power of two for euclidean rows (the others are scale-free)."""
    if metric != "euclidean":
        return 1.0
    return power_of_two_scale(*(np.asarray(m.data) if sp.issparse(m) else np.asarray(m)
                                for m in matrices if m is not None))


def _exact_rows(R, r_norms, Q, q_norms, k, metric, rows, exclude_self):
    """Exact (indices, keys) of the query rows ``rows`` of Q."""
    n, m = R.shape[0], len(rows)
    indices = np.empty((m, k), dtype=np.int32)
    keys = np.empty((m, k), dtype=np.float32)
    RT = R.T.tocsr()
    block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, m, block):
        r = rows[start:start + block]
        dots = np.asarray((Q[r] @ RT).todense(), dtype=np.float32)
        key = _keys(dots, q_norms[r], r_norms, metric).astype(np.float32)
        if exclude_self:
            key[np.arange(len(r)), r] = np.inf
        indices[start:start + block], keys[start:start + block] = smallest(key, k)
    return indices, keys


def approximate(X, k, metric, *, random_state=0):
    """Approximate neighbours of sparse rows (module docstring)."""
    from sklearn.utils.extmath import randomized_svd

    scale = _scale(metric, X)
    R, norms = prepare(X, metric, scale)
    n = R.shape[0]
    n_candidates = min(n - 1, ivf.CANDIDATES_PER_NEIGHBOUR * k + ivf.EXTRA_CANDIDATES)
    n_dims = max(1, min(PROJECTED_DIMS, min(R.shape) - 1))
    U, s, _ = randomized_svd(R, n_dims, random_state=random_state)
    projected = np.ascontiguousarray(U * s, dtype=np.float32)
    sample = ivf.probe_sample(n, random_state)
    truth, _ = _exact_rows(R, norms, R, norms, k, metric, sample, True)
    candidates = ivf.candidates_in(projected, k, n_candidates, sample, truth, random_state=random_state)
    if candidates is None:
        return exact(X, k, metric)
    dots = _pair_dots(R.indptr, R.indices, R.data, candidates)
    keys = _pair_keys(dots, norms, candidates, metric)
    order = sort_rows(keys, candidates)[:, :k]
    keys = np.take_along_axis(keys, order, axis=1)
    return np.take_along_axis(candidates, order, axis=1), to_metric(keys, metric, scale).astype(np.float32)


def _pair_keys(dots, norms, candidates, metric):
    q, r = norms[:, None], norms[candidates]
    if metric == "euclidean":
        return (q + r - 2.0 * dots).astype(np.float32)
    if metric == "jaccard":
        union = q + r - dots
        return np.where(union > 0, 1.0 - dots / np.where(union > 0, union, 1.0), 0.0).astype(np.float32)
    return (1.0 - dots).astype(np.float32)


@numba.njit(parallel=True, cache=True)
def _pair_dots(indptr, indices, data, candidates):
    """Dot products of each CSR row (sorted indices) with its candidate rows."""
    n, c = candidates.shape
    out = np.zeros((n, c), dtype=np.float32)
    for i in numba.prange(n):
        a0, a1 = indptr[i], indptr[i + 1]
        for s in range(c):
            j = candidates[i, s]
            b, b1 = indptr[j], indptr[j + 1]
            a = a0
            acc = np.float32(0.0)
            while a < a1 and b < b1:
                if indices[a] == indices[b]:
                    acc += data[a] * data[b]
                    a += 1
                    b += 1
                elif indices[a] < indices[b]:
                    a += 1
                else:
                    b += 1
            out[i, s] = acc
    return out

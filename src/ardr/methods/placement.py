"""What ``transform`` needs besides the force law: training rows found again, keys that
follow a point rather than its batch position, and the dtype of the answer.

- A row identical to a training row is placed exactly on that row's embedding (and a
  batch identical to the training data returns ``embedding_`` itself, as umap-learn
  does), so ``fit(X).transform(X)`` equals ``fit_transform(X)``.
- Every other new point is placed by a force law that couples it to the fitted
  embedding only, with its random stream keyed by its own bytes
  (:func:`ardr.engine.numba.rng.row_keys`): its place does not depend on the other
  points of its batch.
"""

import numpy as np
import scipy.sparse as sp

from ..engine.numba.rng import row_keys


def output_dtype(X):
    """scikit-learn's convention: float32 and float64 input keep their dtype, anything
    else (integers, bool, float16) gives float64."""
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        dtype = np.asarray(X).dtype
    return np.dtype(dtype) if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def same_rows(X_fit, X):
    """True when ``X`` holds exactly the training rows, in order."""
    if X.shape != X_fit.shape or X.dtype != X_fit.dtype or sp.issparse(X) != sp.issparse(X_fit):
        return False
    return (X != X_fit).nnz == 0 if sp.issparse(X) else np.array_equal(X, X_fit)


def _keys(X):
    """Row keys of dense rows, or of CSR rows (their columns and values)."""
    if not sp.issparse(X):
        return row_keys(X)
    X = sp.csr_matrix(X)
    X.sum_duplicates()
    X.sort_indices()
    keys = np.empty(X.shape[0], dtype=np.uint64)
    for i in range(X.shape[0]):  # a Python loop: transform's queries, not the training set, are many
        lo, hi = X.indptr[i], X.indptr[i + 1]
        row = np.concatenate([X.indices[lo:hi].astype(np.float64), X.data[lo:hi].astype(np.float64)])
        keys[i] = row_keys(row[None, :])[0]
    return keys


def _equal(A, i, B, j):
    if sp.issparse(A):
        return (A[i] != B[j]).nnz == 0
    return np.array_equal(A[i], B[j])


def training_matches(X_fit, X, *, precomputed=False):
    """For each row of X, the first training row equal to it, or -1; and the rows' keys
    (the random streams of the unmatched ones). With precomputed distances, a row
    matches the first training point at distance 0."""
    keys = _keys(X)
    match = np.full(X.shape[0], -1, dtype=np.int64)
    if precomputed:
        D = sp.csr_matrix(X) if sp.issparse(X) else None
        for i in range(X.shape[0]):
            if D is None:
                zero = np.flatnonzero(X[i] == 0)
            else:  # a sparse distance row holds its neighbours; an explicit 0 is a match
                row = D[i]
                zero = np.sort(row.indices[row.data == 0])
            if zero.size:
                match[i] = zero[0]
        return match, keys
    fit_keys = _keys(X_fit)
    order = np.argsort(fit_keys, kind="stable")  # equal keys keep index order: first row first
    sorted_keys = fit_keys[order]
    pos = np.searchsorted(sorted_keys, keys)
    hit = pos < len(sorted_keys)
    hit[hit] = sorted_keys[pos[hit]] == keys[hit]
    for i in np.flatnonzero(hit):  # confirm the values (a 64-bit key collision is not a match)
        p = pos[i]
        while p < len(sorted_keys) and sorted_keys[p] == keys[i]:
            if _equal(X_fit, order[p], X, i):
                match[i] = order[p]
                break
            p += 1
    return match, keys

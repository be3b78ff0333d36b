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
    return X.shape == X_fit.shape and X.dtype == X_fit.dtype and np.array_equal(X, X_fit)


def training_matches(X_fit, X, fit_keys=None):
    """For each row of X, the first training row with the same bytes, or -1; and the
    rows' keys."""
    keys = row_keys(X)
    fit_keys = row_keys(X_fit) if fit_keys is None else fit_keys
    order = np.argsort(fit_keys, kind="stable")  # equal keys keep index order: first row first
    sorted_keys = fit_keys[order]
    pos = np.searchsorted(sorted_keys, keys)
    match = np.full(X.shape[0], -1, dtype=np.int64)
    hit = pos < len(sorted_keys)
    hit[hit] = sorted_keys[pos[hit]] == keys[hit]
    for i in np.flatnonzero(hit):  # confirm the bytes (a 64-bit key collision is not a match)
        p = pos[i]
        while p < len(sorted_keys) and sorted_keys[p] == keys[i]:
            if np.array_equal(X_fit[order[p]], X[i]):
                match[i] = order[p]
                break
            p += 1
    return match, keys

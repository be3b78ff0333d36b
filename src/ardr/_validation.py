"""Input checks shared by the estimators, metrics and CLI: one place, clear messages."""

import numbers

import numpy as np

# Sparse input is densified (the engine works on dense rows); above this it is refused.
DENSE_INPUT_MAX_BYTES = 4 * 2**30


def check_data(X, *, name="X", min_rows=2, dtype=np.float32, accept_sparse=False):
    """Return X as a C-contiguous 2-D float array (``accept_sparse``: a sparse X as CSR of
    that dtype, never densified), or raise ValueError naming the problem."""
    import scipy.sparse as sp

    if sp.issparse(X) and accept_sparse:
        return _check_sparse(X, name, min_rows, dtype)
    if sp.issparse(X):
        n_bytes = X.shape[0] * X.shape[1] * 8
        if n_bytes > DENSE_INPUT_MAX_BYTES:
            raise ValueError(f"{name} is a sparse {X.shape[0]} x {X.shape[1]} matrix; densifying it would take "
                             f"{n_bytes / 2**30:.1f} GiB (limit {DENSE_INPUT_MAX_BYTES / 2**30:.0f} GiB): reduce it "
                             "first, e.g. with sklearn.decomposition.TruncatedSVD")
        X = X.toarray()
    arr = np.asarray(X)
    if arr.dtype == object:
        arr = _numeric_objects(arr, name)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued: Complex data not supported (dtype {arr.dtype})")
    if arr.ndim != 2:
        hint = " Reshape your data with X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample." \
            if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got {arr.ndim}-D shape {arr.shape}.{hint}")
    _check_rows(arr.shape, name, min_rows)
    if arr.dtype == np.float32 and dtype is not None and np.dtype(dtype) == np.float32:
        # fast path: valid float32 is returned as it is (a C-contiguous memmap is not
        # copied), checked block by block so no n x D temporary is made
        bad = count_non_finite(arr)
        if bad:
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
        return np.ascontiguousarray(arr)
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    if dtype is not None and np.dtype(dtype) != np.float64:
        with np.errstate(over="ignore"):
            arr = arr.astype(dtype)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} has values too large in magnitude for {np.dtype(dtype).name}")
    arr = np.ascontiguousarray(arr)
    return arr


def count_non_finite(arr, block_bytes=64 * 2**20):
    """NaN and infinite entries of a dense array, counted over row blocks (a memmap is read
    once and never held whole)."""
    rows = max(1, block_bytes // max(1, arr.itemsize * int(np.prod(arr.shape[1:]))))
    bad = 0
    for start in range(0, arr.shape[0], rows):
        block = arr[start:start + rows]
        if not np.isfinite(block).all():
            bad += int(np.count_nonzero(~np.isfinite(block)))
    return bad


def _check_rows(shape, name, min_rows):
    """Enough rows and at least one column, in scikit-learn's wording (its estimator checks
    look for it)."""
    n, D = shape
    if D == 0:
        raise ValueError(f"{name} is empty: 0 feature(s) (shape={shape}) while a minimum of 1 is required.")
    if n < max(min_rows, 1):
        empty = f"{name} is empty: " if n == 0 else f"{name} has "
        raise ValueError(f"{empty}{n} sample(s) (shape={shape}); at least {max(min_rows, 1)} rows are needed")


def _check_sparse(X, name, min_rows, dtype):
    import scipy.sparse as sp

    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (n_samples, n_features), got {X.ndim}-D shape {X.shape}")
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) \
            or np.iscomplexobj(X):  # X.dtype: a dok_matrix has no .data
        raise ValueError(f"{name} must be real-valued and numeric, got dtype {X.dtype}")
    _check_rows(X.shape, name, min_rows)
    X = sp.csr_matrix(X)
    data = np.asarray(X.data, dtype=np.float64)
    if not np.isfinite(data).all():
        raise ValueError(f"{name} contains {int(np.count_nonzero(~np.isfinite(data)))} NaN or infinite value(s)")
    with np.errstate(over="ignore"):
        X = sp.csr_matrix(X, dtype=dtype or np.float64)
    if not np.isfinite(X.data).all():
        raise ValueError(f"{name} has values too large in magnitude for {X.dtype.name}")
    if not X.has_sorted_indices:
        X = X.copy()
        X.sort_indices()
    return X


class NonNumericError(ValueError, TypeError):
    """Data that is not numbers: a ValueError as every ardr input error, and a TypeError
    as numpy's (and scikit-learn's) conversion raises for it."""


def _numeric_objects(arr, name):
    """An object array of numbers as float64 (scikit-learn's convention), else a clear error."""
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise NonNumericError(f"{name} must be numeric; {error}") from None


def check_n_features(estimator, X):
    """Refuse data whose width differs from the fitted data's (scikit-learn's wording)."""
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
                         f"{estimator.n_features_in_} features as input")
    return X


def check_labels(labels, n, *, name="labels"):
    """Labels as a 1-D array of length n."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} entries but the data has {n} rows")
    return y


def check_int(value, name, *, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(value, name, *, low=None, high=None, low_inclusive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
    return value


def check_seed(random_state):
    """An integer seed for the counter-based generator (None draws one from the OS)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**32))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**32 - 1))
    return check_int(random_state, "random_state", low=0, high=2**32 - 1)

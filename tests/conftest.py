import numpy as np
import pytest


@pytest.fixture(scope="module")
def one_numba_thread():
    """One numba thread for a module: results do not depend on it, and parallel kernels crawl
    on a busy shared 2-core machine (measured: compare of 300 digits 38 s wall on all threads,
    14 s on one)."""
    from ardr._threads import numba_threads

    with numba_threads(1):
        yield


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


def knn_accuracy(Y, y):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(KNeighborsClassifier(5), Y, y, cv=cv).mean()

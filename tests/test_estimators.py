"""UMAP, TSNE and ARDR on real data (digits): quality, conventions, transform, determinism."""

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.manifold import trustworthiness

import ardr
from conftest import knn_accuracy


@pytest.fixture(scope="module")
def umap_fit(digits):
    X, _ = digits
    return ardr.UMAP(random_state=0).fit(X)


@pytest.fixture(scope="module")
def tsne_embedding(digits):
    X, _ = digits
    return ardr.TSNE(random_state=0).fit_transform(X)


def test_umap_quality_on_digits(digits, umap_fit):
    X, y = digits
    Y = umap_fit.embedding_
    assert Y.shape == (len(X), 2) and Y.dtype == np.float32 and np.isfinite(Y).all()
    # umap-learn 0.5 on digits: 5-NN accuracy ~0.98, trustworthiness@10 ~0.985
    assert knn_accuracy(Y, y) > 0.975
    assert trustworthiness(X, Y, n_neighbors=10) > 0.98


def test_tsne_quality_on_digits(digits, tsne_embedding):
    X, y = digits
    assert knn_accuracy(tsne_embedding, y) > 0.975
    assert trustworthiness(X, tsne_embedding, n_neighbors=10) > 0.985


def test_normalized_switch_gives_tsne_like_embedding(digits, tsne_embedding):
    X, y = digits
    Y = ardr.UMAP(normalized=True, random_state=0).fit_transform(X)
    assert abs(knn_accuracy(Y, y) - knn_accuracy(tsne_embedding, y)) < 0.02
    assert trustworthiness(X, Y, n_neighbors=10) > 0.985


def test_fit_transform_equals_fit_embedding(digits, umap_fit):
    X, _ = digits
    np.testing.assert_array_equal(ardr.UMAP(random_state=0).fit_transform(X), umap_fit.embedding_)


def test_graph_and_attributes(umap_fit, digits):
    X, _ = digits
    P = umap_fit.graph_
    assert P.shape == (len(X), len(X)) and abs(P - P.T).max() < 1e-6
    assert set(umap_fit.timings_) >= {"knn", "graph", "init", "optimize", "total"}
    assert umap_fit.n_epochs_ == 500 and umap_fit.n_features_in_ == 64
    assert umap_fit.a_ == pytest.approx(1.577, abs=0.01) and umap_fit.b_ == pytest.approx(0.895, abs=0.01)


def test_transform_places_new_points_without_moving_the_fit(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    test = rng.choice(len(X), 300, replace=False)
    train = np.setdiff1d(np.arange(len(X)), test)
    from sklearn.neighbors import KNeighborsClassifier

    for est in (ardr.UMAP(random_state=0), ardr.TSNE(random_state=0)):
        est.fit(X[train])
        before = est.embedding_.copy()
        Y_new = est.transform(X[test])
        np.testing.assert_array_equal(est.embedding_, before)
        assert Y_new.shape == (300, 2) and np.isfinite(Y_new).all()
        clf = KNeighborsClassifier(5).fit(est.embedding_, y[train])
        assert clf.score(Y_new, y[test]) > 0.93, type(est).__name__


def test_sklearn_conventions(digits):
    est = ardr.UMAP(n_neighbors=10, min_dist=0.3)
    assert est.get_params()["n_neighbors"] == 10
    est.set_params(n_neighbors=7)
    assert clone(est).get_params()["n_neighbors"] == 7
    t = ardr.TSNE(perplexity=20).set_params(max_iter=300)
    assert clone(t).get_params()["max_iter"] == 300
    X, _ = digits
    small = X[:300]
    assert t.fit(small) is t and t.n_epochs_ == 300
    assert ardr.ARDR(normalized=True, repulsion="exact", n_epochs=50, random_state=0).fit_transform(small).shape == (300, 2)


@pytest.mark.parametrize("init", ["spectral", "pca", "random"])
def test_inits_and_array_init(digits, init):
    X, _ = digits
    Y = ardr.UMAP(init=init, n_epochs=30, random_state=0).fit_transform(X[:400])
    assert np.isfinite(Y).all()
    start = np.random.default_rng(0).normal(size=(400, 2))
    assert np.isfinite(ardr.UMAP(init=start, n_epochs=10).fit_transform(X[:400])).all()


def test_cosine_metric_and_precomputed_knn_agree(digits):
    X, _ = digits
    fitted = ardr.UMAP(metric="cosine", random_state=0, n_epochs=50).fit(X[:500])
    knn = (fitted.knn_indices_, fitted.knn_dists_)
    again = ardr.UMAP(precomputed_knn=knn, random_state=0, n_epochs=50).fit(X[:500])
    np.testing.assert_array_equal(fitted.embedding_, again.embedding_)


def test_three_components_and_tsne_sampled_in_3d(digits):
    X, y = digits
    Y = ardr.UMAP(n_components=3, random_state=0, n_epochs=100).fit_transform(X[:600])
    assert Y.shape == (600, 3)
    Y = ardr.TSNE(n_components=1, random_state=0, max_iter=300).fit_transform(X[:600])
    assert Y.shape == (600, 1) and np.isfinite(Y).all()


def test_disconnected_graph_duplicates_and_constant_columns():
    rng = np.random.default_rng(0)
    # three far-apart clusters with duplicate rows and a constant column
    X = np.vstack([rng.normal(size=(60, 5)) + 100 * c for c in range(3)])
    X[:10] = X[10]
    X[:, 2] = 7.0
    for est in (ardr.UMAP(n_neighbors=10, random_state=0, n_epochs=100), ardr.TSNE(random_state=0, max_iter=300)):
        Y = est.fit_transform(X)
        assert np.isfinite(Y).all()
        # duplicates stay together
        assert np.ptp(Y[:11], axis=0).max() < 0.2 * np.ptp(Y, axis=0).max()


def test_all_rows_identical_gives_finite_output():
    X = np.ones((30, 4))
    assert np.isfinite(ardr.UMAP(n_neighbors=5, n_epochs=20, random_state=0).fit_transform(X)).all()
    assert np.isfinite(ardr.TSNE(perplexity=5, max_iter=100, random_state=0).fit_transform(X)).all()


_DETERMINISM = """
import sys, numpy as np, ardr
from sklearn.datasets import load_digits
X, _ = load_digits(return_X_y=True)
est = {"umap": ardr.UMAP(random_state=0, n_epochs=100),
       "umap-normalized": ardr.UMAP(random_state=0, normalized=True, n_epochs=200),
       "tsne": ardr.TSNE(random_state=0, max_iter=200)}[sys.argv[1]]
sys.stdout.write(est.fit_transform(X[:1000]).tobytes().hex())
"""


@pytest.mark.parametrize("method", ["umap", "umap-normalized", "tsne"])
def test_same_seed_same_bytes_on_one_and_two_threads(method):
    outputs = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        run = subprocess.run([sys.executable, "-c", _DETERMINISM, method], env=env, capture_output=True,
                             text=True, check=True, timeout=300)
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] and len(outputs[0]) > 1000

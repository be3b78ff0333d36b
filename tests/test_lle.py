"""Classical LLE against scikit-learn's LocallyLinearEmbedding (standard method)."""

import numpy as np
import pytest
from sklearn.manifold import LocallyLinearEmbedding

from ardr.cli import main
from ardr.methods.lle import LLE
from ardr.explain.metrics import procrustes_error


@pytest.fixture(scope="module")
def digits_fits(digits):
    """scikit-learn's and ardr's LLE of all of digits (k = 10, reg = 1e-3), fitted once."""
    X, _ = digits
    ref = LocallyLinearEmbedding(n_neighbors=10, reg=1e-3, n_components=2, method="standard",
                                 random_state=0).fit(X)
    mine = LLE(n_neighbors=10, reg=1e-3, random_state=0).fit(X)
    return X, ref, mine


def test_matches_sklearn_on_digits(digits_fits):
    _, ref, mine = digits_fits
    assert procrustes_error(ref.embedding_, mine.embedding_) < 1e-6
    assert mine.reconstruction_error_ == pytest.approx(ref.reconstruction_error_, rel=1e-4)


def test_dense_solver_matches_sklearn_dense():
    from sklearn.datasets import make_swiss_roll

    X = make_swiss_roll(300, random_state=0)[0]
    ref = LocallyLinearEmbedding(n_neighbors=10, reg=1e-2, n_components=3, eigen_solver="dense").fit(X)
    mine = LLE(n_neighbors=10, reg=1e-2, n_components=3, eigen_solver="dense").fit(X)
    assert procrustes_error(ref.embedding_, mine.embedding_) < 1e-6


def test_transform_matches_sklearn(digits_fits):
    from scipy.linalg import orthogonal_procrustes

    X, ref, mine = digits_fits
    new = X[:40] + np.random.default_rng(0).normal(scale=2.0, size=(40, X.shape[1]))
    A, B = ref.embedding_, mine.embedding_
    R, _ = orthogonal_procrustes(B - B.mean(0), A - A.mean(0))  # same embedding up to rotation/reflection
    mapped = (mine.transform(new) - B.mean(0)) @ R + A.mean(0)
    assert np.abs(mapped - ref.transform(new)).max() < 1e-6 * np.abs(A).max()


def test_embedding_is_orthonormal_and_centred(digits):
    Y = LLE(n_neighbors=10, random_state=0).fit_transform(digits[0][:500])
    assert np.allclose(Y.T @ Y, np.eye(2), atol=1e-8)
    assert np.abs(Y.mean(axis=0)).max() < 1e-6


@pytest.mark.parametrize("params, match", [
    ({"n_neighbors": 50}, "n_neighbors=50 must be smaller"),
    ({"n_neighbors": 0}, "n_neighbors must be >= 1"),
    ({"reg": -1.0}, "reg must be >= 0"),
    ({"n_components": 49}, "n_components=49 needs more than"),
    ({"eigen_solver": "lobpcg"}, "unknown eigen_solver"),
    ({"metric": "manhattan"}, "unknown metric"),
])
def test_bad_parameters(params, match):
    X = np.random.default_rng(0).normal(size=(50, 5))
    with pytest.raises(ValueError, match=match):
        LLE(**params).fit(X)


def test_bad_data():
    X = np.random.default_rng(0).normal(size=(50, 5))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LLE(n_neighbors=5).fit(X)
    est = LLE(n_neighbors=5).fit(np.random.default_rng(0).normal(size=(50, 5)))
    with pytest.raises(ValueError, match="3 features"):
        est.transform(np.zeros((2, 3)))


def test_embed_command(tmp_path):
    out = tmp_path / "lle"
    code = main(["embed", "--dataset", "digits", "--n-samples", "300", "--method", "lle", "--n-neighbors", "10",
                 "--reg", "0.001", "--out", str(out), "--quiet", "--no-metrics"])
    assert code == 0
    Y = np.load(out / "embedding.npy")
    assert Y.shape == (300, 2) and np.isfinite(Y).all()

"""Bad input gets a clear ValueError naming the problem."""

import numpy as np
import pytest

import ardr

GOOD = np.random.default_rng(0).normal(size=(40, 5))


@pytest.mark.parametrize("cls", [ardr.UMAP, ardr.TSNE])
@pytest.mark.parametrize(
    "X,match",
    [
        (np.where(np.eye(40, 5) > 0, np.nan, GOOD), "NaN or infinite"),
        (np.where(np.eye(40, 5) > 0, np.inf, GOOD), "NaN or infinite"),
        (np.empty((0, 5)), "empty"),
        (np.empty((5, 0)), "empty"),
        (GOOD[:1], "at least 2"),
        (GOOD[:, 0], "2-D"),
        (GOOD[None], "2-D"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric"),
        (np.full((10, 2), 1e300), "too large"),
        (GOOD.astype(complex), "real"),
    ],
)
def test_bad_data(cls, X, match):
    with pytest.raises(ValueError, match=match):
        cls(n_epochs=5) if cls is ardr.UMAP else cls(max_iter=5)
        cls().fit(X)


@pytest.mark.parametrize(
    "params,match",
    [
        (dict(n_components=0), "n_components"),
        (dict(metric="hamming2"), "unknown metric"),
        (dict(init="magic"), "unknown init"),
        (dict(n_neighbors=1), "n_neighbors"),
        (dict(n_neighbors=2.5), "n_neighbors"),
        (dict(min_dist=-1), "min_dist"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(negative_sample_rate=0), "negative_sample_rate"),
        (dict(n_epochs=0), "n_epochs"),
        (dict(init=np.zeros((3, 2))), "init array"),
    ],
)
def test_bad_umap_params(params, match):
    with pytest.raises(ValueError, match=match):
        ardr.UMAP(**params).fit(GOOD)


@pytest.mark.parametrize(
    "params,match",
    [
        (dict(perplexity=0), "perplexity"),
        (dict(repulsion="magic"), "unknown repulsion"),
        (dict(early_exaggeration=-1), "early_exaggeration"),
        (dict(n_components=3, repulsion="fft"), "fft"),
    ],
)
def test_bad_tsne_params(params, match):
    with pytest.raises(ValueError, match=match):
        ardr.TSNE(**params).fit(GOOD)


def test_too_many_neighbours_is_reduced_with_a_warning():
    with pytest.warns(UserWarning, match="n_neighbors"):
        Y = ardr.UMAP(n_neighbors=50, n_epochs=10, random_state=0).fit_transform(GOOD)
    assert np.isfinite(Y).all()
    with pytest.warns(UserWarning, match="perplexity"):
        Y = ardr.TSNE(perplexity=30, max_iter=50, random_state=0).fit_transform(GOOD)
    assert np.isfinite(Y).all()


def test_two_rows_work():
    Y = ardr.UMAP(n_epochs=10, random_state=0).fit_transform(GOOD[:2])
    assert Y.shape == (2, 2) and np.isfinite(Y).all()


def test_int_bool_float32_inputs():
    for X in (GOOD.astype(np.float32), (GOOD * 10).astype(int), GOOD > 0):
        assert np.isfinite(ardr.UMAP(n_neighbors=5, n_epochs=10, random_state=0).fit_transform(X)).all()


def test_transform_checks(digits):
    X, _ = digits
    est = ardr.UMAP(n_epochs=10, random_state=0).fit(X[:200])
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:5, :10])
    with pytest.raises(ValueError, match="NaN"):
        est.transform(np.full((3, 64), np.nan))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ardr.UMAP().transform(X[:5])

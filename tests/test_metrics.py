import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import rankdata
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as sk_trustworthiness
from sklearn.neighbors import NearestNeighbors

from ardr.explain import metrics


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data, data.target


@pytest.fixture(scope="module")
def digits_untied(digits):
    """Digits with a tiny seeded jitter, and its 2-D PCA projection.

    Raw digits are integers, so many input distances tie exactly; scikit-learn
    breaks those ties through an unstable argsort, which no other implementation
    can reproduce. A 1e-6 jitter removes every tie without changing the data.
    """
    X, _ = digits
    X = X + 1e-6 * np.random.default_rng(0).standard_normal(X.shape)
    return X, PCA(n_components=2, random_state=0).fit_transform(X)


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 10))
    Y = X[:, :2] + 0.5 * rng.standard_normal((3000, 2))
    return X, Y


def _rotation(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


@pytest.mark.parametrize("k", [5, 10, 30])
def test_trustworthiness_matches_sklearn(digits_untied, k):
    X, Y = digits_untied
    assert metrics.trustworthiness(X, Y, k) == pytest.approx(
        sk_trustworthiness(X, Y, n_neighbors=k), abs=1e-9
    )


def test_ties_get_the_lowest_rank(digits):
    """On raw (tied) digits the result is the 'min'-rank definition, >= scikit-learn's."""
    X, _ = digits
    Y = PCA(n_components=2, random_state=0).fit_transform(X)
    k = 10
    n = len(X)
    dist = cdist(X, X, "sqeuclidean")  # exact for integer pixels
    np.fill_diagonal(dist, np.inf)
    ranks = rankdata(dist, method="min", axis=1)
    nbrs = NearestNeighbors(n_neighbors=k).fit(Y).kneighbors(return_distance=False)
    penalty = np.maximum(ranks[np.arange(n)[:, None], nbrs] - k, 0).sum()
    expected = 1 - 2 * penalty / (n * k * (2 * n - 3 * k - 1))
    ours = metrics.trustworthiness(X, Y, k)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert ours >= sk_trustworthiness(X, Y, n_neighbors=k) - 1e-12
    assert ours == pytest.approx(sk_trustworthiness(X, Y, n_neighbors=k), abs=1e-3)


def test_continuity_is_swapped_trustworthiness(digits_untied):
    X, Y = digits_untied
    assert metrics.continuity(X, Y, 10) == metrics.trustworthiness(Y, X, 10)
    assert metrics.continuity(X, Y, 10) == pytest.approx(
        sk_trustworthiness(Y, X, n_neighbors=10), abs=1e-9
    )


def test_sampled_mode_estimates_exact(synthetic):
    X, Y = synthetic
    for fn in (metrics.trustworthiness, metrics.continuity, metrics.knn_overlap):
        exact = fn(X, Y, 10)
        sampled = fn(X, Y, 10, max_exact=100, n_queries=1000, random_state=3)
        assert sampled != exact  # really sampled
        assert abs(sampled - exact) < 0.01
    # With all points as queries the sampled code path is the exact one.
    assert metrics.trustworthiness(X, Y, 10, max_exact=100, n_queries=3000) == metrics.trustworthiness(
        X, Y, 10
    )


def test_knn_overlap(synthetic):
    X, Y = synthetic
    assert metrics.knn_overlap(X, X) == 1.0
    assert metrics.knn_overlap(Y, Y * 3.0 + 1.0) == 1.0
    shuffled = Y[np.random.default_rng(0).permutation(len(Y))]
    assert metrics.knn_overlap(X, shuffled) < 0.02
    assert 0.0 < metrics.knn_overlap(X, Y) < 1.0


def test_knn_accuracy(digits):
    X, y = digits
    assert metrics.knn_accuracy(X, y) > 0.95
    noise = np.random.default_rng(0).standard_normal((len(y), 2))
    assert metrics.knn_accuracy(noise, y) < 0.3


def test_procrustes_error():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((200, 3))
    B = 2.5 * A @ _rotation(3, 1) + np.array([4.0, -1.0, 7.0])
    B[:, 0] *= -1  # a reflection too
    assert metrics.procrustes_error(A, B) < 1e-12
    assert metrics.procrustes_error(B, A) < 1e-12
    assert metrics.procrustes_error(A, rng.standard_normal((200, 3))) > 0.5
    # Different widths mean zero-padding: a 2-D set vs itself embedded in 5-D.
    P = rng.standard_normal((50, 2))
    wide = np.hstack([P, np.zeros((50, 3))]) @ _rotation(5, 2)
    assert metrics.procrustes_error(P, wide) < 1e-12
    # Rank-deficient and degenerate inputs give numbers, never NaN.
    line = np.outer(np.arange(50.0), [1.0, 2.0])
    assert metrics.procrustes_error(line, 3 * line + 1) < 1e-12
    assert 0.0 <= metrics.procrustes_error(line, P) <= 1.0
    const = np.full((50, 2), 0.1)
    assert metrics.procrustes_error(const, const + 5) == 0.0
    assert metrics.procrustes_error(const, P) == 1.0


def test_distance_spearman(synthetic):
    X, Y = synthetic
    assert metrics.distance_spearman(X, X) == pytest.approx(1.0, abs=1e-12)
    assert metrics.distance_spearman(Y, 2 * Y @ _rotation(2, 0) + 3, n_pairs=5000) == pytest.approx(
        1.0, abs=1e-12
    )
    assert 0.2 < metrics.distance_spearman(X, Y, n_pairs=5000) < 1.0
    assert metrics.distance_spearman(X, np.zeros((len(X), 2))) == 0.0


def test_report(digits_untied, digits):
    X, Y = digits_untied
    y = digits[1]
    r = metrics.report(X, Y, labels=y)
    assert set(r) == {
        "n", "k", "sampled", "n_queries", "trustworthiness", "continuity",
        "knn_overlap", "distance_spearman", "knn_accuracy",
    }
    assert type(r["n"]) is int and type(r["k"]) is int and type(r["n_queries"]) is int
    assert type(r["sampled"]) is bool
    for key in ("trustworthiness", "continuity", "knn_overlap", "distance_spearman", "knn_accuracy"):
        assert type(r[key]) is float and 0.0 <= r[key] <= 1.0
    assert r["n"] == r["n_queries"] == len(X) and r["k"] == 10 and r["sampled"] is False
    assert r["trustworthiness"] == metrics.trustworthiness(X, Y, 10)
    assert r["continuity"] == metrics.continuity(X, Y, 10)
    assert r["knn_overlap"] == metrics.knn_overlap(X, Y, 10)
    assert r["knn_accuracy"] == metrics.knn_accuracy(Y, y)
    json.dumps(r)

    s = metrics.report(X, Y, max_exact=500, n_queries=300)
    assert "knn_accuracy" not in s
    assert s["sampled"] is True and s["n_queries"] == 300
    assert s["trustworthiness"] == metrics.trustworthiness(X, Y, 10, max_exact=500, n_queries=300)
    assert s["continuity"] == metrics.continuity(X, Y, 10, max_exact=500, n_queries=300)


def test_bad_inputs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4))
    Y = rng.standard_normal((20, 2))
    bad = Y.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.trustworthiness(X, bad)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        metrics.knn_overlap(bad, X, 3)
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.trustworthiness(X, Y[:-1], 3)
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.procrustes_error(X, Y[:-1])
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.distance_spearman(X, Y[:-1])
    with pytest.raises(ValueError, match="smaller than the number of points"):
        metrics.knn_overlap(X, Y, k=20)
    with pytest.raises(ValueError, match="n / 2"):
        metrics.trustworthiness(X, Y, k=10)
    with pytest.raises(ValueError, match="k must be >= 1"):
        metrics.continuity(X, Y, k=0)
    with pytest.raises(ValueError, match="labels"):
        metrics.knn_accuracy(Y, np.zeros(19))
    with pytest.raises(ValueError, match="labels"):
        metrics.report(X, Y, labels=np.zeros(21), k=3)
    with pytest.raises(ValueError, match="2-D"):
        metrics.trustworthiness(X[:, 0], Y[:, 0], 3)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.procrustes_error(X[:1], Y[:1])

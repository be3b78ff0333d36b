import numpy as np
import pytest

from ardr.graph import affinities
from ardr.graph.neighbors import check_precomputed, exact_knn, nearest_neighbors, nndescent_knn


def test_exact_knn_matches_sklearn(digits):
    from sklearn.neighbors import NearestNeighbors

    X, _ = digits
    Xj = X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape).astype(np.float32)  # no ties
    idx, dist = exact_knn(Xj, 10)
    ref_d, ref_i = NearestNeighbors(n_neighbors=11).fit(Xj).kneighbors(Xj)
    np.testing.assert_array_equal(idx, ref_i[:, 1:])
    np.testing.assert_allclose(dist, ref_d[:, 1:], rtol=1e-3, atol=1e-3)


def test_cosine_knn_and_zero_rows():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    X[5] = 0
    idx, dist = exact_knn(X, 5, metric="cosine")
    from sklearn.metrics.pairwise import cosine_distances

    D = cosine_distances(X)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_allclose(np.sort(D, axis=1)[:, :5][np.arange(200) != 5], dist[np.arange(200) != 5], atol=1e-5)
    assert np.allclose(dist[5], 1.0)


def test_nndescent_knn_recall(digits):
    X, _ = digits
    idx, _ = nndescent_knn(X, 10, random_state=0)
    ref, _ = exact_knn(X, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, ref)])
    assert recall > 0.95
    assert not (idx == np.arange(len(X))[:, None]).any()


def test_precomputed_knn_with_self_column(digits):
    X, _ = digits
    idx, dist = exact_knn(X, 14)
    with_self = (np.hstack([np.arange(len(X))[:, None], idx]), np.hstack([np.zeros((len(X), 1)), dist]))
    i2, d2 = check_precomputed(with_self, len(X), 14)
    np.testing.assert_array_equal(i2, idx)
    with pytest.raises(ValueError, match="neighbours per row"):
        check_precomputed((idx, dist), len(X), 20)
    with pytest.raises(ValueError, match="rows"):
        check_precomputed((idx[:5], dist[:5]), len(X), 5)


def test_umap_graph_bandwidths_and_union(digits):
    X, _ = digits
    idx, dist = exact_knn(X, 14)
    V = affinities.membership_strengths(dist, 15)
    # each point's directed weights sum to log2(n_neighbors) (UMAP's bandwidth target)
    np.testing.assert_allclose(V.sum(axis=1), np.log2(15), rtol=1e-3)
    assert np.all(V.max(axis=1) == 1.0)  # the nearest neighbour has weight 1
    P = affinities.umap_graph(idx, dist, 15)
    assert abs(P - P.T).max() < 1e-6
    assert P.data.min() > 0 and P.data.max() <= 1.0
    assert P.diagonal().sum() == 0


def test_tsne_affinities_match_sklearn(digits):
    import scipy.sparse as sp
    from sklearn.manifold._t_sne import _joint_probabilities_nn

    X, _ = digits
    idx, dist = exact_knn(X, 90)
    P = affinities.tsne_affinities(idx, dist, 30.0)
    rows = np.repeat(np.arange(len(X)), 90)
    D = sp.csr_matrix(((dist.astype(np.float64) ** 2).ravel(), (rows, idx.ravel())), shape=(len(X), len(X)))
    ref = _joint_probabilities_nn(D, 30.0, 0)
    assert abs(P.sum() - 1) < 1e-5
    assert abs(P - ref).max() < 1e-6


def test_nearest_neighbors_rejects_bad_requests():
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="neighbours need"):
        nearest_neighbors(X, 10)
    with pytest.raises(ValueError, match="unknown metric"):
        nearest_neighbors(X, 3, metric="hamming2")


def test_exact_knn_is_a_prefix_under_ties(digits):
    X, _ = digits  # raw digits: many exactly tied distances
    small, _ = exact_knn(X, 14)
    large, _ = exact_knn(X, 90)
    np.testing.assert_array_equal(small, large[:, :14])

"""Groups found in the input (ardr.explain.clustering): known-truth cases, determinism,
disconnected graphs, duplicates, bad input."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from ardr.explain.clustering import by_size, find_groups, leiden, merge_small_groups, modularity
from ardr.graph.affinities import umap_graph
from ardr.graph.neighbors import exact_knn


def _knn(X, k=15):
    return exact_knn(np.asarray(X, dtype=np.float32), k)


def _six_clusters(n_per=150, dim=20, seed=0):
    """Issue 11's case, smaller: pairs (0, 1) and (2, 3) 4 sigma apart, the rest >= 30
    sigma apart, cluster 5 five times wider."""
    centres = np.zeros((6, dim))
    centres[[1, 3], 0], centres[[2, 3], 1], centres[4, 2], centres[5, 3] = 4.0, 30.0, 30.0, 60.0
    spread = np.repeat([1.0, 5.0], [5, 1])[:, None, None]
    X = centres[:, None, :] + spread * np.random.default_rng(seed).standard_normal((6, n_per, dim))
    return X.reshape(-1, dim), np.repeat(np.arange(6), n_per)


def test_six_clusters_with_close_pairs_and_a_wide_one_are_found():
    X, y = _six_clusters()
    labels, description = find_groups(*_knn(X))
    assert labels.dtype == np.int64 and labels.shape == y.shape
    assert labels.max() + 1 == 6
    assert adjusted_rand_score(y, labels) > 0.9
    assert "Leiden" in description and "resolution 0.5" in description and "15-nearest" in description


def test_digits_groups_agree_with_the_classes():
    """Measured ARI 0.91-0.94 (benchmarks/clustering.py); the modularity found beats the
    modularity of the true classes on the same graph."""
    from ardr.datasets import load

    X, y = load("digits")
    indices, distances = _knn(X)
    labels, _ = find_groups(indices, distances)
    assert adjusted_rand_score(y, labels) > 0.85
    assert 8 <= labels.max() + 1 <= 16
    graph = umap_graph(indices, distances, 16)
    assert modularity(graph, labels, 0.5) > modularity(graph, y, 0.5)


def test_one_high_dimensional_blob_is_not_cut_into_many_groups():
    """Resolution 0.5: one or two groups (ten seeds of the benchmark); 16-19 at 1.0."""
    X = np.random.default_rng(1).standard_normal((1500, 20))
    labels, _ = find_groups(*_knn(X))
    assert labels.max() + 1 <= 2


def test_each_connected_component_gets_its_own_groups():
    rng = np.random.default_rng(2)
    centres = 100.0 * np.eye(4, 10)
    X = np.vstack([c + rng.standard_normal((80, 10)) for c in centres])
    y = np.repeat(np.arange(4), 80)
    labels, _ = find_groups(*_knn(X))
    assert adjusted_rand_score(y, labels) == 1.0


def test_a_component_smaller_than_the_minimum_size_stays_a_group():
    # k = 2: three far-away points form their own component (3 < 5 points, nothing to merge into)
    rng = np.random.default_rng(3)
    X = np.vstack([rng.standard_normal((200, 5)), 1000.0 + rng.standard_normal((3, 5))])
    labels, _ = find_groups(*_knn(X, k=2))
    assert len(np.unique(labels[-3:])) == 1
    assert not np.isin(labels[-3:], labels[:-3]).any()


def test_labels_are_numbered_by_decreasing_size_ties_by_first_member():
    assert by_size(np.array([7, 3, 3, 7, 5, 5, 5])).tolist() == [1, 2, 2, 1, 0, 0, 0]
    assert by_size(np.array([4, 9, 9, 4])).tolist() == [0, 1, 1, 0]
    X, _ = _six_clusters(seed=4)
    labels, _ = find_groups(*_knn(X))
    sizes = np.bincount(labels)
    assert (np.diff(sizes) <= 0).all()


def test_small_groups_merge_into_their_most_connected_neighbour():
    # groups A (0-9), B (10-19), C (20, 21): C has 1 edge to A and 3 to B; D (22, 23) is isolated
    edges = [(i, i + 1) for i in range(9)] + [(i, i + 1) for i in range(10, 19)] + [(20, 21)]
    edges += [(20, 0), (20, 10), (21, 11), (21, 12), (22, 23)]
    rows, cols = np.array(edges).T
    graph = sp.coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(24, 24)).tocsr()
    graph = graph + graph.T
    labels = np.repeat([0, 1, 2, 3], [10, 10, 2, 2])
    merged = merge_small_groups(graph, labels, min_size=5)
    assert (merged[20:22] == merged[10]).all()
    assert (merged[:10] == merged[0]).all() and merged[0] != merged[10]
    assert merged[22] == merged[23] and merged[22] not in merged[:22]


def test_same_labels_for_a_seed_on_one_and_two_threads():
    from ardr.datasets import load

    X, _ = load("digits")
    knn = _knn(X)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one, _ = find_groups(*knn, random_state=7)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two, _ = find_groups(*knn, random_state=7)
    finally:
        numba.set_num_threads(previous)
    assert np.array_equal(one, two)
    again, description = find_groups(*knn, random_state=7)
    assert np.array_equal(one, again) and "seed 7" in description


def test_duplicate_points_zero_distances():
    rng = np.random.default_rng(5)
    X = np.vstack([np.repeat(rng.standard_normal((30, 5)), 10, axis=0), 50.0 + rng.standard_normal((300, 5))])
    labels, _ = find_groups(*_knn(X))
    assert labels.shape == (600,)
    # no group mixes the duplicated cloud and the far cloud, and no point is lost
    assert not np.isin(labels[:300], labels[300:]).any()
    same = np.zeros((40, 3), dtype=np.float32)  # every point identical
    labels, _ = find_groups(*_knn(same, k=10))
    assert labels.tolist() == [0] * 40


def test_leiden_on_an_empty_graph_leaves_every_node_alone():
    assert leiden(sp.csr_matrix((4, 4))).tolist() == [0, 1, 2, 3]


def test_three_points_are_enough():
    labels, _ = find_groups(np.array([[1, 2], [0, 2], [0, 1]]), np.ones((3, 2)))
    assert labels.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "indices, distances, kwargs, message",
    [
        (np.zeros((5, 2), dtype=int), np.ones((5, 3)), {}, "one shape"),
        (np.array([[1], [0]]), np.ones((2, 1)), {}, "at least 3 points"),
        (np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3]]), np.ones((3, 3)), {}, "only 3 points"),
        (np.array([[1.0], [2.0], [0.0]]), np.ones((3, 1)), {}, "integers"),
        (np.array([[1], [5], [0]]), np.ones((3, 1)), {}, r"\[0, 3\)"),
        (np.array([[1], [1], [0]]), np.ones((3, 1)), {}, "row 1 lists the point itself"),
        (np.array([[1], [2], [0]]), np.array([[1.0], [np.nan], [1.0]]), {}, "finite and non-negative"),
        (np.array([[1], [2], [0]]), np.array([[1.0], [-1.0], [1.0]]), {}, "finite and non-negative"),
        (np.array([[1], [2], [0]]), np.array([["a"], ["b"], ["c"]]), {}, "real numbers"),
        (np.array([[1], [2], [0]]), np.ones((3, 1)), {"resolution": 0}, "resolution must be a positive"),
        (np.array([[1], [2], [0]]), np.ones((3, 1)), {"resolution": float("nan")}, "resolution must be a positive"),
        (np.array([[1], [2], [0]]), np.ones((3, 1)), {"resolution": "high"}, "resolution must be a positive"),
        (np.array([[1], [2], [0]]), np.ones((3, 1)), {"random_state": -1}, "random_state"),
    ],
)
def test_bad_input_is_a_clear_value_error(indices, distances, kwargs, message):
    with pytest.raises(ValueError, match=message):
        find_groups(indices, distances, **kwargs)

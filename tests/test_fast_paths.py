"""The speed machinery checked against plain references: branch-free powers and kernel
coefficients, the inverted-file neighbour search, the batch-contiguous edge layout and
the cache-friendly point order."""

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from ardr.engine.numba import kernels
from ardr.graph import ordering
from ardr.engine.numba.fastmath import fast_exp, fast_log, fast_pow
from ardr.engine.numba.graph import SampledGraphForces, _split_batches
from ardr.graph.ivf import ivf_knn
from ardr.graph.neighbors import exact_knn, inverted_file_knn, nearest_neighbors


@numba.njit(error_model="numpy")
def _apply_pow(t, b):
    out = np.empty_like(t)
    for i in range(t.size):
        out[i] = fast_pow(t[i], b)
    return out


@numba.njit(error_model="numpy")
def _apply_log_exp(t, y):
    logs = np.empty_like(t)
    exps = np.empty_like(y)
    for i in range(t.size):
        logs[i] = fast_log(t[i])
        exps[i] = fast_exp(y[i])
    return logs, exps


@numba.njit(error_model="numpy")
def _coefficients(t, a, b):
    out = np.empty((4, t.size))
    for i in range(t.size):
        out[0, i] = kernels.q_of_t(t[i], a, b)
        out[1, i] = kernels.attraction_coefficient(t[i], a, b)
        out[2, i] = kernels.umap_repulsion_coefficient(t[i], a, b)
        out[3, i] = kernels.normalized_repulsion_coefficient(t[i], a, b)
    return out


@pytest.mark.parametrize("b", [0.5, 0.8946, 1.0, 1.5])
def test_fast_pow_relative_error(b):
    rng = np.random.default_rng(0)
    # t^b inside [1e-300, 1e300] (below ~1e-307 the result is clamped, not subnormal)
    t = np.exp(rng.uniform(np.log(1e-300) / max(b, 1.0), np.log(1e300) / max(b, 1.0), 200_000))
    ref = t**b
    assert np.max(np.abs(_apply_pow(t, b) / ref - 1.0)) < 1e-11


def test_fast_log_and_exp():
    rng = np.random.default_rng(1)
    t = np.exp(rng.uniform(-690, 690, 100_000))
    y = rng.uniform(-700, 700, 100_000)
    logs, exps = _apply_log_exp(t, y)
    # absolute error is what a power inherits: t^b = exp(b log t)
    np.testing.assert_allclose(logs, np.log(t), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(exps, np.exp(y), rtol=1e-12)


@pytest.mark.parametrize("a, b", [(1.577, 0.8951), (1.0, 1.0), (0.3, 1.6)])
def test_kernel_coefficients_match_their_formulas(a, b):
    t = np.concatenate([[0.0, 1e-12], np.exp(np.random.default_rng(2).uniform(-20, 20, 5000))])
    got = _coefficients(t, a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        tb = t**b
        q = 1.0 / (1.0 + a * tb)
        ref = np.stack([q,
                        np.where(t > 0, 2 * a * b * tb / (t * (1 + a * tb)), 0.0),
                        np.where(t > 0, 2 * b / ((kernels.REPULSION_EPS + t) * (1 + a * tb)), 0.0),
                        np.where(t > 0, 2 * a * b * (tb / t) * q * q, 2 * a * b if b == 1 else 0.0)])
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


def test_ivf_recall_against_exact(digits):
    X, _ = digits
    X = X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape).astype(np.float32)  # no ties
    ref, ref_d = exact_knn(X, 10)
    idx, keys = ivf_knn(np.asarray(X, dtype=np.float32), 10, n_probe=6, cell_size=64)  # 28 cells
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, ref)])
    assert recall > 0.9
    assert not (idx == np.arange(len(X))[:, None]).any()
    assert (np.diff(keys, axis=1) >= 0).all()
    # where a row found the exact neighbours, it reports their distances
    same = (idx == ref).all(axis=1)
    assert same.mean() > 0.5
    np.testing.assert_allclose(np.sqrt(keys[same]), ref_d[same], rtol=1e-3, atol=1e-2)


def test_ivf_with_all_probes_is_exact(digits):
    X, _ = digits
    X = np.asarray(X + np.random.default_rng(3).normal(scale=1e-3, size=X.shape), dtype=np.float32)
    ref, _ = exact_knn(X, 7)
    idx, _ = ivf_knn(X, 7, n_probe=1000, cell_size=100)
    np.testing.assert_array_equal(idx, ref)


def test_approximate_method_is_the_ivf_search_and_handles_cosine():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 12)).astype(np.float32)
    X[7] = 0.0  # no direction: cosine distance 1 to every other row
    idx, dist = nearest_neighbors(X, 8, metric="cosine", method="approximate")
    np.testing.assert_allclose(dist[7], 1.0, atol=1e-6)
    np.testing.assert_array_equal((idx, dist)[0], inverted_file_knn(X, 8, metric="cosine")[0])
    from sklearn.metrics.pairwise import cosine_distances

    D = cosine_distances(X)
    np.testing.assert_allclose(dist, np.take_along_axis(D, idx.astype(np.int64), axis=1), atol=1e-5)
    with pytest.raises(ValueError, match="unknown neighbour method"):
        nearest_neighbors(X, 8, method="annoy")


def test_ivf_same_bytes_on_one_and_two_threads():
    code = textwrap.dedent("""
        import hashlib, numpy as np
        from ardr.graph.ivf import ivf_knn
        X = np.random.default_rng(5).normal(size=(3000, 20)).astype(np.float32)
        X[100:200] = X[0]  # duplicates: ties broken by index
        idx, keys = ivf_knn(X, 12, n_probe=5, cell_size=100)
        print(hashlib.sha256(idx.tobytes() + keys.tobytes()).hexdigest())
    """)
    digests = set()
    for threads in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env=dict(os.environ, NUMBA_NUM_THREADS=threads))
        digests.add(run.stdout.strip())
    assert len(digests) == 1


def test_split_batches_keep_rows_and_put_an_edge_and_its_mirror_in_one_batch():
    G = sp.random(50, 50, density=0.3, random_state=7, format="csr", dtype=np.float32)
    G = (G + G.T).tocsr()
    G.sort_indices()
    indptr, indices, weights = _split_batches(G, 4)
    batch_of = {}
    for b in range(4):
        for i in range(50):
            row = slice(indptr[b, i], indptr[b, i + 1])
            for j, w in zip(indices[row], weights[row]):
                assert w == G[i, j]
                batch_of[i, j] = b
    assert len(batch_of) == G.nnz  # every edge in exactly one batch
    assert all(batch_of[j, i] == b for (i, j), b in batch_of.items())
    for i in range(50):  # within a batch a row keeps its CSR order
        for b in range(4):
            assert np.all(np.diff(indices[indptr[b, i]:indptr[b, i + 1]]) > 0)


def test_sampled_forces_visit_every_edge_once_per_epoch_when_weights_are_equal():
    """With equal weights every edge is due every epoch from epoch 1 on (as in umap-learn):
    over the n_batches steps of an epoch each point is pulled along each edge exactly once."""
    G = sp.csr_matrix(np.ones((6, 6)) - np.eye(6))
    law = SampledGraphForces(G, 10, 1.0, 1.0, negative_rate=1, n_batches=3)
    Y = np.random.default_rng(8).normal(size=(6, 2))
    for step in range(3):
        assert not law.direction(Y, step).any()  # epoch 0: nothing due yet
    for epoch in (1, 2):
        for step in range(3 * epoch, 3 * epoch + 3):
            assert law.direction(Y, step).any()
        assert (law.next_sample == epoch + 1.0).all()


def test_locality_order_is_a_permutation_that_narrows_the_band():
    n = 400
    band = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="csr")
    shuffle = np.random.default_rng(9).permutation(n)
    scrambled = ordering.permute_graph(band, shuffle)
    order = ordering.locality_order(scrambled)
    assert np.array_equal(np.sort(order), np.arange(n))
    restored = ordering.permute_graph(scrambled, order).tocoo()
    assert np.abs(restored.row - restored.col).max() == 1  # a path graph again
    coo = scrambled.tocoo()
    assert np.abs(coo.row - coo.col).max() > 100
    np.testing.assert_array_equal(ordering.permute_graph(scrambled, order).toarray(),
                                  scrambled.toarray()[order][:, order])

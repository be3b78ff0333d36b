"""The paths that let 10M points fit on one machine, exercised at small n: memmap input
without a copy, blocked checks, the capped IVF cell count, the edge-batch counting sort,
and progress bars."""

import numpy as np
import pytest
import scipy.sparse as sp

import ardr
from ardr._validation import check_data, count_non_finite
from ardr.engine.numba.graph import _split_batches
from ardr.engine.numba.rng import _GOLDEN, _M1, _M2
from ardr.graph import ivf
from ardr.graph.neighbors import exact_knn


def _clusters(n, d=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(6, d))
    return (centres[rng.integers(0, 6, n)] + rng.normal(size=(n, d))).astype(np.float32)


def test_a_memmap_is_not_copied_and_embeds_as_the_array_does(tmp_path):
    X = _clusters(400)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert np.shares_memory(check_data(mapped), mapped)  # validation reads it in place
    a = ardr.UMAP(random_state=0, n_epochs=30).fit(mapped).embedding_
    b = ardr.UMAP(random_state=0, n_epochs=30).fit(X).embedding_
    assert np.array_equal(a, b)


def test_non_finite_values_are_counted_block_by_block():
    X = np.zeros((1000, 3), dtype=np.float32)
    X[[5, 500, 999], [0, 1, 2]] = [np.nan, np.inf, -np.inf]
    assert count_non_finite(X, block_bytes=64) == 3
    with pytest.raises(ValueError, match="3 NaN or infinite"):
        check_data(X)


def test_capped_cell_count_keeps_the_recall(monkeypatch):
    """Above MAX_CELLS cells the cells grow (10M rows); at small n with a tiny cap the
    measured probes still reach the target recall, deterministically."""
    X = _clusters(3000, d=10, seed=1)
    monkeypatch.setattr(ivf, "MAX_CELLS", 8)
    assert ivf._Cells(X, ivf.CELL_SIZE, 0).n_cells == 8  # 12 uncapped (3000 / 256): cells of 375 rows
    idx, _ = ivf.ivf_knn(X, 10, random_state=0)
    again, _ = ivf.ivf_knn(X, 10, random_state=0)
    truth, _ = exact_knn(X, 10)
    recall = np.mean([len(set(a) & set(t)) / 10 for a, t in zip(idx, truth)])
    assert recall >= ivf.TARGET_RECALL - 0.01
    assert np.array_equal(idx, again)


def _split_by_sorting(graph, n_batches):
    """The reference: lexsort by (batch, row) with the pair hash on whole arrays."""
    indptr = graph.indptr.astype(np.int64)
    n = graph.shape[0]
    row = np.repeat(np.arange(n), np.diff(indptr)).astype(np.uint64)
    col = graph.indices.astype(np.uint64)
    lo, hi = np.minimum(row, col), np.maximum(row, col)
    with np.errstate(over="ignore"):
        z = lo * _GOLDEN ^ hi
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z ^= z >> np.uint64(31)
    batch = (z % np.uint64(n_batches)).astype(np.int64)
    order = np.lexsort((row, batch))
    counts = np.bincount(batch * n + row.astype(np.int64), minlength=n_batches * n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return (np.stack([offsets[b * n:(b + 1) * n + 1] for b in range(n_batches)]),
            graph.indices[order], graph.data.astype(np.float64)[order])


def test_edge_batches_by_counting_sort_equal_the_sorted_split():
    G = sp.random(300, 300, density=0.05, random_state=3, format="csr", dtype=np.float32)
    G = (G + G.T).tocsr()
    G.sort_indices()
    for got, want in zip(_split_batches(G, 4), _split_by_sorting(G, 4)):
        assert np.array_equal(got, want)


def test_verbose_shows_a_bar_for_the_knn_the_init_and_the_optimizer(capsys):
    X = _clusters(600)
    ardr.UMAP(random_state=0, n_epochs=5, verbose=True, knn_method="approximate").fit(X)
    err = capsys.readouterr().err
    for stage in ("kNN search", "spectral init", "optimize"):
        assert stage in err
    ardr.UMAP(random_state=0, n_epochs=5, knn_method="approximate").fit(X)
    assert capsys.readouterr().err == ""

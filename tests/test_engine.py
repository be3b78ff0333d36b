"""The engine's pieces against exact references: gradients, repulsion estimators, RNG."""

import numpy as np
import pytest
import scipy.sparse as sp

from ardr.engine.numba.graph import NormalizedForces, SampledGraphForces
from ardr.engine.numba.repulsion import FFT, Exact, Sampled
from ardr.engine.optimize import Schedule, optimize


def _random_graph(n, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.random((n, n))
    P = P + P.T
    np.fill_diagonal(P, 0)
    P[P < 1.2] = 0
    return P / P.sum()


def _kl(P, Y, a=1.0, b=1.0):
    d2 = ((Y[:, None] - Y[None]) ** 2).sum(-1)
    W = 1 / (1 + a * d2**b)
    np.fill_diagonal(W, 0)
    Q = W / W.sum()
    m = P > 0
    return (P[m] * np.log(P[m] / Q[m])).sum()


@pytest.mark.parametrize("a,b", [(1.0, 1.0), (1.577, 0.895)])
def test_normalized_direction_is_minus_kl_gradient_over_4(a, b):
    n = 25
    P = _random_graph(n)
    Y = np.random.default_rng(1).normal(size=(n, 2))
    h = 1e-6
    grad = np.zeros_like(Y)
    for i in range(n):
        for d in range(2):
            Yp, Ym = Y.copy(), Y.copy()
            Yp[i, d] += h
            Ym[i, d] -= h
            grad[i, d] = (_kl(P, Yp, a, b) - _kl(P, Ym, a, b)) / (2 * h)
    F = NormalizedForces(sp.csr_matrix(P), a, b, Exact()).direction(Y, 0)
    np.testing.assert_allclose(F, -grad / 4, atol=1e-8 * np.abs(grad).max() + 1e-10, rtol=1e-5)


@pytest.mark.parametrize("scale,box,tolerance", [(1e-4, 1.0, 1e-6), (1.0, 1.0, 1e-3), (30.0, 1.0, 0.05), (30.0, 0.5, 0.01)])
def test_fft_repulsion_matches_exact(scale, box, tolerance):
    """FIt-SNE's accuracy: boxes of one unit with 3 nodes give a few percent error on the
    repulsion of a sparse layout (Z stays within 1e-3); smaller boxes buy accuracy."""
    Y = np.random.default_rng(2).normal(size=(800, 2)) * scale
    R_exact, Z_exact = Exact()(Y, Y, 1.0, 1.0, 0, True)
    R_fft, Z_fft = FFT(box_size=box)(Y, Y, 1.0, 1.0, 0, True)
    assert abs(Z_fft - Z_exact) / Z_exact < 1e-3
    assert np.linalg.norm(R_fft - R_exact) / np.linalg.norm(R_exact) < tolerance


def test_fft_repulsion_with_separate_tail_and_1d():
    rng = np.random.default_rng(3)
    head, tail = rng.normal(size=(50, 2)) * 5, rng.normal(size=(300, 2)) * 5
    R_exact, Z_exact = Exact()(head, tail, 1.0, 1.0, 0, False)
    R_fft, Z_fft = FFT()(head, tail, 1.0, 1.0, 0, False)
    assert abs(Z_fft - Z_exact) / Z_exact < 1e-3
    assert np.linalg.norm(R_fft - R_exact) / np.linalg.norm(R_exact) < 0.02
    line = rng.normal(size=(200, 1)) * 5
    R1, Z1 = FFT()(line, line, 1.0, 1.0, 0, True)
    R1e, Z1e = Exact()(line, line, 1.0, 1.0, 0, True)
    assert R1.shape == (200, 1) and abs(Z1 - Z1e) / Z1e < 1e-3


def test_sampled_repulsion_is_unbiased():
    Y = np.random.default_rng(4).normal(size=(300, 2)) * 3
    R_exact, Z_exact = Exact()(Y, Y, 1.0, 1.0, 0, True)
    est = Sampled(50, seed=7)
    draws = [est(Y, Y, 1.0, 1.0, epoch, True) for epoch in range(200)]
    Z_mean = np.mean([z for _, z in draws])
    R_mean = np.mean([r for r, _ in draws], axis=0)
    assert abs(Z_mean - Z_exact) / Z_exact < 0.01
    assert np.abs(R_mean - R_exact).mean() / np.abs(R_exact).mean() < 0.1


def test_umap_forces_pull_edges_together_and_do_not_race():
    n = 200
    rng = np.random.default_rng(5)
    P = sp.random(n, n, density=0.05, random_state=6, format="csr")
    P = ((P + P.T) / 2).tocsr()
    Y0 = rng.uniform(0, 10, size=(n, 2))
    one = SampledGraphForces(P, 50, 1.577, 0.895, seed=3).direction(Y0.copy(), 0).copy()
    two = SampledGraphForces(P, 50, 1.577, 0.895, seed=3).direction(Y0.copy(), 0)
    np.testing.assert_array_equal(one, two)
    assert np.abs(one).max() <= 4.0 * (2 * P.getnnz(axis=1).max() + 5 * P.getnnz(axis=1).max())
    # with only attraction-worthy edges and no sampling noise, energy of edges decreases
    law = SampledGraphForces(P, 50, 1.577, 0.895, seed=3, negative_rate=1)
    Y = Y0.copy()
    rows, cols = P.nonzero()
    before = np.linalg.norm(Y[rows] - Y[cols], axis=1).mean()
    optimize(Y, law, Schedule(n_epochs=50, learning_rate=1.0, decay="linear"))
    after = np.linalg.norm(Y[rows] - Y[cols], axis=1).mean()
    assert after < before


def _body_and_far_pair(n_body, gap, seed):
    """A ring-shaped body of n_body points and, 300 away, a close pair (a, b) joined by a
    strong edge and to the body by weak ones; a's and b's rows differ in length, so the
    pair edge sits at different positions in the two rows."""
    rng = np.random.default_rng(seed)
    Y = np.vstack([rng.uniform(0, 5, (n_body, 2)), [[300.0, 0.0], [300.0 + gap, 0.0]]])
    a, b = n_body, n_body + 1
    edges = [(i, (i + j) % n_body, 1.0) for i in range(n_body) for j in (1, 2, 3)]
    edges += [(a, b, 1.0), (a, 0, 0.2), (a, 1, 0.2), (a, 2, 0.2), (b, 3, 0.2), (b, 4, 0.2)]
    i, j, w = map(np.array, zip(*edges))
    G = sp.csr_matrix((np.r_[w, w], (np.r_[i, j], np.r_[j, i])), shape=(n_body + 2,) * 2)
    G.sort_indices()
    return G, Y, [a, b]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_umap_pulls_move_both_ends_at_once_so_a_far_pair_does_not_walk_off(seed):
    """Regression (issue 15: GloVe points flung 9x beyond the body): when an edge pulled
    its two ends in different steps of an epoch, a close pair far from the body
    leapfrogged (one end overshoots the other, which overshoots back) and walked off:
    12 to 75 units in 100 epochs. Pulled together, equal and opposite, its midpoint stays
    put (< 3; the weak pull of the body 300 away is all that moves it)."""
    G, Y, pair = _body_and_far_pair(300, 0.4, seed)
    law = SampledGraphForces(G, 100, 1.577, 0.895, seed=seed, n_batches=4)
    before = Y[pair].mean(axis=0)
    optimize(Y, law, Schedule(n_epochs=400, learning_rate=1.0, decay="linear"))
    assert np.linalg.norm(Y[pair].mean(axis=0) - before) < 5.0


def test_optimizer_momentum_and_gains_descend_a_quadratic():
    class Quadratic:
        def direction(self, Y, epoch):
            return -Y

    Y = np.random.default_rng(0).normal(size=(10, 2))
    optimize(Y, Quadratic(), Schedule(n_epochs=200, learning_rate=0.1, momentum=0.5, gains=True))
    assert np.abs(Y).max() < 1e-6


def test_callbacks_can_stop_early():
    class Zero:
        def direction(self, Y, epoch):
            return np.zeros_like(Y)

    seen = []
    ran = optimize(np.zeros((3, 2)), Zero(), Schedule(n_epochs=100),
                   callbacks=[lambda e, Y: seen.append(e) or e == 9])
    assert ran == 10 and seen[-1] == 9


def test_counter_rng_is_uniform_and_keyed():
    import numba

    from ardr.engine.numba.rng import draw_index, draw_uniform, stream_key

    @numba.njit
    def sample(seed, epoch, point, count, n):
        key = stream_key(seed, epoch, point)
        out = np.empty(count, dtype=np.int64)
        u = np.empty(count)
        for c in range(count):
            out[c] = draw_index(key, c, n)
            u[c] = draw_uniform(key, c)
        return out, u

    idx, u = sample(1, 2, 3, 100_000, 10)
    counts = np.bincount(idx, minlength=10)
    assert counts.min() > 9_500 and counts.max() < 10_500
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    assert not np.array_equal(sample(1, 2, 4, 100, 10)[0], idx[:100])
    np.testing.assert_array_equal(sample(1, 2, 3, 100, 10)[0], idx[:100])


def test_tsne_reports_its_kl_divergence():
    import ardr

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(60, 5)) + 6 * c for c in range(3)])
    # the default schedule: after 300 iterations (50 past early exaggeration) this
    # 180-point run still wanders, and rounding-level changes to the force (1e-17) moved
    # its KL between 1.15 and 1.36; after 750 both give 0.50
    est = ardr.TSNE(perplexity=10, random_state=0).fit(X)
    Y = est.embedding_.astype(np.float64)
    P = est.graph_.toarray().astype(np.float64)
    assert est.kl_divergence_ == pytest.approx(_kl(P / P.sum(), Y), rel=1e-5)
    start = ardr.TSNE(perplexity=10, random_state=0, max_iter=1).fit(X)
    assert est.kl_divergence_ < 0.5 * start.kl_divergence_


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("cap", [None, 16.0, 0.5])
def test_fused_plain_step_moves_exactly_as_the_numpy_sequence(parallel, cap, monkeypatch):
    """UMAP's step (no momentum, no gains) runs as one compiled pass; it must give the
    bytes of the general numpy path, and refuse a non-finite force without moving."""
    from ardr.engine.arrays import NUMPY
    from ardr.engine.numba import step as fused
    from ardr.engine.optimize import _momentum_step

    n = 20_000
    monkeypatch.setattr(fused, "PARALLEL_MIN_ROWS", n if parallel else n + 1)
    rng = np.random.default_rng(n)
    F = rng.normal(size=(n, 2)) * rng.exponential(5.0, size=(n, 1))
    Y, step = rng.normal(size=(n, 2)), np.zeros((n, 2))
    Y_ref, step_ref = Y.copy(), step.copy()
    assert NUMPY.plain_step(Y, F, step, 0.73, cap)
    assert _momentum_step(NUMPY, Y_ref, F, step_ref, None, 0.73, 0.0, 0.01, cap)
    assert np.array_equal(Y, Y_ref) and np.array_equal(step, step_ref)
    F[n // 2, 1] = np.nan
    before = Y.copy()
    assert not NUMPY.plain_step(Y, F, step, 0.73, cap)
    assert np.array_equal(Y, before)



@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("mu, cap", [(0.5, 5.0), (0.0, None), (0.8, 0.3)])
def test_fused_momentum_step_moves_exactly_as_the_numpy_sequence(parallel, mu, cap, monkeypatch):
    """tSNE's step (momentum, gains, cap) runs as one compiled pass on numpy; it must give
    the bytes of the general path (which torch runs), gains included, and refuse a
    non-finite force without moving."""
    from ardr.engine.arrays import NUMPY
    from ardr.engine.numba import step as fused
    from ardr.engine.optimize import _momentum_step

    n = 20_000
    monkeypatch.setattr(fused, "MOMENTUM_PARALLEL_MIN_ROWS", n if parallel else n + 1)
    rng = np.random.default_rng(5)
    F = rng.normal(size=(n, 2)) * rng.exponential(5.0, size=(n, 1))
    F[::5] = 0.0
    step = rng.normal(size=(n, 2))
    step[::7] = 0.0
    Y, gains = rng.normal(size=(n, 2)), rng.uniform(0.005, 2.0, size=(n, 2))
    ref = [Y.copy(), step.copy(), gains.copy()]
    assert NUMPY.momentum_step(Y, F, step, gains, 200.0, mu, 0.01, cap)
    assert _momentum_step(NUMPY, ref[0], F, ref[1], ref[2], 200.0, mu, 0.01, cap)
    assert all(np.array_equal(x, r) for x, r in zip((Y, step, gains), ref))
    F[n // 3, 0] = np.inf
    before = Y.copy()
    assert not NUMPY.momentum_step(Y, F, step, gains, 200.0, mu, 0.01, cap)
    assert np.array_equal(Y, before)


@pytest.mark.parametrize("dof", [1.0, 0.6])
def test_planar_student_t_attraction_agrees_with_the_general_pass(dof):
    """The fused 2-D Student-t pull (four partial sums) and the general pass (any
    dimension and kernel) compute one force: equal to rounding, on a random graph."""
    import scipy.sparse as sp

    from ardr.engine.numba.graph import _attraction

    rng = np.random.default_rng(2)
    n = 3000
    P = sp.random(n, n, density=0.01, random_state=rng, format="csr", dtype=np.float32)
    indptr, indices = P.indptr.astype(np.int64), P.indices.astype(np.int32)
    Y = rng.normal(size=(n, 2)) * 10.0
    planar, general = np.empty_like(Y), np.empty((n, 3))
    _attraction(Y, Y, indptr, indices, P.data, 1.0, 1.0, dof, planar)
    padded = np.hstack([Y, np.zeros((n, 1))])  # a third, constant coordinate: the general pass
    _attraction(padded, padded, indptr, indices, P.data, 1.0, 1.0, dof, general)
    assert np.abs(general[:, 2]).max() == 0.0
    np.testing.assert_allclose(planar, general[:, :2], rtol=1e-12, atol=1e-12 * np.abs(planar).max())


@pytest.mark.parametrize("parallel", [False, True])
def test_plain_step_on_listed_rows_moves_as_the_whole_pass(parallel, monkeypatch):
    """UMAP's force is zero on the rows without a visit in a step; moving only the rows
    the force law lists must give the whole pass's Y, and still refuse a non-finite force."""
    from ardr.engine.arrays import NUMPY
    from ardr.engine.numba import step as fused
    from ardr.engine.numba.graph import MovingRows

    n, chunk = 20_000, 256
    monkeypatch.setattr(fused, "PARALLEL_MIN_ROWS", n if parallel else n + 1)
    rng = np.random.default_rng(3)
    pushed = np.sort(rng.choice(n, n // 5, replace=False))
    F = np.zeros((n, 2))
    F[pushed] = rng.normal(size=(pushed.size, 2)) * 8.0
    counts = np.bincount(pushed // chunk, minlength=(n + chunk - 1) // chunk)
    rows = np.empty(n, dtype=np.int64)
    for c in range(counts.size):
        rows[c * chunk:c * chunk + counts[c]] = pushed[pushed // chunk == c]
    Y = rng.normal(size=(n, 2))
    Y_all = Y.copy()
    assert NUMPY.plain_step(Y, F, np.zeros_like(Y), 0.6, 4.0, MovingRows(rows, counts, chunk))
    assert NUMPY.plain_step(Y_all, F, np.zeros_like(Y), 0.6, 4.0)
    assert np.array_equal(Y, Y_all)
    F[pushed[7], 0] = np.inf
    assert not NUMPY.plain_step(Y, F, np.zeros_like(Y), 0.6, 4.0, MovingRows(rows, counts, chunk))
    assert np.array_equal(Y, Y_all)

def test_serial_and_parallel_kernels_have_their_own_cache_entries():
    """Numba's disk cache keys a function by name, line and signature, not by its options:
    two compilations of one function under one name shared an entry, and a process that
    compiled the serial step first left every later "parallel" step on one thread."""
    from ardr.engine.numba import density, graph, step

    for variants in (graph._SAMPLED_STEP, step._FINITE, step._MOVE, density._EMBEDDING_RADII,
                     density._DENSITY_FORCE):
        serial, parallel = variants[False], variants[True]
        assert serial.targetoptions.get("parallel", False) is False and parallel.targetoptions["parallel"] is True
        names = {kernel._cache._cache_file._index_name for kernel in (serial, parallel)}
        assert len(names) == 2, names


def test_z_order_visits_the_plane_cell_by_cell():
    from ardr.engine.numba.locality import spatial_order

    corners = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    assert spatial_order(corners).tolist() == [3, 2, 1, 0]  # (0,0), (1,0), (0,1), (1,1)
    grid = np.array([[x, y] for y in range(8) for x in range(8)], dtype=float)
    order = spatial_order(grid)
    quadrant = (grid[order, 0] >= 4).astype(int) + 2 * (grid[order, 1] >= 4)
    assert quadrant.tolist() == sorted(quadrant.tolist())  # each quadrant whole, in Z order


def test_renumbered_graph_keeps_each_rows_edge_sequence_or_sorts_it_as_scipy():
    from ardr.graph.ordering import permute_graph, permute_rows

    rng = np.random.default_rng(3)
    n = 200
    P = sp.random(n, n, density=0.05, random_state=rng, format="csr", dtype=np.float32)
    order = rng.permutation(n)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    indptr, indices, weights = permute_rows(P.indptr.astype(np.int64), P.indices.astype(np.int32), P.data,
                                            order, position)
    for r in range(n):
        old = slice(P.indptr[order[r]], P.indptr[order[r] + 1])
        new = slice(indptr[r], indptr[r + 1])
        assert np.array_equal(indices[new], position[P.indices[old]])
        assert np.array_equal(weights[new], P.data[old])
    expected = P[order][:, order].tocsr()
    expected.sort_indices()
    permuted = permute_graph(P, order)
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(permuted, part), getattr(expected, part))


def test_attraction_in_the_layouts_numbering_is_bit_for_bit_the_original():
    """tSNE's law renumbers its graph by the layout's Z-order when that brings edge ends
    closer in index (digits, rows in file order, laid out by tSNE: it does), and the
    pulls come out in the caller's numbering with the same bytes as without it."""
    from sklearn.datasets import load_digits

    import ardr
    from ardr.engine.numba.graph import _attraction

    X = load_digits().data
    model = ardr.TSNE(random_state=0, max_iter=300).fit(X)
    P, Y = model.graph_, np.ascontiguousarray(model.embedding_, dtype=np.float64)
    law = NormalizedForces(P, 1.0, 1.0, Exact())
    expected = np.empty_like(Y)
    _attraction(Y, Y, P.indptr.astype(np.int64), P.indices.astype(np.int32), P.data, 1.0, 1.0, 1.0, expected)
    for epoch in (0, 50):  # a first renumbering, then one from that numbering
        pulls = np.empty_like(Y)
        law._attraction_in_numbering(Y, epoch, pulls)
        assert law.graph.order is not None
        assert np.array_equal(pulls, expected)
        Y = Y + 0.01 * np.random.default_rng(epoch).normal(size=Y.shape)
        _attraction(Y, Y, P.indptr.astype(np.int64), P.indices.astype(np.int32), P.data, 1.0, 1.0, 1.0, expected)


def test_a_graph_already_numbered_well_keeps_its_numbering():
    from ardr.engine.numba.locality import SpatialNumbering

    n = 500
    chain = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="csr", dtype=np.float32)
    numbering = SpatialNumbering(chain.indptr.astype(np.int64), chain.indices.astype(np.int32), chain.data)
    numbering.refresh(np.random.default_rng(0).normal(size=(n, 2)), 0)  # a layout unrelated to the chain
    assert numbering.order is None


@pytest.mark.parametrize("dim", [1, 3])
def test_tsne_in_one_or_three_dimensions_renumbers_without_changing_the_pulls(dim):
    from ardr.engine.numba.graph import _attraction

    rng = np.random.default_rng(4)
    n = 400
    P = sp.random(n, n, density=0.03, random_state=rng, format="csr", dtype=np.float32)
    P = (P + P.T).tocsr()
    Y = rng.normal(size=(n, dim))
    law = NormalizedForces(P, 1.0, 1.0, Exact())
    pulls, expected = np.empty_like(Y), np.empty_like(Y)
    law._attraction_in_numbering(Y, 0, pulls)
    _attraction(Y, Y, P.indptr.astype(np.int64), P.indices.astype(np.int32), P.data, 1.0, 1.0, 1.0, expected)
    assert np.array_equal(pulls, expected)
    empty = NormalizedForces(sp.csr_matrix((n, n), dtype=np.float32), 1.0, 1.0, Exact())
    empty._attraction_in_numbering(Y, 0, pulls)
    assert not pulls.any()

"""The torch backend (``backend="torch"``) on the CPU: the same force laws, input kernels
and neighbour searches as the numba backend, the same quality on digits, the same bytes
for the same seed (twice, and on 1 and 2 threads), and ``import ardr`` without torch.

Estimators run with ``n_jobs=1``: torch's CPU kernels on more threads than free cores
crawl on a busy machine, and the bytes do not depend on it (checked below)."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ardr  # noqa: E402
from ardr.explain.metrics import procrustes_error, trustworthiness  # noqa: E402

from conftest import knn_accuracy  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread_each(one_numba_thread):
    """One numba, torch and BLAS thread for this module (results do not depend on it; see
    the two-thread test below): on the busy 2-core machine, two threads of each waited on
    each other (with torch loaded, numpy's eigh of a 500 x 500 matrix took 0.4-14 s on two
    BLAS threads, 0.09 s on one)."""
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def quality(X, Y, y):
    return knn_accuracy(Y, y), trustworthiness(X, Y, 10)


# ---------------------------------------------------------------- the package's promises


def test_import_ardr_and_its_estimators_loads_no_torch():
    code = ("import sys, ardr; from ardr.methods import backends, classical, neighbor_embedding; "
            "ardr.UMAP(); ardr.TSNE(); ardr.PCA(); backends.get_backend('numba'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("params, message", [
    ({"backend": "jax"}, "unknown backend 'jax'"),
    ({"backend": "torch", "device": "tpu"}, "unknown device 'tpu'"),
    ({"backend": "torch", "device": "meta"}, "is not supported"),
    ({"backend": "torch", "device": 3}, "device must be a string"),
])
def test_bad_backend_or_device_is_a_clear_error(params, message):
    X = np.random.default_rng(0).normal(size=(60, 4))
    for estimator in (ardr.UMAP(**params), ardr.PCA(2, solver="forces", **params)):
        with pytest.raises(ValueError, match=message):
            estimator.fit(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        ardr.UMAP(backend="torch", device="cuda").fit(np.random.default_rng(0).normal(size=(60, 4)))


# ------------------------------------------------ same data, same answers as numba


@pytest.fixture(scope="module")
def digits_knn(digits):
    from ardr.graph.neighbors import exact_knn

    return exact_knn(digits[0][:700], 89)


def test_neighbour_searches_match_numba(digits):
    from ardr.graph import neighbors as cpu
    from ardr.graph.torch import neighbors as gpu

    X = digits[0][:1000]
    for metric, method in (("euclidean", "exact"), ("cosine", "exact"), ("cosine", "approximate")):
        i_cpu, d_cpu = cpu.nearest_neighbors(X, 14, metric=metric, method=method)
        i_gpu, d_gpu = gpu.nearest_neighbors(X, 14, metric=metric, method=method, device=CPU)
        assert i_gpu.dtype == np.int32 and d_gpu.dtype == np.float32
        assert (i_cpu == i_gpu).mean() > 0.999, (metric, method)
        np.testing.assert_allclose(d_cpu, d_gpu, rtol=1e-4, atol=1e-5)
    # the IVF search (several cells, probes measured on the sample) and its projected
    # variant against the numba backend's: the same algorithm, so the same neighbours
    from ardr.graph import ivf as cpu_ivf
    from ardr.graph.torch import ivf as gpu_ivf

    R = np.ascontiguousarray(X, dtype=np.float32)
    for cpu_search, gpu_search in ((cpu_ivf.ivf_knn, gpu_ivf.ivf_knn), (cpu_ivf.projected_ivf_knn,
                                                                       gpu_ivf.projected_ivf_knn)):
        kw = {"cell_size": 64} if cpu_search is cpu_ivf.ivf_knn else {"cell_size": 64, "n_dims": 20}
        ours, theirs = gpu_search(torch.as_tensor(R), 10, **kw), cpu_search(R, 10, **kw)
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            assert (ours[0].numpy() == theirs[0]).mean() > 0.99
            assert not (ours[0].numpy() == np.arange(len(X))[:, None]).any()


def test_input_kernels_equal_numba(digits_knn):
    from ardr.graph import affinities as cpu
    from ardr.graph.torch import affinities as gpu

    idx, dist = digits_knn
    pairs = [(cpu.umap_graph(idx[:, :14], dist[:, :14], 15), gpu.umap_graph(idx[:, :14], dist[:, :14], 15, device=CPU)),
             (cpu.tsne_affinities(idx, dist, 30.0), gpu.tsne_affinities(idx, dist, 30.0, device=CPU))]
    for P_cpu, P_gpu in pairs:
        assert P_gpu.dtype == np.float32 and P_gpu.has_sorted_indices
        assert (P_cpu.indptr == P_gpu.indptr).all() and (P_cpu.indices == P_gpu.indices).all()
        np.testing.assert_allclose(P_cpu.data, P_gpu.data, rtol=1e-6)


def test_force_laws_match_numba(digits_knn):
    from ardr.engine.numba import graph as cpu_graph, repulsion as cpu_rep
    from ardr.engine.torch import graph as gpu_graph, repulsion as gpu_rep
    from ardr.graph.affinities import tsne_affinities

    P = tsne_affinities(*digits_knn, 30.0)
    Y = np.random.default_rng(1).normal(scale=5.0, size=(P.shape[0], 2))
    Yt = torch.as_tensor(Y)
    for a, b in ((1.0, 1.0), (1.577, 0.895)):
        R_cpu, Z_cpu = cpu_rep.Exact()(Y, Y, a, b, 0, True)
        R_gpu, Z_gpu = gpu_rep.Exact()(Yt, Yt, a, b, 0, True)
        assert Z_gpu == pytest.approx(Z_cpu, rel=1e-9)
        np.testing.assert_allclose(R_gpu.numpy(), R_cpu, rtol=1e-6, atol=1e-9 * np.abs(R_cpu).max())
        if a == 1.0:  # the grid: as close to the exact sums as the numba backend's grid (float32 FFTs)
            R_fft, Z_fft = cpu_rep.FFT()(Y, Y, a, b, 0, True)
            R_fft_gpu, Z_fft_gpu = gpu_rep.FFT()(Yt, Yt, a, b, 0, True)
            assert abs(Z_fft_gpu - Z_cpu) <= 2 * abs(Z_fft - Z_cpu) + 1e-7 * Z_cpu
            assert np.abs(R_fft_gpu.numpy() - R_cpu).max() <= 2 * np.abs(R_fft - R_cpu).max()
        law_cpu = cpu_graph.NormalizedForces(P, a, b, cpu_rep.Exact())
        law_gpu = gpu_graph.NormalizedForces(P, a, b, gpu_rep.Exact())
        F_cpu, F_gpu = law_cpu.direction(Y, 0), law_gpu.direction(Yt, 0).numpy()
        np.testing.assert_allclose(F_gpu, F_cpu, rtol=1e-6, atol=1e-9 * np.abs(F_cpu).max())
        assert gpu_graph.kl_divergence(P, Yt, a, b, gpu_rep.Exact()) == pytest.approx(
            cpu_graph.kl_divergence(P, Y, a, b, cpu_rep.Exact()), rel=1e-9)
    # sampled repulsion: its Z estimate is unbiased (mean over epochs near the exact Z)
    _, Z = cpu_rep.Exact()(Y, Y, 1.0, 1.0, 0, True)
    sampled = gpu_rep.Sampled(50, seed=0)
    assert np.mean([sampled(Yt, Yt, 1.0, 1.0, e, True)[1] for e in range(20)]) == pytest.approx(Z, rel=0.02)


def test_segment_sum_is_order_free_and_exact_to_float64():
    from ardr.engine.torch.reduce import segment_sum, total

    rng = np.random.default_rng(0)
    values = torch.as_tensor(rng.normal(size=(5000, 3)) * 10.0 ** rng.integers(-3, 4, size=(5000, 1)))
    segment = torch.as_tensor(rng.integers(0, 40, size=5000))
    out = segment_sum(values, segment, 40)
    perm = torch.as_tensor(rng.permutation(5000))
    assert digest(segment_sum(values[perm], segment[perm], 40).numpy()) == digest(out.numpy())
    expected = np.zeros((40, 3))
    np.add.at(expected, segment.numpy(), values.numpy())
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-9)
    assert total(values) == pytest.approx(float(values.sum()), rel=1e-12)


# ------------------------------------------------------------- quality on digits


@pytest.mark.parametrize("cls, params", [
    (ardr.UMAP, {}),
    (ardr.TSNE, {"repulsion": "fft", "max_iter": 500}),
], ids=["umap", "tsne-fft"])
def test_torch_quality_equals_numba_on_digits(digits, cls, params):
    X, y = digits
    scores = {backend: quality(X, cls(random_state=0, n_jobs=1, backend=backend, device="cpu", **params)
                               .fit_transform(X), y) for backend in ("numba", "torch")}
    for ours, theirs in zip(scores["torch"], scores["numba"]):
        assert abs(ours - theirs) <= 0.01, scores
    assert scores["torch"][0] > 0.95


def test_pca_by_forces_on_torch_reaches_svd(digits):
    X, _ = digits
    reference = ardr.PCA(2, solver="exact").fit_transform(X)
    pca = ardr.PCA(2, solver="forces", random_state=0, n_jobs=1, backend="torch", device="cpu").fit(X)
    assert procrustes_error(pca.embedding_, reference) <= 1e-6
    np.testing.assert_allclose(pca.transform(X[:20]), pca.embedding_[:20], atol=1e-6 * np.abs(reference).max())
    # the dense kernel (classical MDS of a dissimilarity matrix) on the same law
    from scipy.spatial.distance import cdist

    D = cdist(X[:300], X[:300])
    mds = ardr.ClassicalMDS(dissimilarity="precomputed", random_state=0, n_jobs=1, backend="torch").fit(D)
    exact = ardr.ClassicalMDS(dissimilarity="precomputed", solver="exact").fit_transform(D)
    assert procrustes_error(mds.embedding_, exact) <= 1e-6


# ------------------------------------------------------------------- determinism


def _runs(X):
    common = dict(backend="torch", device="cpu", n_jobs=1, random_state=3)
    return [
        ardr.UMAP(n_epochs=20, **common).fit_transform(X),
        ardr.UMAP(n_epochs=20, normalized=True, **common).fit_transform(X),
        ardr.TSNE(max_iter=20, repulsion="fft", **common).fit_transform(X),
        ardr.PCA(2, solver="forces", sampling=10, max_iter=20, **common).fit_transform(X),
    ]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 20 epochs, on purpose
def test_same_seed_same_bytes_twice(digits):
    X = digits[0][:500]
    first = [digest(Y) for Y in _runs(X)]
    assert [digest(Y) for Y in _runs(X)] == first
    other_seed = ardr.UMAP(random_state=4, n_epochs=20, backend="torch", device="cpu", n_jobs=1).fit_transform(X)
    assert digest(other_seed) != first[0]


def test_every_stage_gives_the_same_bytes_on_one_and_two_threads(digits):
    """Each torch stage once per thread count (whole fits on 2 threads crawl on a busy
    2-core machine): the kNN search, the fuzzy graph, and steps of every force law."""
    from ardr.engine.strain import StrainForces
    from ardr.engine.torch import graph as forces, gram, repulsion
    from ardr.graph.torch import affinities, neighbors

    X = digits[0][:600]
    Y = torch.as_tensor(np.random.default_rng(0).normal(scale=3.0, size=(600, 2)), dtype=torch.float32)

    def stages():
        idx, dist = neighbors.nearest_neighbors(X, 14, device=CPU)
        P = affinities.umap_graph(idx, dist, 15, device=CPU)
        Q = P.copy()
        Q.data /= Q.data.sum()
        out = [idx, dist, P.data]
        umap = forces.SampledGraphForces(P, 10, 1.577, 0.895, n_batches=4, seed=1)
        out += [umap.direction(Y, step).numpy() for step in (4, 5, 6, 7)]
        for estimator in (repulsion.Exact(), repulsion.Sampled(70, seed=1), repulsion.FFT()):
            out.append(forces.NormalizedForces(Q, 1.0, 1.0, estimator).direction(Y, 3).numpy())
        kernel = gram.FeatureGram(X, device=CPU)
        Y64 = Y.double()
        out += [StrainForces(kernel).direction(Y64, 0).numpy(), StrainForces(kernel, sampling=8).direction(Y64, 2).numpy()]
        return [digest(a) for a in out]

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = stages()
        torch.set_num_threads(2)
        assert stages() == one
    finally:
        torch.set_num_threads(previous)


def test_transform_places_new_points_with_their_class(digits):
    from sklearn.neighbors import KNeighborsClassifier

    X, y = digits
    est = ardr.UMAP(random_state=0, n_epochs=100, backend="torch", device="cpu", n_jobs=1).fit(X[:1500])
    placed = est.transform(X[1500:])
    assert placed.dtype == np.float32 and np.isfinite(placed).all()
    assert KNeighborsClassifier(5).fit(est.embedding_, y[:1500]).score(placed, y[1500:]) > 0.9

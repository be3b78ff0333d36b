"""Per-point explanations (ardr.explain.pointwise) and the ``ardr explain`` command."""

import base64
from html import escape
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

import ardr
from ardr.explain import metrics
from ardr._threads import numba_threads
from ardr.cli import main
from ardr.explain import pointwise as pw
from ardr.engine.numba.graph import NormalizedForces, SampledGraphForces
from ardr.engine.numba.repulsion import Exact

CHROMIUM = Path("/usr/bin/chromium")


pytestmark = pytest.mark.usefixtures("one_numba_thread")


@pytest.fixture(scope="module")
def untied(digits):
    """Digits with a 1e-6 jitter (no tied input distances) and its 2-D PCA projection."""
    X, y = digits
    X = X.astype(np.float64) + 1e-6 * np.random.default_rng(0).standard_normal(X.shape)
    return X, PCA(n_components=2, random_state=0).fit_transform(X), y


@pytest.fixture(scope="module")
def fitted(digits):
    """ardr.TSNE and ardr.UMAP fitted on 400 digits (one thread: the test machine is shared)."""
    X, y = digits
    keep = np.random.default_rng(0).choice(len(X), 400, replace=False)
    X, y = X[keep], y[keep]
    tsne = ardr.TSNE(max_iter=500, random_state=0, n_jobs=1).fit(X)
    umap = ardr.UMAP(random_state=0, n_jobs=1).fit(X)
    return X, y, tsne, umap


def _random_like(Y, seed=1):
    return np.random.default_rng(seed).uniform(Y.min(axis=0), Y.max(axis=0), size=Y.shape)


# ------------------------------------------------------ per-point neighbourhood metrics


@pytest.mark.parametrize("k", [5, 30])
def test_local_metrics_average_to_the_global_ones(untied, k):
    X, Y, _ = untied
    assert pw.local_trustworthiness(X, Y, k).mean() == pytest.approx(metrics.trustworthiness(X, Y, k), abs=1e-12)
    assert pw.local_continuity(X, Y, k).mean() == pytest.approx(metrics.continuity(X, Y, k), abs=1e-12)
    assert pw.local_knn_overlap(X, Y, k).mean() == pytest.approx(metrics.knn_overlap(X, Y, k), abs=1e-12)


def test_local_trustworthiness_matches_a_brute_force_reference():
    """Venna-Kaski per point from a full rank matrix, written independently."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((250, 6))
    Y = X[:, :2] + 0.7 * rng.standard_normal((250, 2))
    n, k = len(X), 7

    def ranks(A):
        D = np.linalg.norm(A[:, None] - A[None], axis=2)
        np.fill_diagonal(D, np.inf)
        return D.argsort(axis=1).argsort(axis=1) + 1, D.argsort(axis=1)[:, :k]

    rank_x, _ = ranks(X)
    rank_y, near_y = ranks(Y)
    _, near_x = ranks(X)
    norm = 2.0 / (k * (2 * n - 3 * k - 1))
    trust = 1 - norm * np.array([np.maximum(rank_x[i, near_y[i]] - k, 0).sum() for i in range(n)])
    cont = 1 - norm * np.array([np.maximum(rank_y[i, near_x[i]] - k, 0).sum() for i in range(n)])
    shared = np.array([len(set(near_x[i]) & set(near_y[i])) for i in range(n)])
    np.testing.assert_allclose(pw.local_trustworthiness(X, Y, k), trust, atol=1e-12)
    np.testing.assert_allclose(pw.local_continuity(X, Y, k), cont, atol=1e-12)
    np.testing.assert_allclose(pw.local_knn_overlap(X, Y, k), shared / (2 * k - shared), atol=1e-12)
    np.testing.assert_allclose(pw.neighbour_agreement(X, Y, k=k), shared / k, atol=1e-12)
    # the scalable path (taken above max_exact): continuity ranks by KD-tree counts are exact
    np.testing.assert_allclose(pw.local_continuity(X, Y, k, max_exact=0), cont, atol=1e-12)


def test_scalable_trustworthiness_estimate_is_close(digits):
    """Above max_exact, ranks beyond the searched neighbours are estimated: measured on
    digits with a 2-D PCA (many far neighbours) and 300 reference points."""
    X, _ = digits
    Y = PCA(n_components=2, random_state=0).fit_transform(X)
    exact = pw.local_trustworthiness(X, Y, 10)
    estimate = pw.local_trustworthiness(X, Y, 10, max_exact=0, n_reference=300)
    # measured over seeds 0-2: mean off by <= 0.003, correlation >= 0.997, 99th percentile
    # of the per-point error <= 0.031, largest <= 0.056
    assert abs(estimate.mean() - exact.mean()) < 0.01
    assert np.corrcoef(exact, estimate)[0, 1] > 0.99
    assert np.quantile(np.abs(estimate - exact), 0.99) < 0.05
    # and the estimate still tells a good embedding from a bad one
    bad = pw.local_trustworthiness(X, _random_like(Y), 10, max_exact=0, n_reference=300)
    assert bad.mean() < estimate.mean() - 0.1


def test_neighbour_agreement_of_a_point_and_of_a_set(untied):
    X, Y, y = untied
    k = 10
    near_x = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(return_distance=False)  # self excluded
    near_y = NearestNeighbors(n_neighbors=k).fit(Y).kneighbors(return_distance=False)
    expected = np.array([len(set(near_x[i]) & set(near_y[i])) / k for i in range(len(X))])
    per_point = pw.neighbour_agreement(X, Y, k=k)
    np.testing.assert_allclose(per_point, expected)
    assert pw.neighbour_agreement(X, Y, 7, k=k) == pytest.approx(expected[7])
    threes = np.flatnonzero(y == 3)
    assert pw.neighbour_agreement(X, Y, threes, k=k) == pytest.approx(expected[threes].mean())
    assert pw.neighbour_agreement(X, Y, y == 3, k=k) == pytest.approx(expected[threes].mean())


# ------------------------------------------------------------------ stationarity


def test_residual_small_at_converged_embeddings_large_at_random(fitted):
    X, _, tsne, umap = fitted
    # measured (400 digits): tSNE median 0.001 vs 0.30 random; UMAP (a stochastic optimizer
    # whose rate decays to 0) 0.14-0.16 vs 0.43-0.44 over seeds 0 and 1
    for est, converged_max, random_min in ((tsne, 0.01, 0.2), (umap, 0.22, 0.35)):
        at_rest = np.median(pw.reconstruction_residual(X, est.embedding_, law=est))
        moved = np.median(pw.reconstruction_residual(X, _random_like(est.embedding_), law=est))
        assert at_rest < converged_max < random_min < moved
    # the same law built from the data alone (any tool's embedding) gives the same numbers
    np.testing.assert_allclose(pw.reconstruction_residual(X, tsne.embedding_, law="tsne"),
                               pw.reconstruction_residual(X, tsne.embedding_, law=tsne), rtol=1e-6, atol=1e-9)


def test_sampled_residual_sums_what_the_sparse_weights_sum(fitted):
    """The compiled sampled path (reconstruction_residual above its exact limit) and the
    sparse partner matrix (stationarity_weights' path) draw the same partners: same sums."""
    X, _, tsne, umap = fitted
    for est in (tsne, umap):
        Y = est.embedding_.astype(np.float64)
        settings = pw.force_settings(X, est)
        old = pw._balance_from_weights(Y, pw._sampled_weights(Y, settings, 30, 50, 3))
        new = pw._sampled_balance_terms(Y, settings, 30, 50, 3)
        for a, b in zip(old, new):
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12 * np.abs(a).max())
        # given picture neighbours replace the search
        near = pw._embedding_knn(Y, 30)
        np.testing.assert_array_equal(pw._sampled_balance_terms(Y, settings, 30, 50, 3, near=near)[1], new[1])


def test_stationarity_weights_reconstruct_points_and_agree_with_the_residual(fitted):
    X, _, tsne, _ = fitted
    Y = tsne.embedding_.astype(np.float64)
    W = pw.stationarity_weights(X, Y, law=tsne)
    np.testing.assert_allclose(np.asarray(W.sum(axis=1)).ravel(), 1.0, atol=1e-9)
    assert W.diagonal().max() == 0.0
    residual = np.linalg.norm(Y - W @ Y, axis=1)
    rows = np.repeat(np.arange(len(Y)), np.diff(W.indptr))
    spread = np.bincount(rows, np.abs(W.data) * np.linalg.norm(Y[W.indices] - Y[rows], axis=1))
    # W (numpy, dense blocks) and the residual (numba, all pairs) are two code paths
    np.testing.assert_allclose(residual / spread, pw.reconstruction_residual(X, Y, law=tsne), atol=1e-9)
    # at rest, y_i is the weighted average of the others to within a small fraction of their spread
    assert np.median(residual / spread) < 0.01


def test_normalized_coefficients_are_minus_half_the_kl_gradient():
    """Independent reference: central differences of KL(P || Q) with Student-t Q."""
    rng = np.random.default_rng(0)
    n = 30
    Y = rng.standard_normal((n, 2))
    P = rng.random((n, n)) * (rng.random((n, n)) < 0.3)
    P = P + P.T
    np.fill_diagonal(P, 0.0)
    P /= P.sum()

    def kl(flat):
        Z = flat.reshape(n, 2)
        w = 1.0 / (1.0 + ((Z[:, None] - Z[None]) ** 2).sum(axis=2))
        np.fill_diagonal(w, 0.0)
        q = w / w.sum()
        mask = P > 0
        return float((P[mask] * np.log(P[mask] / q[mask])).sum())

    eps = 1e-6
    grad = np.array([(kl(Y.ravel() + eps * e) - kl(Y.ravel() - eps * e)) / (2 * eps)
                     for e in np.eye(2 * n)]).reshape(n, 2)
    settings = pw.ForceSettings(sp.csr_matrix(P), 1.0, 1.0, True)
    F, _, _ = pw._exact_balance_terms(Y, settings)
    np.testing.assert_allclose(F, -0.5 * grad, atol=1e-7)
    # and twice the direction ardr's tSNE force law moves points along
    law = NormalizedForces(sp.csr_matrix(P), 1.0, 1.0, Exact())
    np.testing.assert_allclose(F, 2 * law.direction(Y.copy(), 0), atol=1e-12)


def test_umap_coefficients_are_the_expected_sampled_force():
    """A_ij, R_ij of the UMAP law = the average of ardr's sampled UMAP force law over many
    epochs at a fixed layout (up to 1 / max p_ij); clipping is off on both sides."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    Y = rng.uniform(0, 10, size=(100, 2))
    settings = pw.ForceSettings(pw.force_settings(X, "umap").graph, 1.577, 0.895, False, 5, None)
    F, _, _ = pw._exact_balance_terms(Y, settings)
    epochs = 2000
    law = SampledGraphForces(settings.graph, epochs, 1.577, 0.895, negative_rate=5, seed=3, clip_value=1e12)
    with numba_threads(1):  # many tiny parallel calls are slow on a busy machine
        mean = sum(law.direction(Y, epoch).copy() for epoch in range(epochs)) / epochs
    expected = F / settings.graph.data.max()
    error = np.linalg.norm(mean - expected, axis=1) / np.linalg.norm(expected, axis=1)
    assert np.median(error) < 0.05


def test_sampled_repulsion_is_an_unbiased_estimate():
    """The error of the mean of m sampled estimates shrinks like 1 / sqrt(m): no bias
    (measured: relative error 0.45 for one draw, 0.13 for 10, 0.07 for 40)."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 4))
    Y = rng.uniform(0, 10, size=(300, 2))
    settings = pw.force_settings(X, "umap")
    exact, _, _ = pw._exact_balance_terms(Y, settings)
    draws = [pw._balance_from_weights(Y, pw._sampled_weights(Y, settings, 5, 20, seed))[0] for seed in range(40)]

    def error(m):
        return np.linalg.norm(np.mean(draws[:m], axis=0) - exact) / np.linalg.norm(exact)

    assert error(40) < 0.7 * error(10) < 0.7 * error(1)
    assert error(40) < 0.12


def test_pulling_neighbours_of_a_point_and_of_a_cluster(fitted):
    X, y, _, umap = fitted
    Y = umap.embedding_.astype(np.float64)
    P = umap.graph_.tocsr()
    i = 5
    idx, share = pw.pulling_neighbours(X, Y, i, law=umap, n_top=5)
    # independent formula (DESIGN 2): pull of edge (i, j) ~ p_ij 2ab d^(2(b-1)) / (1 + a d^2b)
    a, b = umap.a_, umap.b_
    row = P[i]
    d2 = ((Y[row.indices] - Y[i]) ** 2).sum(axis=1)
    pull = row.data * 2 * a * b * d2 ** (b - 1) / (1 + a * d2**b)
    order = row.indices[np.argsort(-pull, kind="stable")]
    np.testing.assert_array_equal(idx, order[:5])
    np.testing.assert_allclose(share, np.sort(pull)[::-1][:5] / pull.sum(), rtol=1e-6)
    assert (y[idx] == y[i]).mean() >= 0.8
    cluster = np.flatnonzero(y == 3)
    idx, share = pw.pulling_neighbours(X, Y, cluster, law=umap, exclude_selection=True)
    assert not np.isin(idx, cluster).any() and (np.diff(share) <= 0).all() and share.sum() <= 1


def test_force_settings_from_an_estimator_and_from_a_name(fitted):
    X, _, tsne, umap = fitted
    from_estimator = pw.force_settings(X, umap)
    from_name = pw.force_settings(X, "umap")
    assert (from_estimator.graph != from_name.graph).nnz == 0
    assert from_estimator.a == pytest.approx(from_name.a) and not from_name.normalized
    assert pw.force_settings(X, tsne).normalized and pw.force_settings(X, "tsne").a == 1.0


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda X, Y: pw.reconstruction_residual(X[:-1], Y), "same number of rows"),
        (lambda X, Y: pw.local_trustworthiness(X, np.where(np.arange(len(Y))[:, None] == 3, np.nan, Y)), "NaN"),
        (lambda X, Y: pw.local_trustworthiness(X, Y, k=len(X) // 2), "k="),
        (lambda X, Y: pw.local_knn_overlap(X, Y, k=len(X)), "k="),
        (lambda X, Y: pw.pulling_neighbours(X, Y, len(X)), "indices must lie"),
        (lambda X, Y: pw.stationarity_weights(None, Y, graph=sp.eye(5, format="csr")), "graph"),
        (lambda X, Y: pw.reconstruction_residual(X, Y, law="pca"), "law"),
        (lambda X, Y: pw.reconstruction_residual(X, Y, repulsion="fast"), "repulsion"),
    ],
)
def test_bad_inputs_are_clear_errors(call, match):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 2))
    with pytest.raises(ValueError, match=match):
        call(X, Y)

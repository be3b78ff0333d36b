"""openTSNE's and scikit-learn's tSNE options on ardr.TSNE: the heavy-tailed kernel
(dof), exaggeration after the early phase, multiscale perplexities, a user's affinities,
callbacks with a stop signal, and the peers' spellings and argument order. Quality
against the peers themselves: tests/test_parity_tsne.py."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

import ardr
from ardr.engine.numba import graph as graph_forces
from ardr.engine.numba import repulsion
from ardr.graph import affinities


@pytest.fixture(scope="module")
def digits():
    X, y = ardr.datasets.load("digits")
    return X[:400], y[:400]


# ------------------------------------------------------------------ dof (engine)
@pytest.mark.parametrize("dof,a,b", [(0.5, 1.0, 1.0), (3.0, 1.0, 1.0), (0.7, 1.6, 0.9)])
def test_heavy_tailed_force_is_minus_the_kl_gradient(dof, a, b):
    """direction = -grad KL / 4 for q = (1 + a t^b / dof)^-dof, by central differences."""
    rng = np.random.default_rng(0)
    n = 40
    Y = rng.normal(size=(n, 2))
    A = sp.random(n, n, density=0.2, random_state=1)
    P = (A + A.T).tocsr()
    P.data /= P.data.sum()
    law = graph_forces.NormalizedForces(P, a, b, repulsion.Exact(), dof=dof)
    F = law.direction(Y.copy(), 0)
    eps = 1e-6
    for i, d in [(0, 0), (3, 1), (17, 0)]:
        up, down = Y.copy(), Y.copy()
        up[i, d] += eps
        down[i, d] -= eps
        grad = (graph_forces.kl_divergence(P, up, a, b, repulsion.Exact(), dof)
                - graph_forces.kl_divergence(P, down, a, b, repulsion.Exact(), dof)) / (2 * eps)
        assert abs(4 * F[i, d] + grad) < 1e-6 * max(1.0, abs(grad))


@pytest.mark.parametrize("dof", [0.5, 2.0])
def test_fft_and_sampled_repulsion_follow_dof(dof):
    """FFT interpolation samples the heavy-tailed kernels on its grid: as accurate as at
    dof = 1 (Z to 1e-4, R to 2%); the sampled estimate of Z is unbiased."""
    Y = np.random.default_rng(0).normal(size=(500, 2)) * 5
    R, Z = repulsion.Exact()(Y, Y, 1.0, 1.0, 0, True, dof)
    R_fft, Z_fft = repulsion.FFT()(Y, Y, 1.0, 1.0, 0, True, dof)
    _, Z_sampled = repulsion.Sampled(2000, 0)(Y, Y, 1.0, 1.0, 0, True, dof)
    assert abs(Z_fft - Z) < 1e-4 * Z
    assert np.linalg.norm(R_fft - R) < 0.02 * np.linalg.norm(R)
    assert abs(Z_sampled - Z) < 0.01 * Z
    # and it is a different kernel: dof = 1 gives another Z
    assert abs(repulsion.Exact()(Y, Y, 1.0, 1.0, 0, True)[1] - Z) > 0.05 * Z


def test_heavier_tails_separate_clusters_more(digits):
    """Kobak et al. 2019: dof < 1 pulls clusters apart (between-class over within-class
    distance grows)."""
    X, y = digits[0][:300], digits[1][:300]

    def separation(Y):
        centres = np.stack([Y[y == c].mean(axis=0) for c in np.unique(y)])
        within = np.mean([np.linalg.norm(Y[y == c] - centres[i], axis=1).mean() for i, c in enumerate(np.unique(y))])
        between = np.mean([np.linalg.norm(centres[i] - centres[j]) for i in range(10) for j in range(i)])
        return between / within

    plain = ardr.TSNE(max_iter=300, random_state=0).fit_transform(X)
    heavy = ardr.TSNE(max_iter=300, dof=0.5, random_state=0).fit_transform(X)
    assert separation(heavy) > 1.3 * separation(plain)  # measured: 12.4 vs 7.6


# ------------------------------------------------------------------ exaggeration
def test_exaggeration_after_the_early_phase(digits):
    """exaggeration > 1 keeps pulling neighbours together after the early phase (smaller
    layout, higher KL: P is matched less), and early exaggeration "auto" is max(12, it)."""
    X = digits[0][:250]
    plain = ardr.TSNE(max_iter=300, random_state=0).fit(X)
    tight = ardr.TSNE(max_iter=300, exaggeration=4.0, random_state=0).fit(X)
    assert tight.embedding_.std() < 0.5 * plain.embedding_.std()  # measured: 1.16 vs 6.24
    assert tight.kl_divergence_ > plain.kl_divergence_
    for exaggeration, early in ((20.0, 20.0), (2.0, 12.0)):
        est = ardr.TSNE(exaggeration=exaggeration, perplexity=10, max_iter=3, random_state=0).fit(X[:60])
        law, _ = est._force_law(est.graph_, est.embedding_.astype(np.float64), 1.0, 1.0, 0, 60, 300)
        assert (law.exaggeration(0), law.exaggeration(249), law.exaggeration(250)) == (early, early, exaggeration)


# ------------------------------------------------------------------ multiscale
def test_multiscale_affinities_average_the_conditional_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    from ardr.graph.neighbors import exact_knn

    idx, dist = exact_knn(X, 90)
    P = affinities.tsne_affinities(idx, dist, [10.0, 30.0])
    rows = (affinities.conditional_gaussian(dist, 10.0).astype(np.float64)
            + affinities.conditional_gaussian(dist, 30.0)) / 2
    C = sp.csr_matrix((rows.ravel(), (np.repeat(np.arange(200), 90), idx.ravel())), shape=(200, 200))
    expected = (C + C.T) / (C + C.T).sum()
    assert abs(P - expected).max() < 1e-6 * expected.max()


def test_multiscale_perplexities_are_checked(digits):
    X = digits[0][:50]
    with pytest.warns(UserWarning, match="perplexity=40 is too large"):
        est = ardr.TSNE(perplexity=[5, 40], max_iter=5, random_state=0).fit(X)
    assert est._k == (5.0, 49 / 3)
    for bad in ([], [5, -1], [[5]], "five"):
        with pytest.raises(ValueError, match="perplexity"):
            ardr.TSNE(perplexity=bad, max_iter=5).fit(X)


# ------------------------------------------------------------------ user affinities
def test_user_affinities(digits):
    X = digits[0][:200]
    reference = ardr.TSNE(max_iter=100, random_state=0).fit(X)
    P = reference.graph_.astype(np.float64) * 7.0  # any scale: normalized to sum 1
    given = ardr.TSNE(max_iter=100, random_state=0).fit(X, affinities=SimpleNamespace(P=P))
    np.testing.assert_allclose(given.graph_.toarray(), reference.graph_.toarray(), rtol=1e-5, atol=1e-9)
    assert abs(given.kl_divergence_ - reference.kl_divergence_) < 0.02
    assert given.transform(X[:5]).shape == (5, 2)  # X given too: new points can be placed
    with pytest.warns(UserWarning, match="init='pca' is impossible: no X"):
        alone = ardr.TSNE(max_iter=20, random_state=0).fit(affinities=P.toarray())
    assert alone.embedding_.shape == (200, 2) and not hasattr(alone, "n_features_in_")
    with pytest.raises(ValueError, match="transform needs the training data"):
        alone.transform(X[:3])


@pytest.mark.parametrize("bad,match", [
    (sp.random(5, 5, density=0.8, random_state=0), "symmetric"),
    (np.ones((4, 5)), "square"),
    (-np.ones((4, 4)), "non-negative"),
    (np.eye(4), "all zero"),
    ("P", "numeric"),
])
def test_bad_affinities(bad, match):
    with pytest.raises(ValueError, match=match):
        ardr.TSNE(max_iter=5).fit(affinities=bad)


def test_affinities_need_the_normalized_objective_and_matching_rows():
    P = np.ones((10, 10))
    with pytest.raises(ValueError, match="normalized=True"):
        ardr.UMAP(n_epochs=5).fit(np.zeros((10, 2)), affinities=P)
    with pytest.raises(ValueError, match="X has 12 rows"):
        ardr.TSNE(max_iter=5).fit(np.random.default_rng(0).normal(size=(12, 3)), affinities=P)
    with pytest.raises(ValueError, match="fit needs X"):
        ardr.TSNE().fit()


# ------------------------------------------------------------------ callbacks
def test_callbacks_see_the_run_and_can_stop_it(digits):
    X = digits[0][:300]
    seen = []

    def watch(iteration, error, embedding):
        seen.append((iteration, error, embedding.copy()))
        return iteration >= 150

    est = ardr.TSNE(max_iter=400, callbacks=[watch], callbacks_every_iters=50, random_state=0).fit(X)
    assert [s[0] for s in seen] == [50, 100, 150]
    assert est.n_iter_ == 150
    # the embedding a callback gets is in the data's row order: the last one is the result
    np.testing.assert_array_equal(seen[-1][2].astype(np.float32), est.embedding_)
    assert abs(seen[-1][1] - est.kl_divergence_) < 1e-9
    assert seen[-1][1] < seen[0][1]  # the KL divergence falls

    class Counter:  # openTSNE's callback objects: told before the run starts
        started = 0
        calls = 0

        def optimization_about_to_start(self):
            self.started += 1

        def __call__(self, iteration, error, embedding):
            self.calls += 1

    counter = Counter()
    full = ardr.TSNE(max_iter=60, callbacks=counter, callbacks_every_iters=20, random_state=0).fit(X)
    assert (counter.started, counter.calls, full.n_iter_) == (1, 3, 60)


@pytest.mark.parametrize("params,match", [
    (dict(callbacks="print"), "callbacks must be"),
    (dict(callbacks=[print, 3]), "callbacks must be"),
    (dict(callbacks_every_iters=0), "callbacks_every_iters"),
    (dict(dof=0), "dof"),
    (dict(exaggeration=-1), "exaggeration"),
    (dict(method="bogus"), "unknown method"),
    (dict(method="exact", repulsion="fft"), "contradicts"),
])
def test_bad_tsne_options(params, match):
    with pytest.raises(ValueError, match=match):
        ardr.TSNE(max_iter=5, **params).fit(np.random.default_rng(0).normal(size=(30, 3)))


def test_tsne_options_need_the_normalized_objective():
    X = np.random.default_rng(0).normal(size=(30, 3))
    for params in (dict(dof=0.5), dict(callbacks=print)):
        with pytest.raises(ValueError, match="normalized=True"):
            ardr.ARDR(n_epochs=5, **params).fit(X)


# ------------------------------------------------------------------ peers' spellings
def test_scikit_learn_spellings(digits):
    X = digits[0][:150]
    base = ardr.TSNE(max_iter=40, random_state=0).fit_transform(X)
    with pytest.warns(FutureWarning, match="n_iter was renamed max_iter"):
        old = ardr.TSNE(n_iter=40, random_state=0).fit_transform(X)
    np.testing.assert_array_equal(old, base)
    with pytest.raises(ValueError, match="max_iter only"):
        ardr.TSNE(n_iter=40, max_iter=40).fit(X)
    exact = ardr.TSNE(max_iter=40, repulsion="exact", random_state=0).fit_transform(X)
    np.testing.assert_array_equal(ardr.TSNE(max_iter=40, method="exact", random_state=0).fit_transform(X), exact)
    np.testing.assert_array_equal(ardr.TSNE(max_iter=40, method="barnes_hut", random_state=0).fit_transform(X),
                                  base)


def test_n_components_comes_first():
    """openTSNE's and scikit-learn's order: TSNE(2) is n_components=2; the rest is keyword-only."""
    assert ardr.TSNE(3).n_components == 3
    assert ardr.TSNE(3).perplexity == 30.0
    with pytest.raises(TypeError):
        ardr.TSNE(2, 30)


def test_no_warning_for_defaults(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ardr.TSNE(max_iter=5, random_state=0).fit(digits[0][:200])

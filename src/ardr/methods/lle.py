"""Locally linear embedding: classical LLE (Roweis & Saul) and DK-LLE (DESIGN 6a).

``LLE`` reconstructs each point from its k neighbours with weights summing to one,
then takes the bottom eigenvectors of the sparse M = (I - W)^T (I - W) after the
constant one. ``DKLLE`` keeps LLE's reconstruction step but builds its weights from
UMAP's fuzzy input graph times the output kernel, adds repulsive offsets, and
iterates; its fixed points are the stationary points of UMAP's effective objective J
(``ardr.engine.numba.dklle``), which is why it reproduces UMAP.
"""

import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from .._threads import numba_threads
from .._validation import check_choice, check_data, check_float, check_int, check_n_features, check_seed
from ..graph.neighbors import METHODS as KNN_METHODS, exact_knn, nearest_neighbors
from ._contract import EstimatorContract

# LLE reconstructs each point from its neighbours' coordinates: neighbours in these metrics only
METRICS = ("euclidean", "cosine")

EIGEN_SOLVERS = ("auto", "arpack", "dense")
DENSE_MAX_ROWS = 200  # "auto" solves M densely up to here (as scikit-learn does)
DKLLE_INITS = ("spectral", "umap-epoch", "pca", "random")
_WEIGHT_BLOCK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------- LLE
def barycenter_weights(X, queries, neighbors, reg):
    """Per query row i: weights over its neighbours' rows of X that sum to one and best
    reconstruct it, from the regularized local Gram system (G + reg tr(G) I) w = 1."""
    m, k = neighbors.shape
    W = np.empty((m, k))
    block = max(1, _WEIGHT_BLOCK_BYTES // (8 * k * X.shape[1]))
    ones = np.ones((k, 1))
    for s in range(0, m, block):
        Z = X[neighbors[s:s + block]].astype(np.float64) - queries[s:s + block, None, :]
        G = Z @ Z.transpose(0, 2, 1)
        trace = np.trace(G, axis1=1, axis2=2)
        R = np.where(trace > 0, reg * trace, reg)
        G[:, np.arange(k), np.arange(k)] += R[:, None]
        w = np.linalg.solve(G, np.broadcast_to(ones, (len(G), k, 1)))[:, :, 0]
        W[s:s + block] = w / w.sum(axis=1, keepdims=True)
    return W


def lle_neighbors(X, k, *, metric="euclidean", method="auto", random_state=0, n_jobs=-1, verbose=False):
    """The k nearest other points of every row (indices, (n, k)).

    Exact search goes through scikit-learn's NearestNeighbors, as its LLE does, so that
    ties at the k-th distance (common in integer data such as digits) fall the same way
    and the two embeddings can be compared exactly; above EXACT_MAX_ROWS (or with
    method="approximate" or "nndescent") ardr's own search is used."""
    from ..graph.neighbors import EXACT_MAX_ROWS, drop_self

    if method == "auto":
        method = "exact" if X.shape[0] <= EXACT_MAX_ROWS else "approximate"
    if method != "exact":
        return nearest_neighbors(X, k, metric=metric, method=method, random_state=random_state, n_jobs=n_jobs,
                                 verbose=verbose)[0]
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, n_jobs=n_jobs).fit(X)
    dist, idx = nn.kneighbors(X)
    return drop_self(idx, dist, k)[0]


def _bottom_eigenvectors(M, n_components, solver, tol, max_iter, seed):
    """Eigenvectors 2 .. n_components + 1 (smallest eigenvalues) of the PSD matrix M."""
    k = n_components + 1
    if solver == "dense":
        from scipy.linalg import eigh

        vals, vecs = eigh(M.toarray(), subset_by_index=(0, k - 1))
    else:
        from scipy.sparse.linalg import eigsh

        v0 = np.random.default_rng(seed).uniform(-1, 1, M.shape[0])
        vals, vecs = eigsh(M.tocsc(), k=k, sigma=0.0, tol=tol, maxiter=max_iter, v0=v0)
    order = np.argsort(vals)
    return vecs[:, order[1:]], vals[order]


class LLE(EstimatorContract, TransformerMixin, BaseEstimator):
    """Classical locally linear embedding (the "standard" method).

    Each point's weights over its ``n_neighbors`` nearest other points solve the
    regularized local Gram system (regularizer ``reg`` times the Gram trace) and sum to
    one; the embedding is the bottom eigenvectors of M = (I - W)^T (I - W) after the
    constant one, found by ARPACK in shift-invert mode on the sparse M ("arpack"), or
    densely ("dense"; "auto" picks dense up to DENSE_MAX_ROWS points). Same estimator
    as scikit-learn's LocallyLinearEmbedding(method="standard") with the same
    n_neighbors and reg.

    Attributes: ``embedding_``, ``eigenvalues_`` (of M, the constant's first),
    ``reconstruction_error_`` (sum of the skipped-over eigenvalues: tr(Y^T M Y)),
    ``nbrs_``, ``timings_``, ``n_features_in_``.
    """

    _saved_state = ("_X_fit", "_k")  # what transform needs, kept in model files (ardr.io)
    _NOT_APPLICABLE = {
        "check_transformer_n_iter": "max_iter caps ARPACK's iterations; LLE's eigensolvers do not report "
                                    "how many they ran (the dense one runs none), so there is no n_iter_",
    }

    def __init__(self, n_neighbors=15, n_components=2, *, reg=1e-3, eigen_solver="auto", tol=1e-6,
                 max_iter=None, metric="euclidean", knn_method="auto", random_state=None, n_jobs=-1,
                 verbose=False):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.reg = reg
        self.eigen_solver = eigen_solver
        self.tol = tol
        self.max_iter = max_iter
        self.metric = metric
        self.knn_method = knn_method
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_params(self, n):
        k = check_int(self.n_neighbors, "n_neighbors", low=1)
        if k >= n:
            raise ValueError(f"n_neighbors={k} must be smaller than the number of points ({n})")
        d = check_int(self.n_components, "n_components", low=1)
        if d + 1 >= n:
            raise ValueError(f"n_components={d} needs more than {d + 1} points, got {n}")
        check_float(self.reg, "reg", low=0.0)
        check_choice(self.eigen_solver, "eigen_solver", EIGEN_SOLVERS)
        check_float(self.tol, "tol", low=0.0)
        if self.max_iter is not None:
            check_int(self.max_iter, "max_iter", low=1)
        check_choice(self.metric, "metric", METRICS)
        check_choice(self.knn_method, "knn_method", KNN_METHODS)
        return k, d

    def fit(self, X, y=None):
        X = check_data(X, min_rows=3, dtype=np.float64)
        n = X.shape[0]
        k, d = self._check_params(n)
        seed = check_seed(self.random_state)
        timings = {}
        with numba_threads(self.n_jobs):
            t0 = time.perf_counter()
            idx = lle_neighbors(X, k, metric=self.metric, method=self.knn_method, random_state=seed,
                                n_jobs=self.n_jobs, verbose=self.verbose)
            timings["knn"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            W = barycenter_weights(X, X, idx, float(self.reg))
            IW = sp.eye(n, format="csr") - sp.csr_matrix(
                (W.ravel(), idx.ravel().astype(np.int64), np.arange(0, n * k + 1, k)), shape=(n, n))
            M = (IW.T @ IW).tocsr()
            timings["weights"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            solver = self.eigen_solver
            if solver == "auto":
                solver = "dense" if n <= DENSE_MAX_ROWS or d + 1 >= 10 else "arpack"
            Y, vals = _bottom_eigenvectors(M, d, solver, float(self.tol), self.max_iter, seed)
            timings["eigen"] = time.perf_counter() - t0
        timings["total"] = sum(timings.values())
        self.embedding_ = Y
        self.eigenvalues_ = vals
        self.reconstruction_error_ = float(vals[1:].sum())
        self.nbrs_ = idx
        self.n_features_in_ = X.shape[1]
        self.timings_ = timings
        self._X_fit = X
        self._k = k
        return self

    def fit_transform(self, X, y=None):
        return self.fit(X, y).embedding_

    def transform(self, X):
        """Place new points at the same barycentric combination of their nearest fitted
        points' embeddings as reconstructs them in the input."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "embedding_")
        X = check_n_features(self, check_data(X, min_rows=1, dtype=np.float64))
        idx, _ = exact_knn(self._X_fit, self._k, metric=self.metric, queries=X, exclude_self=False)
        W = barycenter_weights(self._X_fit, X, idx, float(self.reg))
        return np.einsum("ik,ikd->id", W, self.embedding_[idx])


# ------------------------------------------------------------------------ DK-LLE
def _graph_of(precomputed):
    """A sparse graph and, from a fitted estimator, its kernel constants (a, b)."""
    if hasattr(precomputed, "graph_"):
        return precomputed.graph_, (getattr(precomputed, "a_", None), getattr(precomputed, "b_", None))
    if sp.issparse(precomputed) or hasattr(precomputed, "__array__"):
        return precomputed, (None, None)
    raise ValueError("precomputed_graph must be a sparse matrix, an array or a fitted ardr.UMAP "
                     f"(an estimator with graph_), got {type(precomputed).__name__}")


def fuzzy_graph(X, n_neighbors, *, metric="euclidean", knn_method="auto", random_state=0, n_jobs=-1,
                verbose=False):
    """UMAP's input kernel, by the same code ardr.UMAP runs: (P, knn indices, knn distances).

    ``n_neighbors`` counts the point itself, as in UMAP."""
    from ..graph.affinities import umap_graph

    idx, dist = nearest_neighbors(X, n_neighbors - 1, metric=metric, method=knn_method,
                                  random_state=random_state, n_jobs=n_jobs, verbose=verbose)
    return umap_graph(idx, dist, n_neighbors), idx, dist


def umap_start(P, dim, seed, *, one_epoch=False, a=None, b=None, negative_sample_rate=5):
    """ardr.UMAP's starting layout (spectral, jittered by 1e-4, scaled into [0, 10]^d);
    with ``one_epoch``, moved on by UMAP's first epoch that moves points.

    UMAP's epoch 0 visits no edge (an edge's first visit is at epoch max(p) / p >= 1),
    so "after one epoch" means after epoch 1, with UMAP's learning rate there and the
    edges pruned and sampled as ardr.UMAP does (same graph, schedule and seed)."""
    from .neighbor_embedding import ARDR
    from ..engine.numba.graph import SampledGraphForces
    from ..graph.initialization import spectral_layout
    from ..engine.optimize import Schedule, optimize

    n = P.shape[0]
    P = sp.csr_matrix(P, dtype=np.float32)  # ardr.UMAP's graph_ dtype: the same eigenvectors to the last bit
    Y = spectral_layout(P, dim, seed)
    Y = Y + np.random.default_rng(seed).normal(scale=1e-4, size=Y.shape)
    Y = _box_scale(Y)
    if one_epoch:
        n_epochs = 500 if n <= 10_000 else 200  # UMAP's default schedule length
        law = SampledGraphForces(ARDR._prune(P.tocsr(), n_epochs), n_epochs, a, b,
                                 negative_rate=negative_sample_rate, seed=seed)
        optimize(Y, law, Schedule(n_epochs=n_epochs, learning_rate=1.0, decay="linear"),
                 callbacks=[lambda epoch, _: epoch >= 1])
    return Y


def _box_scale(Y):
    """Scale each column into [0, 10] (umap-learn's convention for every start)."""
    span = Y.max(axis=0) - Y.min(axis=0)
    span[span <= 0] = 1.0
    return 10.0 * (Y - Y.min(axis=0)) / span


class DKLLE(EstimatorContract, BaseEstimator):
    """Double-kernel LLE (DESIGN 6a): LLE whose reconstruction weights come from UMAP's
    fuzzy input graph times the output kernel q = 1 / (1 + a t^b), with repulsive
    offsets from the output kernel, iterated to a stationary point of UMAP's effective
    objective J. Every outer iteration decreases J (backtracking line search).

    The input graph is built by the same code as ardr.UMAP's (``n_neighbors``,
    ``metric``), or given: ``precomputed_graph`` takes a sparse symmetric matrix or a
    fitted ardr.UMAP (its ``graph_``, ``a_`` and ``b_``), so a comparison with UMAP can
    use the very same P. ``init``: "spectral" (UMAP's start), "umap-epoch" (UMAP's state
    after its first epoch, which decides where isolated clusters land; DESIGN 6a),
    "pca", "random" or an array. ``repulsion``: "auto" (exact all-pairs sums up to
    ardr.engine.numba.dklle.EXACT_MAX_ROWS points, grid estimate above), "exact" or "grid".
    ``solver``: "auto" (sparse direct up to DIRECT_MAX_ROWS, conjugate gradients
    above), "direct" or "cg". ``damping``: the weight mu of the proximal term in the
    LLE step, relative to L_A's mean diagonal: a constant (default 1e-3; it also bounds
    the step of a graph component that nothing attaches to the rest) or "anneal"
    (1e-1 decaying geometrically to 1e-3 over the first two thirds of ``max_iter``,
    which keeps more of the start's global arrangement at the price of a higher final
    J). Iteration stops after ``max_iter`` outer iterations or when J decreases by less
    than ``tol`` (relative) in one. ``init="umap-epoch"`` is the start the comparisons
    with UMAP use (benchmarks/dklle.py, ``ardr reproduce dklle``).

    Attributes: ``embedding_``, ``objective_`` (J before each outer iteration and at
    the end), ``stationarity_`` (||L_A Y - L_R Y|| / ||L_R Y|| at the same points),
    ``step_lengths_``, ``cg_iterations_`` (per iteration; 0 for the direct solver),
    ``n_evaluations_`` (of J), ``n_iter_``, ``graph_``, ``a_``, ``b_``, ``timings_``, and
    ``knn_indices_``, ``knn_dists_`` when the graph was built here.
    """

    def __init__(self, n_neighbors=15, min_dist=0.1, negative_sample_rate=5, max_iter=150, init="spectral",
                 random_state=None, n_components=2, *, spread=1.0, metric="euclidean", repulsion="auto",
                 solver="auto", damping=1e-3, tol=1e-7, precomputed_graph=None, knn_method="auto",
                 n_jobs=-1, verbose=False):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.negative_sample_rate = negative_sample_rate
        self.max_iter = max_iter
        self.init = init
        self.random_state = random_state
        self.n_components = n_components
        self.spread = spread
        self.metric = metric
        self.repulsion = repulsion
        self.solver = solver
        self.damping = damping
        self.tol = tol
        self.precomputed_graph = precomputed_graph
        self.knn_method = knn_method
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_params(self):
        check_int(self.n_components, "n_components", low=1)
        check_int(self.negative_sample_rate, "negative_sample_rate", low=1)
        check_int(self.max_iter, "max_iter", low=1)
        check_float(self.tol, "tol", low=0.0)
        check_float(self.spread, "spread", low=0.0, low_inclusive=False)
        check_float(self.min_dist, "min_dist", low=0.0)
        check_choice(self.metric, "metric", METRICS)
        check_choice(self.repulsion, "repulsion", ("auto", "exact", "grid"))
        check_choice(self.solver, "solver", ("auto", "direct", "cg"))
        check_choice(self.knn_method, "knn_method", KNN_METHODS)
        if not (isinstance(self.damping, str) and self.damping == "anneal"):
            check_float(self.damping, "damping", low=0.0, low_inclusive=False)
        if isinstance(self.init, str):
            check_choice(self.init, "init", DKLLE_INITS)
        elif not hasattr(self.init, "__array__") and not isinstance(self.init, (list, tuple)):
            raise ValueError(f"unknown init {self.init!r}; choose one of {', '.join(map(repr, DKLLE_INITS))} "
                             "or an array")

    def fit(self, X=None, y=None):
        """Embed X (n_samples x n_features); X may be None when ``precomputed_graph`` is given."""
        from ..engine.numba import kernels
        from ..engine.numba.dklle import DKLLEForces, DKObjective, annealed_shift, check_graph
        from ..engine.optimize import Schedule, optimize

        self._check_params()
        if X is None and self.precomputed_graph is None:
            raise ValueError("DKLLE needs data X or a precomputed_graph")
        if X is not None:
            X = check_data(X, min_rows=3)
        if self.init == "pca" and X is None:
            raise ValueError("init='pca' needs the data X")
        seed = check_seed(self.random_state)
        dim = int(self.n_components)
        timings = {}
        with numba_threads(self.n_jobs):
            t0 = time.perf_counter()
            a = b = None
            if self.precomputed_graph is not None:
                graph, (a, b) = _graph_of(self.precomputed_graph)
                P = check_graph(graph, None if X is None else X.shape[0])
            else:
                n = X.shape[0]
                k = check_int(self.n_neighbors, "n_neighbors", low=2)
                if k > n:
                    warnings.warn(f"n_neighbors={k} exceeds the {n} rows; using n_neighbors={n}", stacklevel=2)
                    k = n
                P, self.knn_indices_, self.knn_dists_ = fuzzy_graph(
                    X, k, metric=self.metric, knn_method=self.knn_method, random_state=seed,
                    n_jobs=self.n_jobs, verbose=self.verbose)
                P = check_graph(P)
            if a is None or b is None:
                a, b = kernels.fit_ab(float(self.spread), float(self.min_dist))
            timings["graph"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            Y = self._initial_layout(X, P, dim, seed, a, b)
            timings["init"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            objective = DKObjective(P, a, b, self.negative_sample_rate, repulsion=self.repulsion, dim=dim)
            stages = {}
            shift = annealed_shift(int(self.max_iter)) if self.damping == "anneal" else float(self.damping)
            law = DKLLEForces(objective, solver=self.solver, shift=shift, tol=float(self.tol), timings=stages)
            progress = None
            if self.verbose:
                from tqdm.auto import tqdm

                progress = tqdm(total=int(self.max_iter), desc="DK-LLE", unit="iteration", leave=False)
            try:
                n_iter = optimize(Y, law, Schedule(n_epochs=int(self.max_iter), learning_rate=1.0),
                                  callbacks=[lambda epoch, _: law.converged], progress=progress)
            finally:
                if progress is not None:
                    progress.close()
            law.final(Y)
            timings["optimize"] = time.perf_counter() - t0
            timings.update({f"optimize_{k}": v for k, v in stages.items()})
        timings["total"] = timings["graph"] + timings["init"] + timings["optimize"]
        self.graph_ = P
        self.a_, self.b_ = a, b
        self.objective_ = np.array(law.objective_)
        self.stationarity_ = np.array(law.stationarity_)
        self.step_lengths_ = np.array(law.step_lengths_)
        self.cg_iterations_ = np.array(law.cg_iterations_)
        self.n_evaluations_ = law.n_evaluations
        self.n_iter_ = int(n_iter)
        self.repulsion_ = objective.repulsion.name
        self.solver_ = law.solver
        self.timings_ = timings
        self.embedding_ = Y.astype(np.float32)
        if X is not None:
            self.n_features_in_ = X.shape[1]
        return self

    def fit_transform(self, X=None, y=None):
        return self.fit(X, y).embedding_

    def _initial_layout(self, X, P, dim, seed, a, b):
        from ..graph.initialization import check_init_array, pca_layout, random_layout

        n = P.shape[0]
        init = self.init
        if not isinstance(init, str):
            return check_init_array(init, n, dim)
        if init in ("spectral", "umap-epoch"):
            return umap_start(P, dim, seed, one_epoch=init == "umap-epoch", a=a, b=b,
                              negative_sample_rate=int(self.negative_sample_rate))
        if init == "pca":
            return _box_scale(pca_layout(X, dim, seed))
        return random_layout(n, dim, seed)

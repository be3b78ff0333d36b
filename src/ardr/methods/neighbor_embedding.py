"""scikit-learn style estimators. Thin: they check parameters, then run the pipeline
kNN -> input kernel -> initial layout -> force law on the one optimizer."""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..graph import affinities, initialization, ordering
from ..engine.numba import kernels
from .._threads import numba_threads
from .._validation import check_choice, check_data, check_float, check_int, check_n_features, check_seed
from ._contract import EstimatorContract
from ..graph.affinities import check_affinities
from ..graph.distances import canonical as canonical_metric
from ..graph.neighbors import METHODS as KNN_METHODS, check_precomputed, exact_knn
from ..engine.optimize import Schedule, optimize
from .backends import check_backend, get_backend

INPUT_KERNELS = ("umap", "tsne")
REPULSIONS = ("auto", "sampled", "exact", "fft")
INITS = ("spectral", "pca", "random")
# scikit-learn's TSNE(method=...): "barnes_hut" leaves the choice to ``repulsion``
TSNE_METHODS = ("barnes_hut", "exact")
# tSNE's repulsion: exact below this, FFT interpolation above (mnist5k: FFT 16 s vs exact
# 59 s for the same trustworthiness 0.9826; digits: 15 s vs 17 s, so digits stays exact).
EXACT_REPULSION_MAX_ROWS = 2000
# Race-free UMAP moves all points together; splitting each epoch into 4 steps brings its
# quality to umap-learn's sequential SGD (mnist5k, 3 seeds: trustworthiness@10
# 0.9603 with 1 step, 0.9634 with 4, 0.9631 with 16; umap-learn 0.9637).
UMAP_STEPS_PER_EPOCH = 4
# Longest step a UMAP point may take: 4 clipped terms (4 x 4). Race-free, a point's
# step sums all its terms at the same positions. From a spectral start squeezed into a
# tiny body (GloVe 100k: half the points within 0.006 of the centre, 99% within 3)
# every push saturates the clip, and the first step threw points up to 139 from the
# centre; umap-learn's sequential SGD, whose later terms see the earlier moves, reaches
# 17 after its first epoch. From the 10th epoch on, at most 8 point-steps of a whole
# run exceed 16 (GloVe 100k, mnist5k, digits), so the cap binds almost only there.
UMAP_MAX_STEP = 16.0


class ARDR(EstimatorContract, TransformerMixin, BaseEstimator):
    """Attraction/repulsion dimensionality reduction: the general estimator.

    An input kernel (``input_kernel``: UMAP's fuzzy graph or tSNE's perplexity
    affinities), an output kernel q(d) = 1 / (1 + a d^{2b}) and a force law. With
    ``normalized=False`` the force law is UMAP's sampled cross-entropy; with
    ``normalized=True`` it is tSNE's KL divergence (P and Q normalized over all pairs)
    with the repulsion estimated by ``repulsion``: "sampled" (negative samples, the
    ActUp/GiDR-DUN way), "exact" (all pairs) or "fft" (grid interpolation, Student-t
    kernel only). ``UMAP`` and ``TSNE`` are presets of this class.

    Normalized options (openTSNE's): ``exaggeration`` (constant, after the early phase),
    ``dof`` (heavy-tailed kernel (1 + a d^2b / dof)^-dof; dof < 1 heavier tails), a list
    of perplexities (multiscale: the Gaussian kernels' conditional P averaged),
    ``callbacks(iteration, error, embedding)`` every ``callbacks_every_iters`` iterations
    (one returning True stops the run), and ``fit(X, affinities=P)`` with a user's
    symmetric P (sparse or dense, or an object with a ``P`` attribute, as openTSNE's).

    ``backend="numba"`` (default) runs on the CPU's compiled kernels; ``backend="torch"``
    runs the neighbour search, input kernel and force law on a torch ``device`` ("cpu",
    "cuda", "cuda:N"; None: "cuda" when available, else "cpu"; ``pip install ardr[torch]``).

    Attributes after fit: ``embedding_`` (float32), ``graph_`` (sparse input kernel),
    ``knn_indices_``, ``knn_dists_``, ``a_``, ``b_``, ``n_epochs_``, ``timings_``
    (seconds per stage), ``n_features_in_``, ``n_iter_`` (iterations run: fewer when a
    callback stopped the run); normalized methods also ``kl_divergence_`` (= ``final_objective_``).
    """

    # private state that transform needs, saved by ``save`` (ardr.io)
    _saved_state = ("_X_fit", "_cfg", "_seed", "_k")

    def __init__(self, n_neighbors=15, n_components=2, *, input_kernel="umap", normalized=False,
                 perplexity=30.0, min_dist=0.1, spread=1.0, a=None, b=None, metric="euclidean",
                 metric_kwds=None, n_epochs=None, learning_rate="auto", negative_sample_rate=5, repulsion="auto",
                 early_exaggeration=None, exaggeration_epochs=250, init="spectral",
                 precomputed_knn=None, knn_method="auto", random_state=None, n_jobs=-1, verbose=False,
                 exaggeration=None, dof=1.0, callbacks=None, callbacks_every_iters=50, backend="numba",
                 device=None):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.input_kernel = input_kernel
        self.normalized = normalized
        self.perplexity = perplexity
        self.min_dist = min_dist
        self.spread = spread
        self.a = a
        self.b = b
        self.metric = metric
        self.metric_kwds = metric_kwds
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.negative_sample_rate = negative_sample_rate
        self.repulsion = repulsion
        self.early_exaggeration = early_exaggeration
        self.exaggeration_epochs = exaggeration_epochs
        self.init = init
        self.precomputed_knn = precomputed_knn
        self.knn_method = knn_method
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.exaggeration = exaggeration
        self.dof = dof
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.backend = backend
        self.device = device

    def _config(self):
        """The engine's settings; presets translate their own parameters here."""
        from types import SimpleNamespace

        return SimpleNamespace(**ARDR.get_params(self, deep=False)) if type(self) is ARDR else self._preset()

    # ------------------------------------------------------------------ checks
    def _check_params(self, n):
        c = self._cfg
        check_choice(c.input_kernel, "input_kernel", INPUT_KERNELS)
        canonical_metric(c.metric, c.metric_kwds)
        check_choice(c.repulsion, "repulsion", REPULSIONS)
        check_choice(c.knn_method, "knn_method", KNN_METHODS)
        check_backend(c.backend)
        if not isinstance(c.normalized, (bool, np.bool_)):
            raise ValueError(f"normalized must be True or False, got {c.normalized!r}")
        check_int(c.n_components, "n_components", low=1)
        check_int(c.negative_sample_rate, "negative_sample_rate", low=1)
        check_int(c.exaggeration_epochs, "exaggeration_epochs", low=0)
        if c.n_epochs is not None:
            check_int(c.n_epochs, "n_epochs", low=1)
        if c.learning_rate != "auto":
            check_float(c.learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        if c.early_exaggeration is not None and not (isinstance(c.early_exaggeration, str)
                                                     and c.early_exaggeration == "auto"):
            check_float(c.early_exaggeration, "early_exaggeration", low=0.0, low_inclusive=False)
        if c.exaggeration is not None:
            check_float(c.exaggeration, "exaggeration", low=0.0, low_inclusive=False)
        dof = check_float(c.dof, "dof", low=0.0, low_inclusive=False)
        if dof != 1.0 and not c.normalized:
            raise ValueError("dof shapes the normalized (tSNE) objective's kernel; it needs normalized=True")
        check_int(c.callbacks_every_iters, "callbacks_every_iters", low=1)
        self._callbacks = _check_callbacks(c.callbacks)
        if self._callbacks and not c.normalized:
            raise ValueError("callbacks receive tSNE's KL divergence; they need normalized=True")
        if not (isinstance(c.init, str) and c.init in INITS) and not hasattr(c.init, "__array__") \
                and not isinstance(c.init, (list, tuple)):
            raise ValueError(f"unknown init {c.init!r}; choose one of {', '.join(map(repr, INITS))} or an array")
        if c.a is not None or c.b is not None:
            if c.a is None or c.b is None:
                raise ValueError("give both a and b, or neither")
            a = check_float(c.a, "a", low=0.0, low_inclusive=False)
            b = check_float(c.b, "b", low=0.0, low_inclusive=False)
        else:
            check_float(c.spread, "spread", low=0.0, low_inclusive=False)
            check_float(c.min_dist, "min_dist", low=0.0)
            a, b = kernels.fit_ab(c.spread, c.min_dist)
        if c.repulsion == "fft" and ((a, b) != (1.0, 1.0) or c.n_components > 2 or not c.normalized):
            raise ValueError("repulsion='fft' needs normalized=True, the Student-t kernel (a = b = 1) "
                             "and n_components <= 2")
        if c.input_kernel == "umap":
            k = check_int(c.n_neighbors, "n_neighbors", low=2)
            if k > n:
                warnings.warn(f"n_neighbors={k} exceeds the {n} rows; using n_neighbors={n}", stacklevel=3)
                k = n
            n_knn = k - 1  # UMAP's n_neighbors counts the point itself
        else:
            k = _check_perplexities(c.perplexity, n)
            n_knn = min(n - 1, max(1, int(3 * max(k))))
        return a, b, k, n_knn

    # --------------------------------------------------------------- pipeline
    def fit(self, X=None, y=None, *, affinities=None):
        """Embed X (n_samples x n_features, dense or sparse CSR; with ``metric="precomputed"``
        a square distance matrix). ``affinities``: a symmetric P to use instead of the input
        kernel (then X may be None; it is still used for ``init="pca"`` and ``transform``)."""
        self._cfg = c = self._config()
        P_user = None
        if affinities is not None:
            if not c.normalized:
                raise ValueError("affinities are a normalized (tSNE) input; they need normalized=True")
            P_user = check_affinities(affinities)
        if X is None:
            if P_user is None:
                raise ValueError("fit needs X, or affinities with normalized=True")
        else:
            X = self._check_fit_data(X)
            if P_user is not None and P_user.shape[0] != X.shape[0]:
                raise ValueError(f"affinities are {P_user.shape[0]} x {P_user.shape[0]} but X has {X.shape[0]} rows")
        n = X.shape[0] if X is not None else P_user.shape[0]
        if n < 2:
            raise ValueError(f"affinities have {n} sample(s); at least 2 are needed")
        a, b, k, n_knn = self._check_params(n)
        seed = check_seed(c.random_state)
        if X is not None:
            self.n_features_in_ = X.shape[1]
        self.a_, self.b_ = a, b
        self._k = k
        backend = self._engine()
        timings = {}
        with numba_threads(c.n_jobs):
            t0 = time.perf_counter()
            if P_user is not None:
                idx = dist = None
            elif c.precomputed_knn is not None:
                idx, dist = check_precomputed(c.precomputed_knn, n, n_knn)
            else:
                idx, dist = backend.nearest_neighbors(X, n_knn, metric=c.metric, metric_kwds=c.metric_kwds,
                                                      method=c.knn_method, random_state=seed, n_jobs=c.n_jobs,
                                                      verbose=c.verbose)
            timings["knn"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            P = self._input_kernel(idx, dist, k) if P_user is None else P_user
            timings["graph"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            Y = self._initial_layout(X, P, seed, n)
            timings["init"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            self.knn_indices_, self.knn_dists_ = idx, dist
            self.n_epochs_ = self._default_epochs(n)
            P_used = self._prune(P, self.n_epochs_) if not c.normalized else P
            # optimize in a cache-friendly numbering of the points, then number them back
            order = ordering.locality_order(P_used) if backend.reorders_points else np.arange(n)
            if backend.reorders_points:
                P_used, Y = ordering.permute_graph(P_used, order), Y[order]
            law, schedule = self._force_law(P_used, Y, a, b, seed, n, self.n_epochs_)
            hooks = self._callback_hooks(P_used, law, order)
            self.n_iter_ = self._optimize(Y, law, schedule, "optimize", callbacks=hooks)
            timings["optimize"] = time.perf_counter() - t0
            if c.normalized:
                self.final_objective_ = self.kl_divergence_ = backend.kl_divergence(
                    P_used, Y, a, b, law.repulsion, c.dof)
            Y[order] = Y.copy()
        timings["total"] = sum(timings.values())
        self.timings_ = timings
        self.graph_ = P
        self._X_fit = X
        self._seed = seed
        self.embedding_ = Y.astype(np.float32)
        return self

    def fit_transform(self, X=None, y=None, *, affinities=None):
        return self.fit(X, y, affinities=affinities).embedding_

    def _check_fit_data(self, X):
        """The data as the neighbour search takes it; a precomputed distance matrix must be square."""
        if self._cfg.metric != "precomputed":
            return check_data(X, min_rows=2, accept_sparse=True)  # sparse rows stay sparse
        D = check_data(X, name="the precomputed distance matrix", min_rows=2, accept_sparse=True)
        if D.shape[0] != D.shape[1] or (D.data if hasattr(D, "tocsr") else D).min() < 0:
            raise ValueError(f"metric='precomputed' needs a square matrix of non-negative distances, "
                             f"got shape {D.shape}")
        return D

    def _engine(self):
        """The backend of this configuration (``ardr.methods.backends``)."""
        c = self._cfg
        return get_backend(getattr(c, "backend", "numba"), getattr(c, "device", None))

    def _input_kernel(self, idx, dist, k):
        c = self._cfg
        if c.input_kernel == "umap":
            P = self._engine().umap_graph(idx, dist, k)
            if c.normalized:
                P = P.copy()
                P.data /= P.data.sum()
            return P
        return self._engine().tsne_affinities(idx, dist, k)  # k: one perplexity or several (multiscale)

    def _default_epochs(self, n):
        c = self._cfg
        if c.n_epochs is not None:
            return int(c.n_epochs)
        if c.normalized:
            return 750
        return 500 if n <= 10_000 else 200

    @staticmethod
    def _prune(P, n_epochs):
        """UMAP drops edges too weak to be sampled even once in n_epochs."""
        P = P.copy()
        P.data[P.data < P.data.max() / n_epochs] = 0.0
        P.eliminate_zeros()
        return P

    def _initial_layout(self, X, P, seed, n=None):
        c = self._cfg
        n = X.shape[0] if n is None else n
        dim = c.n_components
        init = c.init
        if isinstance(init, str) and init == "pca" and (X is None or c.metric == "precomputed"):
            # openTSNE's choice: PCA needs the data's coordinates
            why = "no X was given" if X is None else "metric='precomputed' gives distances, not coordinates"
            warnings.warn(f"init='pca' is impossible: {why}; using init='spectral'", stacklevel=3)
            init = "spectral"
        if isinstance(init, str):
            if init == "spectral":
                Y = initialization.spectral_layout(P, dim, seed)
            elif init == "pca":
                Y = initialization.pca_layout(X, dim, seed)
            else:
                Y = initialization.random_layout(n, dim, seed)
        else:
            Y = initialization.check_init_array(init, n, dim)
        rng = np.random.default_rng(seed)
        if c.normalized:
            # tSNE convention: the start is tiny (std 1e-4) so early exaggeration can form clusters
            std = Y[:, 0].std()
            if not std > 0:
                Y = rng.normal(size=Y.shape)
                std = Y[:, 0].std()
            return Y / std * 1e-4
        if isinstance(init, str) and init == "spectral":
            Y = Y + rng.normal(scale=1e-4, size=Y.shape)
        # umap-learn scales every start into [0, 10]^d
        span = Y.max(axis=0) - Y.min(axis=0)
        span[span <= 0] = 1.0
        return 10.0 * (Y - Y.min(axis=0)) / span

    def _repulsion_estimator(self, n, a, b, seed, P):
        c = self._cfg
        choice = c.repulsion
        if choice == "auto":
            if c.input_kernel == "umap" or (a, b) != (1.0, 1.0):
                choice = "sampled"
            elif n <= EXACT_REPULSION_MAX_ROWS:
                choice = "exact"
            else:
                choice = "fft" if c.n_components <= 2 else "sampled"
        estimators = self._engine().repulsion
        if choice == "exact":
            return estimators.Exact()
        if choice == "fft":
            return estimators.FFT()
        # As many partners per point as UMAP draws per epoch (rate x neighbours): the
        # per-point estimate is noisy, Z (a sum over all samples) is not.
        neighbours = self.knn_indices_.shape[1] if self.knn_indices_ is not None else max(1, P.nnz // n)
        return estimators.Sampled(c.negative_sample_rate * neighbours, seed)

    def _force_law(self, P, Y, a, b, seed, n, n_epochs, tail=None):
        """The force law and schedule of this configuration (fit: tail None; transform: fixed tail)."""
        c = self._cfg
        if not c.normalized:
            batches = UMAP_STEPS_PER_EPOCH
            law = self._engine().SampledGraphForces(P, n_epochs, a, b, negative_rate=c.negative_sample_rate,
                                                    seed=seed, tail=tail, n_batches=batches)
            lr = 1.0 if c.learning_rate == "auto" else float(c.learning_rate)
            return law, Schedule(n_epochs=n_epochs * batches, learning_rate=lr, decay="linear",
                                 max_step_norm=UMAP_MAX_STEP)
        # openTSNE: early exaggeration "auto" is max(12, the later exaggeration); new
        # points (transform) are placed without exaggeration
        late = float(c.exaggeration) if c.exaggeration is not None and tail is None else 1.0
        auto = c.early_exaggeration is None or isinstance(c.early_exaggeration, str)
        exaggeration = max(12.0, late) if auto else float(c.early_exaggeration)
        early = min(c.exaggeration_epochs, n_epochs) if tail is None else 0

        def exaggeration_at(epoch):
            return exaggeration if epoch < early else late

        law = self._engine().NormalizedForces(P, a, b, self._repulsion_estimator(n, a, b, seed, P),
                                              exaggeration=exaggeration_at, tail=tail, dof=c.dof)
        if c.learning_rate == "auto":
            # openTSNE / Belkina et al.: n / exaggeration, at least 200 (KL gradient / 4 units);
            # a tenth of that when the repulsion is sampled, whose noise the gains would
            # otherwise amplify (measured on digits: 5-NN accuracy 0.28 at 1x, 0.989 at 0.1x).
            scale = 0.1 if law.repulsion.name == "sampled" else 1.0

            def lr(epoch):
                return scale * max(200.0, n / exaggeration_at(epoch))
        else:
            lr = float(c.learning_rate)
        schedule = Schedule(n_epochs=n_epochs, learning_rate=lr, momentum=0.8, early_momentum=0.5,
                            early_epochs=early, gains=True, max_step_norm=5.0)
        return law, schedule

    def _optimize(self, Y, law, schedule, desc, callbacks=()):
        """Move Y (numpy, in place) along the law in the backend's arrays; returns the number
        of epochs run. Callbacks see the backend's arrays."""
        c = self._cfg
        backend = self._engine()
        moving = backend.asarray(Y)
        progress = None
        if c.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(total=schedule.n_epochs, desc=desc, unit="step", leave=False)
        try:
            return optimize(moving, law, schedule, callbacks=callbacks, progress=progress)
        finally:
            if progress is not None:
                progress.close()
            if moving is not Y:
                Y[...] = backend.to_numpy(moving)

    def _callback_hooks(self, P, law, order):
        """The user's callbacks as optimizer hooks, with openTSNE's semantics: every
        ``callbacks_every_iters`` iterations each gets (iteration, KL divergence, a copy of
        the embedding in the data's row order); one returning True stops the run."""
        callbacks = self._callbacks
        if not callbacks:
            return ()
        c = self._cfg
        every = int(c.callbacks_every_iters)
        for callback in callbacks:
            getattr(callback, "optimization_about_to_start", lambda: None)()

        def hook(epoch, Y):
            if (epoch + 1) % every:
                return False
            backend = self._engine()
            error = backend.kl_divergence(P, Y, law.a, law.b, law.repulsion, law.dof)
            embedding = np.empty((Y.shape[0], Y.shape[1]))
            embedding[order] = backend.to_numpy(Y)
            return any(bool(callback(epoch + 1, error, embedding)) for callback in callbacks)

        return (hook,)

    # -------------------------------------------------------------- transform
    def transform(self, X):
        """Place new points against the fitted embedding; the fitted points do not move."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "embedding_")
        c = self._cfg
        if self._X_fit is None:
            raise ValueError(f"this {type(self).__name__} was fitted on affinities alone; transform needs the "
                             "training data: fit(X, affinities=P)")
        X = check_n_features(self, check_data(X, min_rows=1, accept_sparse=True))
        n_fit, m = self._X_fit.shape[0], X.shape[0]
        ref = self.embedding_.astype(np.float64)
        with numba_threads(c.n_jobs):
            # fitted on a user's affinities: as many neighbours as the perplexity's kNN
            width = self.knn_indices_.shape[1] if self.knn_indices_ is not None else int(3 * np.max(self._k))
            n_knn = min(n_fit, width + (1 if c.input_kernel == "umap" else 0))
            n_knn = max(1, min(n_knn, n_fit))
            # with metric="precomputed", X holds the distances from the new points to the fitted ones
            idx, dist = exact_knn(self._X_fit, n_knn, metric=c.metric, metric_kwds=c.metric_kwds, queries=X,
                                  exclude_self=False)
            if c.input_kernel == "umap":
                weights = affinities.membership_strengths(dist, self._k)
            else:
                weights = affinities.conditional_gaussian(dist, np.minimum(self._k, max(1.0, n_knn / 3.0)))
            import scipy.sparse as sp

            rows = np.repeat(np.arange(m), idx.shape[1])
            P = sp.csr_matrix((weights.ravel().astype(np.float64), (rows, idx.ravel())), shape=(m, n_fit))
            P.sort_indices()
            row_sum = np.asarray(P.sum(axis=1)).ravel()
            row_sum[row_sum <= 0] = 1.0
            Y = np.asarray((P.multiply(1.0 / row_sum[:, None])) @ ref)
            seed = self._seed + 1
            if c.normalized:
                P = P.multiply(1.0 / (row_sum[:, None] * m)).tocsr()
                law, schedule = self._force_law(P, Y, self.a_, self.b_, seed, n_fit, 250, tail=ref)
                schedule.learning_rate = 0.1 * m
                schedule.early_epochs = 0
                schedule.max_step_norm = 1.0
            else:
                n_epochs = max(1, self.n_epochs_ // 3)
                P = self._prune(P.tocsr(), n_epochs)
                law, schedule = self._force_law(P, Y, self.a_, self.b_, seed, n_fit, n_epochs, tail=ref)
                schedule.learning_rate = schedule.learning_rate / 4.0
            self._optimize(Y, law, schedule, "transform")
        return Y.astype(np.float32)


def _check_perplexities(perplexity, n):
    """One perplexity or several (openTSNE's multiscale), each > 0; those too large for n
    rows are reduced (with a warning) to (n - 1) / 3, as openTSNE does."""
    values = np.atleast_1d(np.asarray(perplexity, dtype=object))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"perplexity must be a number or a non-empty list of numbers, got {perplexity!r}")
    largest = max((n - 1) / 3.0, 1.0 if n > 2 else 0.5)
    out = []
    for value in values:
        value = check_float(value, "perplexity", low=0.0, low_inclusive=False)
        if 3 * value > n - 1:
            warnings.warn(f"perplexity={value:g} is too large for {n} rows; using perplexity={largest:.3g}",
                          stacklevel=4)
            value = largest
        if value not in out:
            out.append(value)
    return tuple(out)


def _check_callbacks(callbacks):
    """None, one callable or a list of callables, as a list."""
    if callbacks is None:
        return []
    listed = [callbacks] if callable(callbacks) else callbacks
    if not isinstance(listed, (list, tuple)) or not all(callable(cb) for cb in listed):
        raise ValueError(f"callbacks must be a callable or a list of callables, got {callbacks!r}")
    return list(listed)


class UMAP(ARDR):
    """UMAP on the ardr engine: umap-learn's defaults and schedule, race-free and
    deterministic by seed. ``normalized=True`` switches to tSNE's normalization (same
    graph and kernel, KL divergence with sampled repulsion and tSNE's optimizer)."""

    def __init__(self, n_neighbors=15, min_dist=0.1, spread=1.0, n_components=2, metric="euclidean",
                 n_epochs=None, learning_rate=1.0, negative_sample_rate=5, init="spectral",
                 random_state=None, n_jobs=-1, verbose=False, *, metric_kwds=None, normalized=False,
                 precomputed_knn=None, knn_method="auto", backend="numba", device=None):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.spread = spread
        self.n_components = n_components
        self.metric = metric
        self.metric_kwds = metric_kwds
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.negative_sample_rate = negative_sample_rate
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.normalized = normalized
        self.precomputed_knn = precomputed_knn
        self.knn_method = knn_method
        self.backend = backend
        self.device = device

    def _preset(self):
        from types import SimpleNamespace

        p = self.get_params(deep=False)
        if p["normalized"]:
            p["learning_rate"] = "auto"  # UMAP's rate 1.0 has no meaning in tSNE's units
        return SimpleNamespace(**ARDR().get_params(deep=False) | p | {"input_kernel": "umap"})


class TSNE(ARDR):
    """tSNE on the ardr engine: perplexity affinities, Student-t output kernel, KL
    divergence with exact (small n) or FFT-interpolated repulsion, openTSNE's schedule
    (early exaggeration 12 for 250 iterations with momentum 0.5, then 0.8; gains).

    Parameters after ``n_components`` are keyword-only (scikit-learn's and openTSNE's
    first parameter is ``n_components``). Peers' spellings: ``max_iter`` is the total
    number of iterations, early exaggeration included (scikit-learn's meaning; openTSNE's
    ``n_iter`` counts only the iterations after it); ``n_iter`` is its deprecated name;
    ``method`` is scikit-learn's choice of repulsion ("exact", or "barnes_hut", which
    leaves ``repulsion`` to choose: exact or FFT, both at least as accurate as a
    Barnes-Hut tree). A numeric ``learning_rate`` is in openTSNE's units, 4x scikit-learn's
    (whose gradient carries the factor 4). See ``ARDR`` for ``exaggeration``, ``dof``,
    multiscale ``perplexity``, ``callbacks`` and ``fit(X, affinities=P)``.
    """

    def __init__(self, n_components=2, *, perplexity=30.0, early_exaggeration="auto", exaggeration=None,
                 dof=1.0, learning_rate="auto", max_iter=None, exaggeration_epochs=250, init="pca",
                 metric="euclidean", metric_kwds=None, method=None, repulsion="auto", callbacks=None, callbacks_every_iters=50,
                 random_state=None, n_jobs=-1, verbose=False, negative_sample_rate=5, precomputed_knn=None,
                 knn_method="auto", n_iter="deprecated", backend="numba", device=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.exaggeration = exaggeration
        self.dof = dof
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.exaggeration_epochs = exaggeration_epochs
        self.init = init
        self.metric = metric
        self.metric_kwds = metric_kwds
        self.method = method
        self.repulsion = repulsion
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.negative_sample_rate = negative_sample_rate
        self.precomputed_knn = precomputed_knn
        self.knn_method = knn_method
        self.n_iter = n_iter
        self.backend = backend
        self.device = device

    def _preset(self):
        from types import SimpleNamespace

        p = self.get_params(deep=False)
        n_iter, max_iter, method = p.pop("n_iter"), p.pop("max_iter"), p.pop("method")
        if not (isinstance(n_iter, str) and n_iter == "deprecated"):
            if max_iter is not None:
                raise ValueError("give max_iter only (n_iter is its deprecated name)")
            warnings.warn("n_iter was renamed max_iter (scikit-learn's name; the total number of iterations, "
                          "early exaggeration included) and will be removed", FutureWarning, stacklevel=4)
            max_iter = n_iter
        p["n_epochs"] = 750 if max_iter is None else max_iter
        if method is not None:
            check_choice(method, "method", TSNE_METHODS)
            if method == "exact":
                if p["repulsion"] not in ("auto", "exact"):
                    raise ValueError(f"method='exact' contradicts repulsion={p['repulsion']!r}")
                p["repulsion"] = "exact"
        fixed = {"input_kernel": "tsne", "normalized": True, "a": 1.0, "b": 1.0}
        return SimpleNamespace(**ARDR().get_params(deep=False) | p | fixed)

"""scikit-learn style estimators. Thin: they check parameters, then run the pipeline
kNN -> input kernel -> initial layout -> force law on the one optimizer."""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..graph import affinities, initialization, ordering, radii, supervision
from ..engine.numba import kernels
from .._threads import numba_threads
from .._validation import check_choice, check_data, check_float, check_int, check_seed
from ..engine.numba import graph as graph_forces
from ..engine.numba.density import DensityTerm
from ..io import SaveMixin
from ..engine.numba import repulsion as repulsion_estimators
from ..graph.neighbors import METHODS as KNN_METHODS, METRICS, check_precomputed, exact_knn, nearest_neighbors
from ..engine.optimize import Schedule, optimize
from . import placement, umap_options
from .inverse_map import inverse_map

INPUT_KERNELS = ("umap", "tsne")
REPULSIONS = ("auto", "sampled", "exact", "fft")
# "tswspectral" is umap-learn's spectral start with a truncated-SVD warm start for its
# eigensolver: the same eigenvectors, so ardr computes it as "spectral"
INITS = ("spectral", "tswspectral", "pca", "random")
# densMAP runs this many epochs more than UMAP's default, as umap-learn does
DENSMAP_EXTRA_EPOCHS = 200
# tSNE's repulsion: exact below this, FFT interpolation above (mnist5k: FFT 16 s vs exact
# 59 s for the same trustworthiness 0.9826; digits: 15 s vs 17 s, so digits stays exact).
EXACT_REPULSION_MAX_ROWS = 2000
# Race-free UMAP moves all points together; splitting each epoch into 4 steps brings its
# quality to umap-learn's sequential SGD (mnist5k, 3 seeds: trustworthiness@10
# 0.9603 with 1 step, 0.9634 with 4, 0.9631 with 16; umap-learn 0.9637).
UMAP_STEPS_PER_EPOCH = 4


class ARDR(SaveMixin, TransformerMixin, BaseEstimator):
    """Attraction/repulsion dimensionality reduction: the general estimator.

    An input kernel (``input_kernel``: UMAP's fuzzy graph or tSNE's perplexity
    affinities), an output kernel q(d) = 1 / (1 + a d^{2b}) and a force law. With
    ``normalized=False`` the force law is UMAP's sampled cross-entropy; with
    ``normalized=True`` it is tSNE's KL divergence (P and Q normalized over all pairs)
    with the repulsion estimated by ``repulsion``: "sampled" (negative samples, the
    ActUp/GiDR-DUN way), "exact" (all pairs) or "fft" (grid interpolation, Student-t
    kernel only). ``UMAP`` and ``TSNE`` are presets of this class.

    umap-learn's options (the README's table): ``set_op_mix_ratio``,
    ``local_connectivity`` and ``disconnection_distance`` shape the UMAP graph;
    ``fit(X, y)`` intersects it with the target's (``target_metric``: "categorical",
    with y = -1 for unlabelled points, or a metric such as "l2" for a continuous y;
    ``target_weight``, ``target_n_neighbors``); ``repulsion_strength`` weights the
    sampled repulsion; ``densmap`` adds densMAP's density term (``dens_lambda``,
    ``dens_frac``, ``dens_var_shift``); ``output_dens`` sets ``rad_orig_`` and
    ``rad_emb_``; ``unique`` embeds each distinct row once; ``tqdm_kwds`` goes to the
    progress bar.

    Attributes after fit: ``embedding_`` (the input's dtype when float32 or float64,
    else float64), ``graph_`` (sparse input kernel), ``knn_indices_``, ``knn_dists_``,
    ``a_``, ``b_``, ``n_epochs_``, ``timings_`` (seconds per stage),
    ``n_features_in_``; normalized methods also ``kl_divergence_``
    (= ``final_objective_``); ``output_dens`` also ``rad_orig_`` and ``rad_emb_``.
    """

    # private state that transform needs, saved by ``save`` (ardr.io)
    _saved_state = ("_X_fit", "_cfg", "_seed", "_k", "_unique_inverse")

    def __init__(self, n_neighbors=15, n_components=2, metric="euclidean", *, input_kernel="umap",
                 normalized=False, perplexity=30.0, min_dist=0.1, spread=1.0, a=None, b=None, n_epochs=None, learning_rate="auto", negative_sample_rate=5, repulsion="auto",
                 early_exaggeration=None, exaggeration_epochs=250, init="spectral",
                 precomputed_knn=None, knn_method="auto", random_state=None, n_jobs=-1, verbose=False,
                 set_op_mix_ratio=1.0, local_connectivity=1.0, disconnection_distance=None,
                 repulsion_strength=1.0, target_n_neighbors=-1, target_metric="categorical",
                 target_weight=0.5, densmap=False, dens_lambda=2.0, dens_frac=0.3, dens_var_shift=0.1,
                 output_dens=False, unique=False, tqdm_kwds=None):
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
        self.set_op_mix_ratio = set_op_mix_ratio
        self.local_connectivity = local_connectivity
        self.disconnection_distance = disconnection_distance
        self.repulsion_strength = repulsion_strength
        self.target_n_neighbors = target_n_neighbors
        self.target_metric = target_metric
        self.target_weight = target_weight
        self.densmap = densmap
        self.dens_lambda = dens_lambda
        self.dens_frac = dens_frac
        self.dens_var_shift = dens_var_shift
        self.output_dens = output_dens
        self.unique = unique
        self.tqdm_kwds = tqdm_kwds

    def _config(self):
        """The engine's settings; presets translate their own parameters here."""
        from types import SimpleNamespace

        return SimpleNamespace(**ARDR.get_params(self, deep=False)) if type(self) is ARDR else self._preset()

    def _settings(self):
        """The fitted configuration; a model saved by an older ardr gets umap-learn's
        defaults for the options it predates."""
        from types import SimpleNamespace

        c = self._cfg
        missing = {k: v for k, v in umap_options.DEFAULTS.items() if not hasattr(c, k)}
        return SimpleNamespace(**vars(c), **missing) if missing else c

    # ------------------------------------------------------------------ checks
    def _check_params(self, n):
        c = self._settings()
        check_choice(c.input_kernel, "input_kernel", INPUT_KERNELS)
        check_choice(c.metric, "metric", METRICS)
        check_choice(c.repulsion, "repulsion", REPULSIONS)
        check_choice(c.knn_method, "knn_method", KNN_METHODS)
        if not isinstance(c.normalized, (bool, np.bool_)):
            raise ValueError(f"normalized must be True or False, got {c.normalized!r}")
        check_int(c.n_components, "n_components", low=1)
        check_int(c.negative_sample_rate, "negative_sample_rate", low=1)
        check_int(c.exaggeration_epochs, "exaggeration_epochs", low=0)
        if c.n_epochs is not None:
            check_int(c.n_epochs, "n_epochs", low=1)
        if c.learning_rate != "auto":
            check_float(c.learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        if c.early_exaggeration is not None:
            check_float(c.early_exaggeration, "early_exaggeration", low=0.0, low_inclusive=False)
        umap_options.check_options(c, METRICS)
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
            perplexity = check_float(c.perplexity, "perplexity", low=0.0, low_inclusive=False)
            if 3 * perplexity > n - 1:
                perplexity = max((n - 1) / 3.0, 1.0 if n > 2 else 0.5)
                warnings.warn(f"perplexity={c.perplexity} is too large for {n} rows; "
                              f"using perplexity={perplexity:.3g}", stacklevel=3)
            k = perplexity
            n_knn = min(n - 1, max(1, int(3 * perplexity)))
        return a, b, k, n_knn

    def _check_target(self, y, n):
        """y for the supervised graph, or None; a method that cannot use y says so."""
        c = self._settings()
        if y is None:
            return None
        if c.input_kernel != "umap":
            warnings.warn(f"{type(self).__name__} ignores y: supervision intersects UMAP's fuzzy graph "
                          "(input_kernel='umap'); use ardr.UMAP(...).fit(X, y)", stacklevel=3)
            return None
        return supervision.check_target(y, n, c.target_metric)

    # --------------------------------------------------------------- pipeline
    def fit(self, X, y=None):
        """Embed X (n_samples x n_features); with y, a supervised (or, with y = -1 for
        unlabelled rows, semi-supervised) UMAP embedding."""
        dtype = placement.output_dtype(X)
        X = check_data(X, min_rows=2)
        self._cfg = c = self._config()
        self.n_features_in_ = X.shape[1]
        self._unique_inverse = None
        if c.unique:
            kept, self._unique_inverse = umap_options.unique_rows(X)
            y = umap_options.rows_of(y, kept, X.shape[0])
            X = X[kept]
            if X.shape[0] < 2:
                raise ValueError("X has fewer than 2 distinct rows")
        n = X.shape[0]
        a, b, k, n_knn = self._check_params(n)
        target = self._check_target(y, n)
        seed = check_seed(c.random_state)
        self.a_, self.b_ = a, b
        self._k = k
        timings = {}
        with numba_threads(c.n_jobs):
            t0 = time.perf_counter()
            idx, dist = self._neighbors(X, n_knn, seed)
            timings["knn"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            P = self._input_graph(idx, dist, k, target, seed)
            timings["graph"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            Y = self._initial_layout(X, P, seed)
            timings["init"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            self.knn_indices_, self.knn_dists_ = idx, dist
            self.n_epochs_ = self._default_epochs(n)
            P_used = self._prune(P, self.n_epochs_) if not c.normalized else P
            data_radii = radii.data_log_radii(P_used, idx, dist) if c.densmap or c.output_dens else None
            # optimize in a cache-friendly numbering of the points, then number them back
            order = ordering.locality_order(P_used)
            P_used, Y = ordering.permute_graph(P_used, order), Y[order]
            density = self._density_term(P_used, data_radii[order], a, b) if c.densmap else None
            law, schedule = self._force_law(P_used, Y, a, b, seed, n, self.n_epochs_, density=density)
            self._optimize(Y, law, schedule, "optimize")
            timings["optimize"] = time.perf_counter() - t0
            if c.normalized:
                self.final_objective_ = self.kl_divergence_ = graph_forces.kl_divergence(P_used, Y, a, b, law.repulsion)
            Y[order] = Y.copy()
            if c.output_dens:
                self.rad_orig_ = self._per_row(data_radii)
                self.rad_emb_ = self._per_row(radii.embedding_log_radii(Y, self._radius_neighbors(), seed))
        timings["total"] = sum(timings.values())
        self.timings_ = timings
        self.graph_ = P
        self._X_fit = X
        self._seed = seed
        self.embedding_ = self._per_row(Y).astype(dtype)
        return self

    def fit_transform(self, X, y=None):
        """``fit(X, y).embedding_``; with ``output_dens=True``, umap-learn's triple
        (embedding_, rad_orig_, rad_emb_)."""
        self.fit(X, y)
        if self._settings().output_dens:
            return self.embedding_, self.rad_orig_, self.rad_emb_
        return self.embedding_

    def _per_row(self, values):
        """Values of the fitted (distinct) rows, one per input row."""
        inverse = getattr(self, "_unique_inverse", None)  # absent from models saved by ardr 0.1
        return values if inverse is None else values[inverse]

    def _neighbors(self, X, n_knn, seed):
        c = self._settings()
        knn = umap_options.split_precomputed_knn(c.precomputed_knn)
        if knn is not None:
            return check_precomputed(knn, X.shape[0], n_knn)
        return nearest_neighbors(X, n_knn, metric=c.metric, method=c.knn_method, random_state=seed,
                                 n_jobs=c.n_jobs, verbose=c.verbose)

    def _input_graph(self, idx, dist, k, target, seed):
        """The input kernel: UMAP's fuzzy graph (cut at the disconnection distance, then
        intersected with the target's when y is given) or tSNE's affinities; normalized
        to sum 1 for the normalized objective."""
        c = self._settings()
        if c.input_kernel != "umap":
            return affinities.tsne_affinities(idx, dist, k)
        dist = umap_options.cut_far_edges(dist, umap_options.disconnection_distance(c))
        P = affinities.umap_graph(idx, dist, k, set_op_mix_ratio=c.set_op_mix_ratio,
                                  local_connectivity=c.local_connectivity)
        if target is not None:
            P = supervision.supervise(P, target, target_metric=c.target_metric, target_weight=c.target_weight,
                                      target_n_neighbors=umap_options.check_n_neighbors_target(
                                          c.target_n_neighbors, k),
                                      random_state=seed)
        if c.normalized:
            P = P.copy()
            P.data /= P.data.sum()
        return P

    def _radius_neighbors(self):
        """The neighbourhood of the embedding's radii: n_neighbors (perplexity-based
        methods: their kNN count plus the point)."""
        return self.knn_indices_.shape[1] + 1

    def _density_term(self, P, data_radii, a, b):
        c = self._settings()
        return DensityTerm(P, data_radii, a, b, dens_lambda=c.dens_lambda, frac=c.dens_frac,
                           var_shift=c.dens_var_shift, n_epochs=self.n_epochs_, n_batches=UMAP_STEPS_PER_EPOCH)

    def _default_epochs(self, n):
        c = self._settings()
        if c.n_epochs is not None:
            return int(c.n_epochs)
        if c.normalized:
            return 750
        return (500 if n <= 10_000 else 200) + (DENSMAP_EXTRA_EPOCHS if c.densmap else 0)

    @staticmethod
    def _prune(P, n_epochs):
        """UMAP drops edges too weak to be sampled even once in n_epochs."""
        P = P.copy()
        P.data[P.data < P.data.max() / n_epochs] = 0.0
        P.eliminate_zeros()
        return P

    def _initial_layout(self, X, P, seed):
        c = self._settings()
        n, dim = X.shape[0], c.n_components
        init = c.init
        if isinstance(init, str):
            if init in ("spectral", "tswspectral"):
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
        if isinstance(init, str) and init in ("spectral", "tswspectral"):
            Y = Y + rng.normal(scale=1e-4, size=Y.shape)
        # umap-learn scales every start into [0, 10]^d
        span = Y.max(axis=0) - Y.min(axis=0)
        span[span <= 0] = 1.0
        return 10.0 * (Y - Y.min(axis=0)) / span

    def _repulsion_estimator(self, n, a, b, seed):
        c = self._settings()
        choice = c.repulsion
        if choice == "auto":
            if c.input_kernel == "umap" or (a, b) != (1.0, 1.0):
                choice = "sampled"
            elif n <= EXACT_REPULSION_MAX_ROWS:
                choice = "exact"
            else:
                choice = "fft" if c.n_components <= 2 else "sampled"
        if choice == "exact":
            return repulsion_estimators.Exact()
        if choice == "fft":
            return repulsion_estimators.FFT()
        # As many partners per point as UMAP draws per epoch (rate x neighbours): the
        # per-point estimate is noisy, Z (a sum over all samples) is not.
        return repulsion_estimators.Sampled(c.negative_sample_rate * self.knn_indices_.shape[1], seed)

    def _force_law(self, P, Y, a, b, seed, n, n_epochs, tail=None, *, density=None, point_keys=None):
        """The force law and schedule of this configuration (fit: tail None; transform: fixed
        tail, each new point keyed by ``point_keys``); ``density``: densMAP's term."""
        c = self._settings()
        if not c.normalized:
            batches = UMAP_STEPS_PER_EPOCH
            law = graph_forces.SampledGraphForces(P, n_epochs, a, b, negative_rate=c.negative_sample_rate,
                                                  seed=seed, tail=tail, n_batches=batches,
                                                  repulsion_strength=c.repulsion_strength,
                                                  point_keys=point_keys, density=density)
            lr = 1.0 if c.learning_rate == "auto" else float(c.learning_rate)
            return law, Schedule(n_epochs=n_epochs * batches, learning_rate=lr, decay="linear")
        exaggeration = c.early_exaggeration if c.early_exaggeration is not None else 12.0
        early = min(c.exaggeration_epochs, n_epochs) if tail is None else 0

        def exaggeration_at(epoch):
            return exaggeration if epoch < early else 1.0

        law = graph_forces.NormalizedForces(P, a, b, self._repulsion_estimator(n, a, b, seed),
                                            exaggeration=exaggeration_at, tail=tail,
                                            pointwise=tail is not None, point_keys=point_keys)
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

    def _optimize(self, Y, law, schedule, desc):
        c = self._settings()
        progress = None
        # umap-learn's rule: the bar shows with verbose=True, or when tqdm_kwds says disable=False
        bar = {"total": schedule.n_epochs, "desc": desc, "unit": "step", "leave": False,
               "disable": not c.verbose} | (c.tqdm_kwds or {})
        if not bar["disable"]:
            from tqdm.auto import tqdm

            progress = tqdm(**bar)
        try:
            optimize(Y, law, schedule, progress=progress)
        finally:
            if progress is not None:
                progress.close()

    # -------------------------------------------------------------- transform
    def transform(self, X):
        """Place new points against the fitted embedding; the fitted points do not move.

        A row identical to a training row lands on that row's embedding (the training data
        itself gives back ``embedding_``, as in umap-learn). Every other row is placed by
        the force law against the fitted embedding alone, with its random stream keyed by
        its own bytes: a point's place does not depend on the other points of its batch.
        A densMAP model places new points by UMAP's term (the density term is a
        correlation over the whole fit). The output has the input's dtype (float32 or
        float64; float64 for other types)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "embedding_")
        dtype = placement.output_dtype(X)
        X = check_data(X, min_rows=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this {type(self).__name__} was fitted with "
                             f"{self.n_features_in_}")
        if getattr(self, "_unique_inverse", None) is None and placement.same_rows(self._X_fit, X):
            return self.embedding_.astype(dtype)
        ref = self._fitted_embedding()
        match, keys = placement.training_matches(self._X_fit, X)
        Y = np.empty((X.shape[0], ref.shape[1]))
        found = match >= 0
        Y[found] = ref[match[found]]
        if not found.all():
            with numba_threads(self._settings().n_jobs):
                Y[~found] = self._place(X[~found], keys[~found], ref)
        return Y.astype(dtype)

    def _fitted_embedding(self):
        """The embedding of each fitted row (the distinct rows with ``unique=True``), float64."""
        ref = np.empty((self._X_fit.shape[0], self.embedding_.shape[1]))
        inverse = getattr(self, "_unique_inverse", None)
        if inverse is None:
            ref[:] = self.embedding_
        else:
            ref[inverse] = self.embedding_
        return ref

    def _place(self, X, keys, ref):
        """New rows placed by the force law against the fixed embedding ``ref``."""
        import scipy.sparse as sp

        c = self._settings()
        n_fit, m = self._X_fit.shape[0], X.shape[0]
        n_knn = min(n_fit, self.knn_indices_.shape[1] + (1 if c.input_kernel == "umap" else 0))
        n_knn = max(1, min(n_knn, n_fit))
        idx, dist = exact_knn(self._X_fit, n_knn, metric=c.metric, queries=X, exclude_self=False)
        if c.input_kernel == "umap":
            dist = umap_options.cut_far_edges(dist, umap_options.disconnection_distance(c))
            weights = affinities.membership_strengths(dist, self._k, c.local_connectivity)
        else:
            weights = affinities.conditional_gaussian(dist, min(self._k, max(1.0, n_knn / 3.0)))
        rows = np.repeat(np.arange(m), idx.shape[1])
        P = sp.csr_matrix((weights.ravel().astype(np.float64), (rows, idx.ravel())), shape=(m, n_fit))
        P.sort_indices()
        row_sum = np.asarray(P.sum(axis=1)).ravel()
        row_sum[row_sum <= 0] = 1.0
        Y = np.asarray((P.multiply(1.0 / row_sum[:, None])) @ ref)
        seed = self._seed + 1
        if c.normalized:
            # each row sums to one: the KL divergence of the point's own row
            P = P.multiply(1.0 / row_sum[:, None]).tocsr()
            law, schedule = self._force_law(P, Y, self.a_, self.b_, seed, n_fit, 250, tail=ref, point_keys=keys)
            schedule.learning_rate = 0.1
            schedule.early_epochs = 0
            schedule.max_step_norm = 1.0
        else:
            # each row's strongest edge is visited every epoch (umap-learn: the batch's
            # strongest, which is 1 as here whenever local_connectivity >= 1)
            n_epochs = max(1, self.n_epochs_ // 3)
            P = self._prune(affinities.scale_rows_to_max(P), n_epochs)
            law, schedule = self._force_law(P, Y, self.a_, self.b_, seed, n_fit, n_epochs, tail=ref,
                                            point_keys=keys)
            schedule.learning_rate = schedule.learning_rate / 4.0
        self._optimize(Y, law, schedule, "transform")
        return Y

    def inverse_transform(self, X):
        """Points of the embedding space mapped back to the data space: the average of the
        input rows of the nearest embedded training points (n_neighbors of them; 15 for
        perplexity-based methods), weighted by the output kernel q(d) (umap-learn's
        interpolation without its Delaunay search and SGD refinement, which measured
        worse: :mod:`ardr.methods.inverse_map`)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "embedding_")
        dtype = placement.output_dtype(X)
        Y = check_data(X, min_rows=1)
        if Y.shape[1] != self.embedding_.shape[1]:
            raise ValueError(f"X has {Y.shape[1]} columns, but this {type(self).__name__} embeds into "
                             f"{self.embedding_.shape[1]} dimensions")
        k = self._k if self._settings().input_kernel == "umap" else 15
        with numba_threads(self._settings().n_jobs):
            out = inverse_map(self._fitted_embedding(), self._X_fit, Y, self.a_, self.b_, k)
        return out.astype(dtype)


class UMAP(ARDR):
    """UMAP on the ardr engine: umap-learn's defaults and schedule, race-free and
    deterministic by seed. ``normalized=True`` switches to tSNE's normalization (same
    graph and kernel, KL divergence with sampled repulsion and tSNE's optimizer).

    The first three parameters are umap-learn's first three (n_neighbors, n_components,
    metric) and may be given by position; the others are keyword-only, so no call
    written for umap-learn lands on another parameter. umap-learn's options have their
    umap-learn names and defaults (README: "umap-learn's parameters in ardr"); fit(X, y)
    embeds with supervision, ``densmap=True`` is densMAP, ``inverse_transform`` maps
    embedded points back to the data space.
    """

    def __init__(self, n_neighbors=15, n_components=2, metric="euclidean", *, n_epochs=None,
                 learning_rate=1.0, init="spectral", min_dist=0.1, spread=1.0, n_jobs=-1,
                 set_op_mix_ratio=1.0, local_connectivity=1.0, repulsion_strength=1.0,
                 negative_sample_rate=5, a=None, b=None, random_state=None, target_n_neighbors=-1,
                 target_metric="categorical", target_weight=0.5, verbose=False, tqdm_kwds=None,
                 unique=False, densmap=False, dens_lambda=2.0, dens_frac=0.3, dens_var_shift=0.1,
                 output_dens=False, disconnection_distance=None, precomputed_knn=None, normalized=False,
                 knn_method="auto"):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.metric = metric
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.init = init
        self.min_dist = min_dist
        self.spread = spread
        self.n_jobs = n_jobs
        self.set_op_mix_ratio = set_op_mix_ratio
        self.local_connectivity = local_connectivity
        self.repulsion_strength = repulsion_strength
        self.negative_sample_rate = negative_sample_rate
        self.a = a
        self.b = b
        self.random_state = random_state
        self.target_n_neighbors = target_n_neighbors
        self.target_metric = target_metric
        self.target_weight = target_weight
        self.verbose = verbose
        self.tqdm_kwds = tqdm_kwds
        self.unique = unique
        self.densmap = densmap
        self.dens_lambda = dens_lambda
        self.dens_frac = dens_frac
        self.dens_var_shift = dens_var_shift
        self.output_dens = output_dens
        self.disconnection_distance = disconnection_distance
        self.precomputed_knn = precomputed_knn
        self.normalized = normalized
        self.knn_method = knn_method

    def _preset(self):
        from types import SimpleNamespace

        p = self.get_params(deep=False)
        if p["normalized"]:
            p["learning_rate"] = "auto"  # UMAP's rate 1.0 has no meaning in tSNE's units
        return SimpleNamespace(**ARDR().get_params(deep=False) | p | {"input_kernel": "umap"})


class TSNE(ARDR):
    """tSNE on the ardr engine: perplexity affinities, Student-t output kernel, KL
    divergence with exact (small n) or FFT-interpolated repulsion, openTSNE's schedule
    (early exaggeration 12 for 250 iterations with momentum 0.5, then 0.8; gains)."""

    def __init__(self, perplexity=30.0, n_components=2, early_exaggeration=12.0, learning_rate="auto",
                 n_iter=750, init="pca", random_state=None, n_jobs=-1, verbose=False, *,
                 metric="euclidean", repulsion="auto", exaggeration_epochs=250, negative_sample_rate=5,
                 precomputed_knn=None, knn_method="auto"):
        self.perplexity = perplexity
        self.n_components = n_components
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.n_iter = n_iter
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.metric = metric
        self.repulsion = repulsion
        self.exaggeration_epochs = exaggeration_epochs
        self.negative_sample_rate = negative_sample_rate
        self.precomputed_knn = precomputed_knn
        self.knn_method = knn_method

    def _preset(self):
        from types import SimpleNamespace

        p = self.get_params(deep=False)
        p["n_epochs"] = p.pop("n_iter")
        fixed = {"input_kernel": "tsne", "normalized": True, "a": 1.0, "b": 1.0}
        return SimpleNamespace(**ARDR().get_params(deep=False) | p | fixed)

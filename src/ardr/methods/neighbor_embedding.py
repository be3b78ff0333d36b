"""scikit-learn style estimators. Thin: they check parameters, then run the pipeline
kNN -> input kernel -> initial layout -> force law on the one optimizer."""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..graph import affinities, initialization, ordering, radii, supervision
from ..engine.numba import kernels
from .._threads import numba_threads
from .._validation import check_choice, check_data, check_float, check_int, check_n_features, check_seed
from ..engine.numba.density import DensityTerm
from ._contract import EstimatorContract
from ..graph.affinities import check_affinities
from ..graph.distances import canonical as canonical_metric
from ..graph.neighbors import METHODS as KNN_METHODS, check_precomputed, exact_knn
from ..engine.optimize import Schedule, optimize
from . import placement, umap_options
from .backends import check_backend, get_backend
from .inverse_map import inverse_map

INPUT_KERNELS = ("umap", "tsne")
REPULSIONS = ("auto", "sampled", "exact", "fft")
# "tswspectral" is umap-learn's spectral start with a truncated-SVD warm start for its
# eigensolver: the same eigenvectors, so ardr computes it as "spectral"
INITS = ("spectral", "tswspectral", "pca", "random")
# densMAP runs this many epochs more than UMAP's default, as umap-learn does
DENSMAP_EXTRA_EPOCHS = 200
# scikit-learn's TSNE(method=...): "barnes_hut" leaves the choice to ``repulsion``
TSNE_METHODS = ("barnes_hut", "exact")
# tSNE's repulsion: exact below this, FFT interpolation above (mnist5k: FFT 16 s vs exact
# 59 s for the same trustworthiness 0.9826; digits: 15 s vs 17 s, so digits stays exact).
EXACT_REPULSION_MAX_ROWS = 2000
# Race-free UMAP moves all points together; splitting each epoch into steps brings its
# quality to umap-learn's sequential SGD. mnist5k, 3 seeds: trustworthiness@10 0.9603
# with 1 step, 0.9634 with 4, 0.9631 with 16 (umap-learn 0.9637). But GloVe 100k
# (cosine, issue 15), seeds 0 / 1, same graph: 0.8747 / 0.8756 with 4 steps, 0.8811 with
# 8, 0.8820 / 0.8820 with 16, 0.8842 / 0.8818 with 32, 0.8850 with 64 (umap-learn with its
# own graph 0.8869 / 0.8849). 32 steps cost ~15% more optimize time than 16 there.
UMAP_STEPS_PER_EPOCH = 32
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

    umap-learn's options (the README's table): ``set_op_mix_ratio``,
    ``local_connectivity`` and ``disconnection_distance`` shape the UMAP graph;
    ``fit(X, y)`` intersects it with the target's (``target_metric``: "categorical",
    with y = -1 for unlabelled points, or a metric such as "l2" for a continuous y;
    ``target_weight``, ``target_n_neighbors``); ``repulsion_strength`` weights the
    sampled repulsion; ``densmap`` adds densMAP's density term (``dens_lambda``,
    ``dens_frac``, ``dens_var_shift``); ``output_dens`` sets ``rad_orig_`` and
    ``rad_emb_``; ``unique`` embeds each distinct row once; ``tqdm_kwds`` goes to the
    progress bar.

    ``backend="numba"`` (default) runs on the CPU's compiled kernels; ``backend="torch"``
    runs the neighbour search, input kernel and force law on a torch ``device`` ("cpu",
    "cuda", "cuda:N"; None: "cuda" when available, else "cpu"; ``pip install ardr[torch]``).
    densMAP and ``transform`` run on the numba kernels whatever the backend.
    ``distributed=True`` (with ``backend="torch"``): one rank of a sharded UMAP in a job
    that torchrun launched, every rank calling fit with the same X
    (``ardr.methods.distributed``; then ``distributed_stats_`` says what was exchanged,
    and ``graph_``, ``knn_indices_``, ``knn_dists_`` hold the rank's rows ``shard_rows_``).

    Attributes after fit: ``embedding_`` (the input's dtype when float32 or float64,
    else float64), ``graph_`` (sparse input kernel), ``knn_indices_``, ``knn_dists_``,
    ``a_``, ``b_``, ``n_epochs_``, ``timings_`` (seconds per stage), ``n_features_in_``,
    ``n_iter_`` (iterations run: fewer when a callback stopped the run); normalized
    methods also ``kl_divergence_`` (= ``final_objective_``); ``output_dens`` also
    ``rad_orig_`` and ``rad_emb_``.
    """

    # private state that transform needs, saved by ``save`` (ardr.io)
    _saved_state = ("_X_fit", "_cfg", "_seed", "_k", "_unique_inverse")

    def __init__(self, n_neighbors=15, n_components=2, metric="euclidean", *, input_kernel="umap",
                 normalized=False, perplexity=30.0, min_dist=0.1, spread=1.0, a=None, b=None,
                 metric_kwds=None, n_epochs=None, learning_rate="auto", negative_sample_rate=5, repulsion="auto",
                 early_exaggeration=None, exaggeration_epochs=250, init="spectral",
                 precomputed_knn=None, knn_method="auto", random_state=None, n_jobs=-1, verbose=False,
                 exaggeration=None, dof=1.0, callbacks=None, callbacks_every_iters=50,
                 set_op_mix_ratio=1.0, local_connectivity=1.0, disconnection_distance=None,
                 repulsion_strength=1.0, target_n_neighbors=-1, target_metric="categorical",
                 target_weight=0.5, densmap=False, dens_lambda=2.0, dens_frac=0.3, dens_var_shift=0.1,
                 output_dens=False, unique=False, tqdm_kwds=None, backend="numba", device=None, distributed=False):
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
        self.backend = backend
        self.device = device
        self.distributed = distributed

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
        c = self._cfg
        check_choice(c.input_kernel, "input_kernel", INPUT_KERNELS)
        canonical_metric(c.metric, c.metric_kwds)
        check_choice(c.repulsion, "repulsion", REPULSIONS)
        check_choice(c.knn_method, "knn_method", KNN_METHODS)
        check_backend(c.backend)
        if c.backend == "torch" and c.densmap:
            raise ValueError("densmap=True runs on backend='numba' only")
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
        umap_options.check_options(c)
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

    def _check_target(self, y, n, fitted_on_affinities):
        """y for the supervised graph, or None; a method that cannot use y says so."""
        c = self._cfg
        if y is None:
            return None
        if c.input_kernel != "umap" or fitted_on_affinities:
            why = ("the given affinities replace the graph it would intersect" if fitted_on_affinities
                   else "supervision intersects UMAP's fuzzy graph (input_kernel='umap')")
            warnings.warn(f"{type(self).__name__} ignores y: {why}; use ardr.UMAP(...).fit(X, y)", stacklevel=3)
            return None
        return supervision.check_target(y, n, c.target_metric)

    # --------------------------------------------------------------- pipeline
    def fit(self, X=None, y=None, *, affinities=None):
        """Embed X (n_samples x n_features, dense or sparse CSR; with ``metric="precomputed"``
        a square distance matrix). With y, a supervised (or, with y = -1 for unlabelled
        rows, semi-supervised) UMAP embedding. ``affinities``: a symmetric P to use instead
        of the input kernel (then X may be None; it is still used for ``init="pca"`` and
        ``transform``)."""
        self._cfg = c = self._config()
        dtype = placement.output_dtype(X) if X is not None else np.dtype(np.float32)
        P_user = None
        if affinities is not None:
            if not c.normalized:
                raise ValueError("affinities are a normalized (tSNE) input; they need normalized=True")
            P_user = check_affinities(affinities)
        self._unique_inverse = None
        if X is None:
            if P_user is None:
                raise ValueError("fit needs X, or affinities with normalized=True")
        else:
            X = self._check_fit_data(X)
            if P_user is not None and P_user.shape[0] != X.shape[0]:
                raise ValueError(f"affinities are {P_user.shape[0]} x {P_user.shape[0]} but X has {X.shape[0]} rows")
            self.n_features_in_ = X.shape[1]
            if c.unique:
                if P_user is not None:
                    raise ValueError("unique=True drops duplicated rows: it cannot follow the rows of given affinities")
                kept, self._unique_inverse = umap_options.unique_rows(X)
                y = umap_options.rows_of(y, kept, X.shape[0])
                X = X[kept]
        n = X.shape[0] if X is not None else P_user.shape[0]
        if n < 2:
            raise ValueError(f"{'X has' if X is not None else 'affinities have'} {n} distinct sample(s); "
                             "at least 2 are needed")
        seed = check_seed(c.random_state)
        if not isinstance(c.distributed, (bool, np.bool_)):
            raise ValueError(f"distributed must be True or False, got {c.distributed!r}")
        if c.distributed:  # one rank of a torchrun job (ardr.methods.distributed)
            from .distributed import fit_sharded

            if P_user is not None:
                raise ValueError("distributed=True builds the graph from X; it cannot take affinities")
            self.embedding_ = fit_sharded(self, X, y, seed).astype(dtype)
            return self
        a, b, k, n_knn = self._check_params(n)
        target = self._check_target(y, n, P_user is not None)
        self.a_, self.b_ = a, b
        self._k = k
        backend = self._engine()
        timings = {}
        with numba_threads(c.n_jobs):
            t0 = time.perf_counter()
            idx, dist = self._neighbors(X, n_knn, seed) if P_user is None else (None, None)
            timings["knn"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            P = self._input_graph(idx, dist, k, target, seed) if P_user is None else P_user
            timings["graph"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            Y = self._initial_layout(X, P, seed, n)
            timings["init"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            self.knn_indices_, self.knn_dists_ = idx, dist
            self.n_epochs_ = self._default_epochs(n)
            P_used = self._prune(P, self.n_epochs_) if not c.normalized else P
            data_radii = self._data_radii(P_used, idx, dist) if c.densmap or c.output_dens else None
            # optimize in a cache-friendly numbering of the points, then number them back
            order = ordering.locality_order(P_used) if backend.reorders_points else np.arange(n)
            if backend.reorders_points:
                P_used, Y = ordering.permute_graph(P_used, order), Y[order]
            density = self._density_term(P_used, data_radii[order], a, b) if c.densmap else None
            law, schedule = self._force_law(P_used, Y, a, b, seed, n, self.n_epochs_, density=density)
            hooks = self._callback_hooks(P_used, law, order)
            if not c.normalized:
                P_used = None  # the force law holds the edges it visits: free the pruned copy now
            self.n_iter_ = self._optimize(Y, law, schedule, "optimize", callbacks=hooks)
            timings["optimize"] = time.perf_counter() - t0
            if c.normalized:
                self.final_objective_ = self.kl_divergence_ = backend.kl_divergence(
                    P_used, Y, a, b, law.repulsion, c.dof)
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

    def fit_transform(self, X=None, y=None, *, affinities=None):
        """``fit(X, y).embedding_``; with ``output_dens=True``, umap-learn's triple
        (embedding_, rad_orig_, rad_emb_)."""
        self.fit(X, y, affinities=affinities)
        if self._settings().output_dens:
            return self.embedding_, self.rad_orig_, self.rad_emb_
        return self.embedding_

    def _per_row(self, values):
        """Values of the fitted (distinct) rows, one per input row."""
        inverse = getattr(self, "_unique_inverse", None)  # absent from models saved by ardr 0.1
        return values if inverse is None else values[inverse]

    def _neighbors(self, X, n_knn, seed):
        c = self._cfg
        knn = umap_options.split_precomputed_knn(c.precomputed_knn)
        if knn is not None:
            return check_precomputed(knn, X.shape[0], n_knn)
        engine = self._engine()
        bars = {"progress": self._progress} if engine.name == "numba" else {}
        return engine.nearest_neighbors(X, n_knn, metric=c.metric, metric_kwds=c.metric_kwds,
                                        method=c.knn_method, random_state=seed, n_jobs=c.n_jobs,
                                        verbose=c.verbose, **bars)

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
        c = self._settings()
        return get_backend(getattr(c, "backend", "numba"), getattr(c, "device", None))

    def _input_graph(self, idx, dist, k, target, seed):
        """The input kernel: UMAP's fuzzy graph (cut at the disconnection distance, then
        intersected with the target's when y is given) or tSNE's affinities (k: one
        perplexity or several, multiscale); normalized to sum 1 for the normalized objective."""
        c = self._cfg
        engine = self._engine()
        if c.input_kernel != "umap":
            return engine.tsne_affinities(idx, dist, k)
        dist = umap_options.cut_far_edges(dist, umap_options.disconnection_distance(c))
        if (c.set_op_mix_ratio, c.local_connectivity) == (1.0, 1.0):
            P = engine.umap_graph(idx, dist, k)
        else:  # the general fuzzy union exists on the numba side (the graph is a host CSR either way)
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

    def _data_radii(self, P, idx, dist):
        if idx is None:
            raise ValueError("output_dens needs the kNN distances: it cannot follow given affinities")
        return radii.data_log_radii(P, idx, dist)

    def _radius_neighbors(self):
        """The neighbourhood of the embedding's radii: n_neighbors (perplexity-based
        methods: their kNN count plus the point)."""
        return self.knn_indices_.shape[1] + 1

    def _density_term(self, P, data_radii, a, b):
        c = self._cfg
        return DensityTerm(P, data_radii, a, b, dens_lambda=c.dens_lambda, frac=c.dens_frac,
                           var_shift=c.dens_var_shift, n_epochs=self.n_epochs_, n_batches=UMAP_STEPS_PER_EPOCH)

    def _default_epochs(self, n):
        c = self._cfg
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
            if init in ("spectral", "tswspectral"):
                Y = initialization.spectral_layout(P, dim, seed, progress=self._progress)
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

    def _repulsion_estimator(self, n, a, b, seed, P, engine):
        c = self._cfg
        choice = c.repulsion
        if choice == "auto":
            if c.input_kernel == "umap" or (a, b) != (1.0, 1.0):
                choice = "sampled"
            elif n <= EXACT_REPULSION_MAX_ROWS:
                choice = "exact"
            else:
                choice = "fft" if c.n_components <= 2 else "sampled"
        estimators = engine.repulsion
        if choice == "exact":
            return estimators.Exact()
        if choice == "fft":
            return estimators.FFT()
        # As many partners per point as UMAP draws per epoch (rate x neighbours): the
        # per-point estimate is noisy, Z (a sum over all samples) is not.
        neighbours = self.knn_indices_.shape[1] if self.knn_indices_ is not None else max(1, P.nnz // n)
        return estimators.Sampled(c.negative_sample_rate * neighbours, seed)

    def _force_law(self, P, Y, a, b, seed, n, n_epochs, tail=None, *, density=None, point_keys=None, engine=None,
                   halo=None):
        """The force law and schedule of this configuration (fit: tail None; transform: fixed
        tail, each new point keyed by ``point_keys``); ``density``: densMAP's term;
        ``engine``: the backend (default: this configuration's; transform and densMAP
        exist on the numba kernels only); ``halo``: a shard's remote points (a sharded
        run, ``methods/distributed.py``)."""
        c = self._settings()
        engine = self._engine() if engine is None else engine
        if not c.normalized:
            batches = UMAP_STEPS_PER_EPOCH
            umap_extras = {"repulsion_strength": c.repulsion_strength}
            umap_extras |= {"density": density} if density is not None else {}
            umap_extras |= {"point_keys": point_keys} if point_keys is not None else {}
            umap_extras |= {"halo": halo} if halo is not None else {}
            law = engine.SampledGraphForces(P, n_epochs, a, b, negative_rate=c.negative_sample_rate, seed=seed,
                                            tail=tail, n_batches=batches, **umap_extras)
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

        normalized_extras = {"pointwise": True, "point_keys": point_keys} if tail is not None else {}
        law = engine.NormalizedForces(P, a, b, self._repulsion_estimator(n, a, b, seed, P, engine),
                                      exaggeration=exaggeration_at, tail=tail, dof=c.dof, **normalized_extras)
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

    def _optimize(self, Y, law, schedule, desc, callbacks=(), engine=None):
        """Move Y (numpy, in place) along the law in the engine's arrays (default: this
        configuration's backend); returns the number of epochs run. Callbacks see the
        engine's arrays."""
        c = self._settings()
        engine = self._engine() if engine is None else engine
        moving = engine.asarray(Y)
        progress = self._progress(schedule.n_epochs, desc)
        if progress.disable:
            progress = None
        try:
            return optimize(moving, law, schedule, callbacks=callbacks, progress=progress)
        finally:
            if progress is not None:
                progress.close()
            if moving is not Y:
                Y[...] = engine.to_numpy(moving)

    def _progress(self, total, desc, unit="step"):
        """A progress bar with an ETA for a stage of ``total`` units (umap-learn's rule: it
        shows with verbose=True, or when tqdm_kwds says disable=False)."""
        from tqdm.auto import tqdm

        c = self._settings()
        return tqdm(**({"total": total, "desc": desc, "unit": unit, "leave": False, "disable": not c.verbose}
                       | (c.tqdm_kwds or {})))

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
        """Place new points against the fitted embedding; the fitted points do not move.

        A row identical to a training row lands on that row's embedding (the training data
        itself gives back ``embedding_``, as in umap-learn). Every other row is placed by
        the force law against the fitted embedding alone, with its random stream keyed by
        its own bytes: a point's place does not depend on the other points of its batch.
        A densMAP model places new points by UMAP's term (the density term is a
        correlation over the whole fit). With ``metric="precomputed"``, X holds the
        distances from the new points to the fitted ones. The output has the input's
        dtype (float32 or float64; float64 for other types)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "embedding_")
        c = self._settings()
        if self._X_fit is None:
            raise ValueError(f"this {type(self).__name__} was fitted on affinities alone; transform needs the "
                             "training data: fit(X, affinities=P)")
        dtype = placement.output_dtype(X)
        X = check_n_features(self, check_data(X, min_rows=1, accept_sparse=True))
        precomputed = isinstance(c.metric, str) and c.metric == "precomputed"
        if getattr(self, "_unique_inverse", None) is None and placement.same_rows(self._X_fit, X):
            return self.embedding_.astype(dtype)
        ref = self._fitted_embedding()
        match, keys = placement.training_matches(self._X_fit, X, precomputed=precomputed)
        Y = np.empty((X.shape[0], ref.shape[1]))
        found = match >= 0
        Y[found] = ref[match[found]]
        if not found.all():
            with numba_threads(c.n_jobs):
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
        # fitted on a user's affinities: as many neighbours as the perplexity's kNN
        width = self.knn_indices_.shape[1] if self.knn_indices_ is not None else int(3 * np.max(self._k))
        n_knn = min(n_fit, width + (1 if c.input_kernel == "umap" else 0))
        n_knn = max(1, min(n_knn, n_fit))
        # with metric="precomputed", X holds the distances from the new points to the fitted ones
        idx, dist = exact_knn(self._X_fit, n_knn, metric=c.metric, metric_kwds=c.metric_kwds, queries=X,
                              exclude_self=False)
        if c.input_kernel == "umap":
            dist = umap_options.cut_far_edges(dist, umap_options.disconnection_distance(c))
            weights = affinities.membership_strengths(dist, self._k, c.local_connectivity)
        else:
            weights = affinities.conditional_gaussian(dist, np.minimum(self._k, max(1.0, n_knn / 3.0)))
        rows = np.repeat(np.arange(m), idx.shape[1])
        P = sp.csr_matrix((weights.ravel().astype(np.float64), (rows, idx.ravel())), shape=(m, n_fit))
        P.sort_indices()
        row_sum = np.asarray(P.sum(axis=1)).ravel()
        row_sum[row_sum <= 0] = 1.0
        Y = np.asarray((P.multiply(1.0 / row_sum[:, None])) @ ref)
        seed = self._seed + 1
        # new points are placed by the numba kernels whatever the backend: each point's
        # random stream is keyed by its bytes there (placement.py)
        numba_engine = get_backend("numba")
        if c.normalized:
            # each row sums to one: the KL divergence of the point's own row
            P = P.multiply(1.0 / row_sum[:, None]).tocsr()
            law, schedule = self._force_law(P, Y, self.a_, self.b_, seed, n_fit, 250, tail=ref, point_keys=keys,
                                            engine=numba_engine)
            schedule.learning_rate = 0.1
            schedule.early_epochs = 0
            schedule.max_step_norm = 1.0
        else:
            # each row's strongest edge is visited every epoch (umap-learn: the batch's
            # strongest, which is 1 as here whenever local_connectivity >= 1)
            n_epochs = max(1, self.n_epochs_ // 3)
            P = self._prune(affinities.scale_rows_to_max(P), n_epochs)
            law, schedule = self._force_law(P, Y, self.a_, self.b_, seed, n_fit, n_epochs, tail=ref,
                                            point_keys=keys, engine=numba_engine)
            schedule.learning_rate = schedule.learning_rate / 4.0
        self._optimize(Y, law, schedule, "transform", engine=numba_engine)
        return Y

    def inverse_transform(self, X):
        """Points of the embedding space mapped back to the data space: the average of the
        input rows of the nearest embedded training points (n_neighbors of them; 15 for
        perplexity-based methods), weighted by the output kernel q(d) (umap-learn's
        interpolation without its Delaunay search and SGD refinement, which measured
        worse: :mod:`ardr.methods.inverse_map`)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "embedding_")
        c = self._settings()
        if self._X_fit is None or (isinstance(c.metric, str) and c.metric == "precomputed"):
            raise ValueError("inverse_transform needs the training data's coordinates (this model was fitted on "
                             "affinities or precomputed distances)")
        dtype = placement.output_dtype(X)
        Y = check_data(X, min_rows=1)
        if Y.shape[1] != self.embedding_.shape[1]:
            raise ValueError(f"X has {Y.shape[1]} columns, but this {type(self).__name__} embeds into "
                             f"{self.embedding_.shape[1]} dimensions")
        k = self._k if c.input_kernel == "umap" else 15
        with numba_threads(c.n_jobs):
            out = inverse_map(self._fitted_embedding(), self._X_fit, Y, self.a_, self.b_, k)
        return out.astype(dtype)


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
    graph and kernel, KL divergence with sampled repulsion and tSNE's optimizer).

    The first three parameters are umap-learn's first three (n_neighbors, n_components,
    metric) and may be given by position; the others are keyword-only, so no call
    written for umap-learn lands on another parameter. umap-learn's options have their
    umap-learn names and defaults (README: "umap-learn's parameters in ardr"); fit(X, y)
    embeds with supervision, ``densmap=True`` is densMAP, ``inverse_transform`` maps
    embedded points back to the data space. ``backend="torch", distributed=True`` shards
    the fit over the ranks of a torchrun job (see ``ARDR``).
    """

    def __init__(self, n_neighbors=15, n_components=2, metric="euclidean", *, n_epochs=None,
                 learning_rate=1.0, init="spectral", min_dist=0.1, spread=1.0, n_jobs=-1,
                 set_op_mix_ratio=1.0, local_connectivity=1.0, repulsion_strength=1.0,
                 negative_sample_rate=5, a=None, b=None, random_state=None, target_n_neighbors=-1,
                 target_metric="categorical", target_weight=0.5, verbose=False, tqdm_kwds=None,
                 unique=False, densmap=False, dens_lambda=2.0, dens_frac=0.3, dens_var_shift=0.1,
                 output_dens=False, disconnection_distance=None, precomputed_knn=None, metric_kwds=None,
                 normalized=False, knn_method="auto", backend="numba", device=None, distributed=False):
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
        self.metric_kwds = metric_kwds
        self.normalized = normalized
        self.knn_method = knn_method
        self.backend = backend
        self.device = device
        self.distributed = distributed

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

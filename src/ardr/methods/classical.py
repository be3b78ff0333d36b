"""PCA, classical MDS, Isomap and metric MDS as estimators.

Each has two solvers. ``solver="exact"`` is the reference (``ardr.methods.classical_exact``: SVD,
symmetric eigensolvers, scikit-learn's SMACOF; for PCA, scikit-learn's PCA itself, which
is PCA's default). ``solver="forces"`` (the default of the others) starts from a random
layout and moves it with attractions and repulsions on the one optimizer
(``ardr.engine.optimize``): the strain force law (``ardr.engine.strain``) for PCA,
classical MDS and Isomap, which differ only in their input kernel, and the stress
force law (``ardr.engine.numba.stress``) for metric MDS. ``sampling=None`` sums forces over
all partners exactly; an int m draws m random partners per point per epoch.

Schedules (constants below, with the measurements that chose them): strain steps are
a fraction of 1 / lambda_max (lambda_max by power iteration) with heavy-ball momentum;
stress steps are 1 / n (exact sums: SMACOF's step). With exact sums a strain run stops
when (1) the relative gradient norm and (2) the estimated distance still to go, relative
to the layout's size (:class:`DistanceEstimate`, from the decay of the steps), are both
below ``tol``, and (3) the layout is not a saddle point (``StrainForces.at_saddle``); a
stress run stops on (1). Otherwise it stops after ``max_iter`` epochs with a
ConvergenceWarning that gives the estimate. The gradient alone is not enough: on a
2,000-point Swiss roll (Isomap) it fell below 1e-7 1.6e-6 (relative) from the exact
answer, where the estimate stops within 1e-7. Sampled sums never reach a zero gradient,
so they run ``max_iter`` epochs (strain 1000, stress 500) with a linearly decaying
learning rate, and the strain's returns the mean of its second half's layouts
(:class:`AlignedAverage`), checked for a saddle point (a ConvergenceWarning if it is one).

What the defaults reach (relative Procrustes error to the exact answer, the square root
of ``ardr.metrics.procrustes_error``): about ``tol`` = 1e-7 with exact sums; with
``sampling=20`` a few per cent (digits PCA 1.6%, L1 MDS of 1,000 digits 2.0-4.7% over 3
seeds; tests/test_classical.py checks <= 5%).
The random start is Gaussian noise at 1% of the solution's scale (strain) or at the
dissimilarities' scale (stress); an ``init`` array is used as given.

Attributes after ``fit`` (solver="forces"; PCA's exact solver sets scikit-learn's):
``embedding_`` (float64), ``objective_`` (the objective at
the start of every epoch: exact with exact sums, the unbiased estimate from the
epoch's pairs when sampled; one value for the exact solver), ``final_objective_``
(exact, at ``embedding_``), ``gradient_norm_`` (relative, exact, at ``embedding_``),
``distance_estimate_`` (strain, exact sums), ``n_iter_`` (epochs run),
``learning_rate_``, ``timings_`` (seconds per stage). Strain embeddings are returned
rotated to their principal axes (largest variance first, largest entry of each column
positive), which leaves the strain unchanged.
"""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from . import classical_exact as classical
from ..io import SaveMixin
from .._threads import numba_threads
from .._validation import check_choice, check_data, check_float, check_int, check_n_features, check_seed
from ._contract import EstimatorContract
from .backends import check_backend

SOLVERS = ("forces", "exact")
DISSIMILARITIES = ("euclidean", "precomputed")
#: epochs: the cap for exact sums, the schedule's length for sampled sums
MAX_ITER_EXACT_SUMS = 1000
MAX_ITER_SAMPLED = 500
#: sampled strain runs (PCA, classical MDS, Isomap), second half averaged. Relative error to
#: the exact answer, 3 seeds, m = 20: L1 MDS of 1,000 digits 3.2-5.1% (one seed 58%: ended at a
#: saddle) at 500 epochs, 2.0-4.7% at 1000; digits PCA 2.3% at 500, 1.6% at 1000
MAX_ITER_SAMPLED_STRAIN = 1000
#: strain schedules (learning rate = step / lambda_max). Heavy-ball momentum mu is stable
#: while step * 8 < 2 (1 + mu), and helps where the eigengap is small but slows well
#: separated problems (each mode then contracts by sqrt(mu) per epoch). Epochs to a
#: relative gradient of 1e-7, mu = 0 / 0.3 / 0.6: Fashion-MNIST PCA 50 / 45 / 73, mnist5k
#: PCA 186 / 128 / 78, Swiss roll Isomap 366 / 255 / 139, digits L1 MDS 236 / 162 / 78. Sampled
#: sums: step 0.2 diverged on digits; step 0.1 with mu = 0.5 reached 0.3% Procrustes
#: error where mu = 0 left 2-4% on slow modes (Swiss roll, 300 digits), provided each
#: point's step is capped at SAMPLED_MAX_STEP x sqrt(lambda_max / n) (the rms size of a
#: point at the solution): without the cap, momentum diverged on mnist5k.
STRAIN_MOMENTUM = 0.3
SAMPLED_STRAIN_STEP = 0.1
SAMPLED_STRAIN_MOMENTUM = 0.5
SAMPLED_MAX_STEP = 1.0
#: sampled strain runs return the mean of their last half's (aligned) layouts: on digits
#: (PCA, m = 20, 500 epochs, 3 seeds) the relative Procrustes error fell from 4.5-4.7% (the
#: last layout) to 2.3%; averaging the last quarter gave 3.2%, 2000 epochs without
#: averaging 3.1-3.3%
SAMPLED_AVERAGE_FRACTION = 0.5
#: learning rate x n for sampled stress sums (exact sums: 1, the Guttman step); on
#: digits (m = 20, 500 epochs) 1.0 left some seeds 1-3% above SMACOF, 2.0 reached
#: 0.982-0.984 x SMACOF on 5 seeds, 4.0 collapsed the layout
SAMPLED_STRESS_STEP = 2.0
#: the random start's column norms, relative to sqrt(lambda_max) (the solution's scale)
INIT_SCALE = 1e-2
#: exact sums stop when both the estimated distance to the solution (relative to the
#: layout's size, :class:`DistanceEstimate`) and the relative gradient norm are below tol
DEFAULT_TOL = 1e-7
#: epochs over which DistanceEstimate measures the rate of convergence
RATE_WINDOW = 10


class DistanceEstimate:
    """How far a linearly converging run still is from its limit, relative to the layout's size.

    Near the solution each epoch's step shrinks by a constant factor rho (the slowest
    mode's rate; with momentum too), so the distance left is the sum of the steps to
    come, step * rho / (1 - rho). rho is measured over the last ``window`` epochs; while
    the steps do not shrink the estimate is infinite. Unlike the gradient norm, this
    stays honest when the eigengap is small (slow modes: small gradient, long way left).
    """

    def __init__(self, window=None):
        self.window = RATE_WINDOW if window is None else window
        self.steps = []
        self.previous = None
        self.value = float("inf")

    def update(self, Y):
        if self.previous is not None:
            self.steps.append(float(np.sqrt(np.einsum("ij,ij->", Y - self.previous, Y - self.previous))))
        self.previous = Y.copy()
        if len(self.steps) <= self.window:
            return self.value
        last, first = self.steps[-1], self.steps[-1 - self.window]
        Yc = Y - Y.mean(axis=0)
        size = float(np.sqrt(np.einsum("ij,ij->", Yc, Yc)))
        if last == 0.0 or size == 0.0:
            self.value = 0.0 if last == 0.0 else float("inf")
        elif first > last:
            rate = (last / first) ** (1.0 / self.window)
            self.value = last * rate / (1.0 - rate) / size
        else:
            self.value = float("inf")
        return self.value


class AlignedAverage:
    """The mean of a run's last layouts, each first rotated onto the running sum.

    Sampled forces never settle: each epoch's layout is the solution plus noise of the
    size the learning rate allows. Averaging the layouts of the run's second half (tail,
    or Polyak-Ruppert, averaging) cancels much of that noise at no extra cost. The
    strain does not see rotations, so noise also turns the layout a little; each layout is
    aligned (orthogonal Procrustes, d x d) before it is added."""

    def __init__(self):
        self.total = None
        self.count = 0

    def add(self, Y):
        Yc = Y - Y.mean(axis=0)
        if self.total is None:
            self.total = Yc.copy()
        else:
            U, _, Vt = np.linalg.svd(Yc.T @ self.total)
            self.total += Yc @ (U @ Vt)
        self.count += 1

    def mean(self):
        return self.total / self.count


class _Classical(EstimatorContract, TransformerMixin, BaseEstimator):
    """What the four estimators share: parameter checks, the forces loop, bookkeeping, ``save``."""

    def _check_common(self):
        self._check_n_components()
        check_choice(self.solver, "solver", SOLVERS)
        if self.sampling is not None:
            check_int(self.sampling, "sampling", low=1)  # solver="exact" ignores it
        if self.max_iter is not None:
            check_int(self.max_iter, "max_iter", low=1)
        if self.tol is not None:
            check_float(self.tol, "tol", low=0.0)
        if not (isinstance(self.init, str) and self.init == "random") and not hasattr(self.init, "__array__") \
                and not isinstance(self.init, (list, tuple)):
            raise ValueError(f"unknown init {self.init!r}; choose 'random' or an array (n_samples, n_components)")
        if self.n_jobs is not None:
            check_int(self.n_jobs, "n_jobs")
        return check_seed(self.random_state)

    def _check_n_components(self):
        check_int(self.n_components, "n_components", low=1)

    def _epochs(self):
        if self.max_iter is not None:
            return int(self.max_iter)
        return MAX_ITER_EXACT_SUMS if self.sampling is None else self._sampled_epochs

    _sampled_epochs = MAX_ITER_SAMPLED

    def _start(self, n, dim, scale, seed):
        """The initial layout: a given array, or Gaussian noise with column norms ``scale``."""
        if not isinstance(self.init, str):
            from ..graph.initialization import check_init_array

            return check_init_array(self.init, n, dim)
        Y = np.random.default_rng(seed).normal(size=(n, dim))
        Y -= Y.mean(axis=0)
        return Y * (scale / np.linalg.norm(Y, axis=0))

    def _tolerance(self):
        return DEFAULT_TOL if self.tol is None else float(self.tol)

    def _run(self, law, Y, callbacks, timings, *, learning_rate, momentum=0.0, max_step_norm=None, strain=True,
             backend=None):
        """Move Y along ``law`` on the one optimizer (exact sums: constant rate, stop at ``tol``;
        sampled: linearly decaying rate); record the objective per epoch.

        Exact sums stop when the relative gradient norm is below ``tol`` and, for the
        ``strain`` (which converges linearly), so is the estimated distance left, and the
        layout is not a saddle point (``StrainForces.at_saddle``). Sampled
        strain runs return the mean of their last SAMPLED_AVERAGE_FRACTION epochs' layouts
        (:class:`AlignedAverage`).

        ``backend`` (``ardr.methods.backends``; None: numpy): the optimizer moves Y in the
        backend's float64 arrays; callbacks and the bookkeeping see numpy copies. Returns numpy."""
        from ..engine.optimize import Schedule, optimize

        host = (lambda Y: Y) if backend is None else backend.to_numpy
        Y = Y if backend is None else backend.asarray(Y, dtype=np.float64)

        exact_sums = law.sampling is None
        n_epochs = self._epochs()
        tol = self._tolerance()
        schedule = Schedule(n_epochs=n_epochs, learning_rate=learning_rate, momentum=momentum,
                            decay="constant" if exact_sums else "linear", max_step_norm=max_step_norm)
        objective = []
        distance = DistanceEstimate() if exact_sums and strain else None
        average = AlignedAverage() if strain and not exact_sums else None
        average_from = int(n_epochs * (1.0 - SAMPLED_AVERAGE_FRACTION))
        saddle_checked = [-RATE_WINDOW]  # the epoch of the last saddle test

        def record(epoch, Y):
            stop = [cb(epoch, Y) for cb in callbacks]  # every callback sees every epoch
            objective.append(law.last_objective)
            if not exact_sums:
                if average is not None and epoch >= average_from:
                    average.add(Y)
                return any(stop)
            left = 0.0 if distance is None else distance.update(Y)
            if any(stop):
                return True
            if not (left <= tol and law.last_relative_gradient <= tol):
                return False
            if not strain:
                return True
            if epoch < saddle_checked[0] + RATE_WINDOW:
                return False  # a saddle was found lately: let the run leave it first
            saddle_checked[0] = epoch  # a stationary point: the minimum, or a saddle to wait out?
            return not law.at_saddle(Y, law.seed)

        progress = None
        if self.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(total=n_epochs, desc=type(self).__name__, unit="epoch", leave=False)
        t0 = time.perf_counter()
        try:
            n_iter = optimize(Y, law, schedule, callbacks=[lambda epoch, Y: record(epoch, host(Y))],
                              progress=progress)
        finally:
            if progress is not None:
                progress.close()
        timings["optimize"] = time.perf_counter() - t0
        if average is not None and average.count:
            Y = average.mean()
            if law.at_saddle(Y, law.seed):
                from sklearn.exceptions import ConvergenceWarning

                warnings.warn(f"{type(self).__name__}: the sampled run ended near a saddle point, not the minimum (a "
                              "component has not grown in yet); raise max_iter, or use exact sums (sampling=None)",
                              ConvergenceWarning, stacklevel=3)
        self.n_iter_ = n_iter
        self.objective_ = np.asarray(objective)
        self.learning_rate_ = float(learning_rate)
        left = 0.0 if distance is None else distance.value
        if distance is not None:
            self.distance_estimate_ = left
        t0 = time.perf_counter()
        self.final_objective_ = law.objective(Y)
        self.gradient_norm_ = law.relative_gradient(Y)
        timings["final_objective"] = time.perf_counter() - t0
        Y = host(Y)
        if exact_sums and not (left <= tol and self.gradient_norm_ <= tol) and n_iter == n_epochs:
            from sklearn.exceptions import ConvergenceWarning

            where = "" if distance is None else f"an estimated {left:.1e} (relative) from the solution, "
            warnings.warn(f"{type(self).__name__} stopped after max_iter={n_epochs} epochs, {where}with relative "
                          f"gradient norm {self.gradient_norm_:.2e} > tol={tol:g}; raise max_iter",
                          ConvergenceWarning, stacklevel=3)
        return Y

    def fit_transform(self, X, y=None, **fit_params):
        return self.fit(X, y, **fit_params).embedding_


class _Strain(_Classical):
    """PCA, classical MDS and Isomap: the strain on an input kernel each builds itself.

    ``backend="torch"`` moves the forces solver's kernel products to a torch ``device``
    (float64; see ``ardr.methods.backends``); the kernel is built on the host either way."""

    _sampled_epochs = MAX_ITER_SAMPLED_STRAIN

    @property
    def _backend(self):
        """The backend's namespace, from the parameters (not stored: it holds modules, which
        do not pickle). The exact solver is the numba backend's reference (SVD,
        eigensolvers) on the host."""
        from .backends import get_backend

        return get_backend(self.backend if self.solver == "forces" else "numba", self.device)

    def fit(self, X, y=None, *, callbacks=()):
        """Embed X. ``callbacks``: functions ``cb(epoch, Y) -> bool`` given to the optimizer
        (solver="forces"; Y is the current layout, as numpy; returning True stops the run)."""
        from ..engine.strain import STEP, StrainForces, spectral_norm
        seed = self._check_common()
        self._check_method_params()
        X = self._check_input(X)
        self.n_features_in_ = X.shape[1]
        timings = {}
        with numba_threads(self.n_jobs):
            t0 = time.perf_counter()
            kernel = self._kernel(X, seed)
            timings["kernel"] = time.perf_counter() - t0
            if self.solver == "exact":
                t0 = time.perf_counter()
                Y = self._exact(kernel, seed)
                timings["exact"] = time.perf_counter() - t0
                law = StrainForces(kernel)
                self.final_objective_ = law.objective(Y)
                self.objective_ = np.array([self.final_objective_])
                self.gradient_norm_ = law.relative_gradient(Y)
                self.n_iter_ = 0
                self.learning_rate_ = float("nan")
            else:
                t0 = time.perf_counter()
                lam = spectral_norm(kernel, seed)
                timings["learning_rate"] = time.perf_counter() - t0
                if lam == 0.0:
                    raise ValueError("the input kernel is zero (all points coincide); there is nothing to embed")
                Y = self._start(kernel.n, self._dimensions(kernel), INIT_SCALE * np.sqrt(lam), seed)
                law = StrainForces(kernel, sampling=self.sampling, seed=seed)
                if self.sampling is None:
                    Y = self._run(law, Y, callbacks, timings, learning_rate=STEP / lam, momentum=STRAIN_MOMENTUM,
                                  backend=self._backend)
                else:
                    Y = self._run(law, Y, callbacks, timings, learning_rate=SAMPLED_STRAIN_STEP / lam,
                                  momentum=SAMPLED_STRAIN_MOMENTUM,
                                  max_step_norm=SAMPLED_MAX_STEP * np.sqrt(lam / kernel.n), backend=self._backend)
            self.embedding_ = principal_axes(Y)
            self._after_fit(X, kernel)
        timings["total"] = sum(timings.values())
        self.timings_ = timings
        return self

    def _check_method_params(self):
        pass

    def _dimensions(self, kernel):
        return self.n_components

    def _exact(self, kernel, seed):
        from ..engine.numba.gram import FeatureGram

        if isinstance(kernel, FeatureGram):
            return classical.pca(kernel.X, self.n_components)[0]
        Y, self.eigenvalues_ = classical.classical_mds(kernel.B, self.n_components, seed=seed)
        return Y

    def _after_fit(self, X, kernel):
        pass

    # landmark / dense / features choice shared by ClassicalMDS(precomputed) and Isomap
    def _landmark_count(self, n, what):
        """None for the dense variant, else the number of landmarks (warning when automatic)."""
        if self.n_landmarks is not None:
            return min(n, self.n_landmarks)
        if n <= classical.DENSE_MAX_ROWS:
            return None
        warnings.warn(f"{type(self).__name__}: {n} rows exceed the dense limit of {classical.DENSE_MAX_ROWS} "
                      f"({what} would need {8.0 * n * n / 1e9:.1f} GB); using the landmark variant with "
                      f"{classical.DEFAULT_LANDMARKS} landmarks (set n_landmarks to choose)", stacklevel=4)
        return classical.DEFAULT_LANDMARKS

    def _landmark_kernel(self, delta_from_landmarks, landmarks):
        """FeatureGram of the triangulated landmark coordinates (centred)."""
        self._landmark_map = classical.LandmarkMap(delta_from_landmarks[:, landmarks], self.n_components)
        kernel = self._backend.FeatureGram(self._landmark_map.features(delta_from_landmarks))
        self._feature_mean = kernel.mean
        self.landmarks_ = landmarks
        self.variant_ = "landmark"
        return kernel


class PCA(_Strain):
    """Principal component analysis: scikit-learn's PCA, or the same answer by forces.

    ``solver="exact"`` (the default) is scikit-learn's ``PCA`` itself, with its parameters
    and their meaning: ``n_components`` an int, a fraction of the variance to keep (0.95),
    "mle" or None (all); ``whiten``; ``svd_solver`` ("auto", "full", "covariance_eigh",
    "arpack", "randomized"), ``tol``, ``iterated_power``, ``n_oversamples``,
    ``power_iteration_normalizer``, ``random_state``, ``copy``. Sparse input goes to it
    as it is (svd_solver "auto", "arpack" or "covariance_eigh").

    ``solver="forces"`` minimizes the strain K = Xc Xc^T from a random start (the paper's
    claim; never an n x n matrix) and fills the same attributes from the result. It needs
    an int (or None) ``n_components``; ``sampling``, ``max_iter``, ``tol`` (default
    :data:`DEFAULT_TOL`) and ``init`` set its run as for the other classical estimators, and
    ``svd_solver`` must stay "auto". It costs many epochs when components have close
    variances: for many components keep the exact solver.

    Attributes (both solvers, scikit-learn's): ``components_``, ``explained_variance_``,
    ``explained_variance_ratio_``, ``singular_values_``, ``mean_``, ``noise_variance_``,
    ``n_components_``, ``n_samples_``, ``n_features_in_``; and ``embedding_`` (what
    ``fit_transform`` returned). Signs follow scikit-learn: each component's largest
    entry is positive. Float32 data give float32 results, as in scikit-learn.
    """

    def __init__(self, n_components=None, *, copy=True, whiten=False, svd_solver="auto", tol=None,
                 iterated_power="auto", n_oversamples=10, power_iteration_normalizer="auto", random_state=None,
                 solver="exact", sampling=None, max_iter=None, init="random", n_jobs=-1, verbose=False,
                 backend="numba", device=None):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.solver = solver
        self.sampling = sampling
        self.max_iter = max_iter
        self.init = init
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.backend = backend
        self.device = device

    _NOT_APPLICABLE = {
        "check_transformer_n_iter": "max_iter caps the epochs of solver='forces', which sets n_iter_; the default "
                                    "exact solver is scikit-learn's PCA, which runs no iterations and has no n_iter_",
    }

    def fit(self, X, y=None, *, callbacks=()):
        """Fit the components. ``callbacks`` (solver="forces"): ``cb(epoch, Y) -> bool``
        given to the optimizer, as in the other classical estimators."""
        check_choice(self.solver, "solver", SOLVERS)
        check_backend(self.backend)
        if self.solver == "exact":  # sampling, max_iter, init and device are the force solver's: ignored
            return self._fit_exact(X)
        if not isinstance(self.whiten, (bool, np.bool_)):
            raise ValueError(f"whiten must be True or False, got {self.whiten!r}")
        if self.svd_solver != "auto":
            raise ValueError(f"svd_solver={self.svd_solver!r} chooses among the exact solvers; use solver='exact' "
                             "with it (solver='forces' has no SVD)")
        return super().fit(X, callbacks=callbacks)

    def fit_transform(self, X, y=None, *, callbacks=()):
        return self.fit(X, callbacks=callbacks).embedding_

    # ------------------------------------------------------------------ exact: scikit-learn's PCA
    def _fit_exact(self, X):
        from sklearn.decomposition import PCA as ScikitPCA

        t0 = time.perf_counter()
        X = check_pca_input(X)
        spread = X.max(axis=0) - X.min(axis=0)
        if not (spread.toarray() if hasattr(spread, "toarray") else spread).any():
            # scikit-learn would warn and return NaN variance ratios
            raise ValueError("all rows of X are the same point: there is no variance to explain")
        params = {name: getattr(self, name) for name in _SCIKIT_PCA_PARAMS}
        params["tol"] = 0.0 if self.tol is None else self.tol
        reference = ScikitPCA(**params)
        try:
            Y = reference.fit_transform(X)
        except (TypeError, ValueError) as exc:  # scikit-learn's own parameter checks, as one ValueError
            raise ValueError(f"PCA: {exc}") from None
        for name in _SCIKIT_PCA_FITTED:
            if hasattr(reference, name):
                setattr(self, name, getattr(reference, name))
        self.embedding_ = np.ascontiguousarray(Y)
        self.timings_ = {"exact": time.perf_counter() - t0}
        self.timings_["total"] = self.timings_["exact"]
        return self

    # ------------------------------------------------------------------ forces: the strain
    def _check_n_components(self):
        if self.n_components is not None:
            check_int(self.n_components, "n_components", low=1)  # fractions and "mle" need the whole spectrum

    def _dimensions(self, kernel):
        return min(kernel.n, kernel.n_features) if self.n_components is None else self.n_components

    def _check_input(self, X):
        X = check_features(X)
        if self.n_components is not None and self.n_components > min(X.shape):
            raise ValueError(f"n_components={self.n_components} must be <= min(n_samples, n_features) = "
                             f"{min(X.shape)}")
        return X

    def _kernel(self, X, seed):
        kernel = self._backend.FeatureGram(X)
        self.mean_ = kernel.mean
        self.n_features_in_ = X.shape[1]
        return kernel

    def _after_fit(self, X, kernel):
        scores = self.embedding_
        n = X.shape[0]
        # the least-squares linear map from centred data to the scores: V_d at the optimum
        gram = scores.T @ scores
        components = (kernel.transpose_product(scores) @ np.linalg.pinv(gram)).T
        signs = component_signs(components)
        components *= signs[:, None]
        scores = scores * signs
        variance = np.diag(gram) / max(n - 1, 1)
        total = kernel.centred_sum_of_squares() / max(n - 1, 1)
        rank = min(X.shape)
        dtype = X.dtype
        self.n_components_ = scores.shape[1]
        self.n_samples_ = n
        self.components_ = components.astype(dtype)
        self.explained_variance_ = variance.astype(dtype)
        self.explained_variance_ratio_ = (variance / total if total > 0 else np.zeros_like(variance)).astype(dtype)
        self.singular_values_ = np.sqrt(np.diag(gram)).astype(dtype)
        noise = (total - variance.sum()) / (rank - self.n_components_) if self.n_components_ < rank else 0.0
        self.noise_variance_ = dtype.type(max(noise, 0.0))
        self.mean_ = self.mean_.astype(dtype)
        if self.whiten:
            scores = scores / np.sqrt(np.maximum(variance, np.finfo(np.float64).eps))
        self.embedding_ = scores.astype(dtype)

    # ------------------------------------------------------------------ both: scikit-learn's maps
    def _fitted_scikit_pca(self):
        """A scikit-learn PCA holding this model's attributes: its transform, inverse_transform,
        score and covariance are then exactly scikit-learn's, whichever solver fitted them."""
        from sklearn.decomposition import PCA as ScikitPCA
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "components_")
        model = ScikitPCA(n_components=self.n_components_, whiten=self.whiten)
        for name in _SCIKIT_PCA_FITTED:
            if hasattr(self, name):
                setattr(model, name, getattr(self, name))
        return model

    def transform(self, X):
        """Project X on the components (whitened when ``whiten``)."""
        return self._fitted_scikit_pca().transform(check_pca_input(X, min_rows=1))

    def inverse_transform(self, X):
        """Data whose projection is X: X @ components_ + mean_ (undoing the whitening)."""
        Y = check_data(X, min_rows=1, dtype=np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64)
        if Y.shape[1] != self.components_.shape[0]:
            raise ValueError(f"X has {Y.shape[1]} columns, but this PCA has {self.components_.shape[0]} components")
        return self._fitted_scikit_pca().inverse_transform(Y)

    def score_samples(self, X):
        """Log-likelihood of each row under the probabilistic PCA model (scikit-learn's)."""
        return self._fitted_scikit_pca().score_samples(check_pca_input(X, min_rows=1, sparse=False))

    def score(self, X, y=None):
        """Mean log-likelihood of the rows (scikit-learn's)."""
        return float(np.mean(self.score_samples(X)))

    def get_covariance(self):
        """The data covariance the model implies (scikit-learn's)."""
        return self._fitted_scikit_pca().get_covariance()

    def get_precision(self):
        """The inverse of get_covariance (scikit-learn's)."""
        return self._fitted_scikit_pca().get_precision()


_SCIKIT_PCA_PARAMS = ("n_components", "copy", "whiten", "svd_solver", "tol", "iterated_power", "n_oversamples",
                      "power_iteration_normalizer", "random_state")
_SCIKIT_PCA_FITTED = ("components_", "explained_variance_", "explained_variance_ratio_", "singular_values_",
                      "mean_", "noise_variance_", "n_components_", "n_samples_", "n_features_in_",
                      "feature_names_in_")


def component_signs(components):
    """+1 / -1 per row so that each row's largest |entry| is positive (scikit-learn's svd_flip)."""
    flip = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    return np.where(flip == 0, 1.0, flip)


def check_pca_input(X, *, min_rows=2, sparse=True):
    """Data for PCA: a float32/float64 array, or (``sparse``) a scipy sparse matrix kept sparse."""
    import scipy.sparse as sp

    if sparse and sp.issparse(X):
        if X.ndim != 2 or min(X.shape) == 0:
            raise ValueError(f"X is empty or not 2-D: shape {X.shape}")
        if X.shape[0] < min_rows:
            raise ValueError(f"X has {X.shape[0]} row(s); at least {min_rows} are needed")
        X = X.tocsr()
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if not np.isfinite(X.data).all():
            raise ValueError(f"X contains {int(np.count_nonzero(~np.isfinite(X.data)))} NaN or infinite value(s)")
        return X
    return check_magnitude(check_data(X, min_rows=min_rows,
                                      dtype=np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64))


class ClassicalMDS(_Strain):
    """Classical (Torgerson) MDS: strain with K = B = -1/2 C (Delta o Delta) C.

    ``dissimilarity="euclidean"``: Delta is the Euclidean distance between rows of X, and
    B = Xc Xc^T is used through products (PCA's kernel; no n x n matrix).
    ``"precomputed"``: X is a symmetric n x n dissimilarity matrix with zero diagonal;
    B is built densely up to ``classical.DENSE_MAX_ROWS`` rows. Above that (or when
    ``n_landmarks`` is set) landmark MDS is used: rows of Delta for the landmarks only,
    every point triangulated from them (a warning says so; ``variant_`` records it).
    """

    def __init__(self, n_components=2, *, dissimilarity="euclidean", solver="forces", sampling=None,
                 n_landmarks=None, max_iter=None, tol=1e-7, init="random", random_state=None, n_jobs=-1,
                 verbose=False, backend="numba", device=None):
        self.n_components = n_components
        self.dissimilarity = dissimilarity
        self.solver = solver
        self.sampling = sampling
        self.n_landmarks = n_landmarks
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.backend = backend
        self.device = device

    def _check_method_params(self):
        check_choice(self.dissimilarity, "dissimilarity", DISSIMILARITIES)
        if self.n_landmarks is not None:
            check_int(self.n_landmarks, "n_landmarks", low=self.n_components + 1)
            if self.dissimilarity == "euclidean":
                raise ValueError("n_landmarks applies to dissimilarity='precomputed'; Euclidean classical MDS "
                                 "never builds an n x n matrix")

    def _check_input(self, X):
        X = check_features(X) if self.dissimilarity == "euclidean" else check_dissimilarities(X)
        if self.n_components >= X.shape[0]:
            raise ValueError(f"n_components={self.n_components} must be < n_samples={X.shape[0]}")
        return X

    def _kernel(self, X, seed):
        self.landmarks_ = None
        if self.dissimilarity == "euclidean":
            self.variant_ = "features"
            return self._backend.FeatureGram(X)
        n = X.shape[0]
        n_landmarks = self._landmark_count(n, "the double-centred matrix B")
        if n_landmarks is None:
            self.variant_ = "dense"
            return self._backend.DenseGram(classical.gram_from_dissimilarities(X))
        landmarks = classical.choose_landmarks(n, n_landmarks, seed)
        return self._landmark_kernel(X[landmarks], landmarks)


class Isomap(_Strain):
    """Isomap: classical MDS of geodesic distances on the symmetrized kNN graph.

    Dense (all-pairs Dijkstra, B built as an n x n matrix) up to
    ``classical.DENSE_MAX_ROWS`` rows; above that, or when ``n_landmarks`` is set,
    landmark Isomap (geodesics from the landmarks only; a warning says so, and
    ``variant_`` records it). ``transform`` places new points from their geodesic
    distances through their ``n_neighbors`` nearest fitted points.
    """

    # what transform needs, kept in model files (ardr.io)
    _saved_state = ("_X_fit", "_out_of_sample", "_mean_squares", "_landmark_map", "_feature_mean")

    def __init__(self, n_neighbors=5, n_components=2, *, n_landmarks=None, solver="forces", sampling=None,
                 max_iter=None, tol=1e-7, init="random", random_state=None, n_jobs=-1, verbose=False,
                 metric="euclidean", metric_kwds=None, backend="numba", device=None):
        self.backend = backend
        self.device = device
        self.metric = metric
        self.metric_kwds = metric_kwds
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.n_landmarks = n_landmarks
        self.solver = solver
        self.sampling = sampling
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_method_params(self):
        from ..graph.distances import canonical

        check_int(self.n_neighbors, "n_neighbors", low=1)
        canonical(self.metric, self.metric_kwds)
        if self.n_landmarks is not None:
            check_int(self.n_landmarks, "n_landmarks", low=self.n_components + 1)

    def _check_input(self, X):
        X = check_magnitude(check_data(X, min_rows=2, dtype=np.float64, accept_sparse=True))
        n = X.shape[0]
        if self.n_neighbors > n - 1:
            raise ValueError(f"n_neighbors={self.n_neighbors} is too large for {n} rows; it must be <= {n - 1}")
        if self.n_components >= n:
            raise ValueError(f"n_components={self.n_components} must be < n_samples={n}")
        return X

    def _kernel(self, X, seed):
        n = X.shape[0]
        self.n_features_in_ = X.shape[1]
        n_landmarks = self._landmark_count(n, "all-pairs geodesic distances")
        graph, _, _ = classical.knn_graph(X, self.n_neighbors, random_state=seed, n_jobs=self.n_jobs,
                                          metric=self.metric, metric_kwds=self.metric_kwds)
        self._X_fit = X
        if n_landmarks is None:
            self.variant_ = "dense"
            self.landmarks_ = None
            G = classical.geodesic_distances(graph)
            self.dist_matrix_ = G
            B = np.square(G)
            self._mean_squares = B.mean(axis=1)
            return self._backend.DenseGram(classical.double_centre(B))
        landmarks = classical.choose_landmarks(n, n_landmarks, seed)
        delta = classical.geodesic_distances(graph, landmarks)
        self.landmark_distances_ = delta
        return self._landmark_kernel(delta, landmarks)

    def _after_fit(self, X, kernel):
        Y = self.embedding_
        if self.variant_ == "dense":
            # y(x) = -1/2 (Y^T Y)^-1 Y^T (delta_x^2 - mean_squares): exact for the fitted points
            self._out_of_sample = np.linalg.pinv(Y.T @ Y) @ Y.T * -0.5
        else:
            self._out_of_sample = np.linalg.lstsq(kernel.centred(), Y, rcond=None)[0]

    def transform(self, X):
        from sklearn.utils.validation import check_is_fitted

        from ..graph.neighbors import exact_knn

        check_is_fitted(self, "embedding_")
        X = check_n_features(self, check_data(X, min_rows=1, dtype=np.float64, accept_sparse=True))
        idx, lengths = exact_knn(self._X_fit, self.n_neighbors, metric=self.metric, metric_kwds=self.metric_kwds,
                                 queries=X, exclude_self=False)
        idx = idx.astype(np.int64)
        if classical.remeasured(self._X_fit, self.metric):
            lengths = classical.edge_lengths(self._X_fit, idx, queries=X)
        lengths = np.asarray(lengths, dtype=np.float64)
        if self.variant_ == "dense":
            delta = classical.geodesics_to_new_points(idx, lengths, self.dist_matrix_)
            S = np.square(delta) - self._mean_squares[:, None]
            Y = (self._out_of_sample @ S).T
        else:
            delta = classical.geodesics_to_new_points(idx, lengths, self.landmark_distances_)
            Y = (self._landmark_map.features(delta) - self._feature_mean) @ self._out_of_sample
        # a fitted point given again is where the fit put it (the map above agrees only at the
        # exact minimum), so fit(X).transform(X) is fit_transform(X)
        nearest = lengths.argmin(axis=1)
        again = lengths[np.arange(len(X)), nearest] == 0.0
        Y[again] = self.embedding_[idx[again, nearest[again]]]
        return Y


class MetricMDS(_Classical):
    """Metric MDS: minimize the raw stress sum_{i<j} (d_ij - delta_ij)^2.

    ``solver="forces"``: the stress force law from a random start. By default
    ``sampling=20`` partners per point per epoch with a linearly decaying rate: the
    noise of sampled pairs finds lower stress than full-batch majorization from the
    same kind of start (digits, 5 seeds: 0.982-0.984 x SMACOF's stress).
    ``sampling=None`` sums exactly with learning rate 1 / n, which is SMACOF's Guttman
    step, until the relative gradient norm (the Guttman step's length relative to the
    layout's) is below ``tol``. ``solver="exact"``: scikit-learn's SMACOF from the same
    random start with its own stopping rule (eps 1e-6; ``max_iter`` default 300). Dissimilarities are a dense n x n
    matrix (Euclidean distances of X, or precomputed), so n is limited to
    ``classical.DENSE_MAX_ROWS``. Extra attribute: ``stress_`` (= ``final_objective_``).
    """

    def __init__(self, n_components=2, *, dissimilarity="euclidean", solver="forces", sampling=20,
                 max_iter=None, tol=1e-4, init="random", random_state=None, n_jobs=-1, verbose=False):
        self.n_components = n_components
        self.dissimilarity = dissimilarity
        self.solver = solver
        self.sampling = sampling
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X, y=None, *, callbacks=()):
        """Embed X (rows = points, or a dissimilarity matrix). ``callbacks`` as in PCA.fit."""
        from ..engine.numba.stress import StressForces

        seed = self._check_common()
        check_choice(self.dissimilarity, "dissimilarity", DISSIMILARITIES)
        if self.dissimilarity == "euclidean":
            X = check_magnitude(check_data(X, min_rows=2, dtype=np.float64))
        else:
            X = check_dissimilarities(X)
        n = X.shape[0]
        if self.n_components >= n:
            raise ValueError(f"n_components={self.n_components} must be < n_samples={n}")
        self.n_features_in_ = X.shape[1]
        timings = {}
        with numba_threads(self.n_jobs):
            t0 = time.perf_counter()
            if self.dissimilarity == "euclidean":
                classical.check_dense_size(n, "metric MDS of Euclidean distances",
                                           "use ClassicalMDS or PCA (no n x n matrix), or a subsample")
                Delta = classical.euclidean_distances(X)
            else:
                classical.check_dense_size(n, "metric MDS", "use a subsample")
                Delta = X
            timings["dissimilarities"] = time.perf_counter() - t0
            law = StressForces(Delta, sampling=self.sampling, seed=seed)
            # a random start at the dissimilarities' scale: rms distance = rms dissimilarity
            scale = float(np.sqrt(np.vdot(Delta, Delta) / n / (2.0 * self.n_components)))
            Y = self._start(n, self.n_components, scale, seed)
            if self.solver == "exact":
                t0 = time.perf_counter()
                Y, _, self.n_iter_ = classical.smacof(Delta, self.n_components, init=Y, random_state=seed,
                                                      max_iter=self._epochs_exact())
                timings["exact"] = time.perf_counter() - t0
                self.final_objective_ = law.objective(Y)
                self.objective_ = np.array([self.final_objective_])
                self.gradient_norm_ = law.relative_gradient(Y)
                self.learning_rate_ = float("nan")
            else:
                rate = 1.0 / n if self.sampling is None else SAMPLED_STRESS_STEP / n
                Y = self._run(law, Y, callbacks, timings, learning_rate=rate, strain=False)
        self.embedding_ = Y
        self.stress_ = self.final_objective_
        timings["total"] = sum(timings.values())
        self.timings_ = timings
        return self

    def _epochs_exact(self):
        return 300 if self.max_iter is None else int(self.max_iter)



def principal_axes(Y):
    """Y centred and rotated so its columns are uncorrelated, largest variance first,
    each column's largest entry positive (a rotation: distances are unchanged)."""
    Yc = Y - Y.mean(axis=0)
    values, vectors = np.linalg.eigh(Yc.T @ Yc)
    Yr = Yc @ vectors[:, np.argsort(values)[::-1]]
    flip = np.sign(Yr[np.abs(Yr).argmax(axis=0), np.arange(Yr.shape[1])])
    return Yr * np.where(flip == 0, 1.0, flip)


def check_features(X):
    """Data rows as float32 when given as float32 (exact, and half the memory traffic of
    every product), else float64."""
    if isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 2 and X.shape[0] >= 2 \
            and X.shape[1] >= 1 and np.isfinite(X).all():
        return check_magnitude(np.ascontiguousarray(X))  # valid already: no float64 round trip
    dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
    return check_magnitude(check_data(X, min_rows=2, dtype=dtype))


MAGNITUDE_RANGE = (1e-100, 1e100)


def check_magnitude(X, name="X"):
    """Gram products square the entries: refuse magnitudes whose squares leave float64's range."""
    big = float(np.abs(X).max())
    if big > 0 and not MAGNITUDE_RANGE[0] <= big <= MAGNITUDE_RANGE[1]:
        raise ValueError(f"{name} has entries of magnitude {big:.1e}, outside [{MAGNITUDE_RANGE[0]:g}, "
                         f"{MAGNITUDE_RANGE[1]:g}]: its Gram products would overflow or underflow; rescale it "
                         "(e.g. X / X.std())")
    return X


def check_dissimilarities(Delta, *, name="X"):
    """A square, symmetric, non-negative, finite float64 matrix with zero diagonal.

    Checked in row blocks, so no temporary n x n array is made."""
    D = check_magnitude(check_data(Delta, name=name, min_rows=2, dtype=np.float64), name)
    n, m = D.shape
    if n != m:
        raise ValueError(f"dissimilarity='precomputed' needs a square matrix, got shape {D.shape}")
    scale = max(float(np.abs(D).max()), 1e-300)
    if np.abs(np.diag(D)).max() > 1e-12 * scale:
        raise ValueError(f"{name} must have a zero diagonal (each point's dissimilarity to itself)")
    block = max(1, 2_000_000 // n)
    for s in range(0, n, block):
        rows = D[s : s + block]
        if (rows < 0).any():
            raise ValueError(f"{name} has negative dissimilarities")
        if np.abs(rows - D[:, s : s + block].T).max() > 1e-10 * scale:
            raise ValueError(f"{name} must be symmetric")
    return D

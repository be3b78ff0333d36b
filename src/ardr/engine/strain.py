"""Strain: PCA, classical MDS and Isomap as attractions and repulsions (docs/mathematics.md,
sections 4-5). The force law is written once here; each backend supplies the kernels
whose products it needs (``engine/numba/gram.py``, ``engine/torch/gram.py``).

The objective is f(Y) = ||C (K - G_Y) C||_F^2 with K a double-centred input kernel and
G_Y = Y Y^T. With Yc = C Y, the descent direction (minus the gradient) is

    F = 4 (K Yc - Yc (Yc^T Yc)),   row i: 4 sum_j (K_ij - yc_i . yc_j) (y_j - y_i),

because the rows of both double-centred matrices sum to zero: pairs more similar in
the input than in the embedding attract, the others repel. A kernel offers
``matmul(Y)`` (K Y), ``squared_norm()`` (||K||_F^2), ``n`` and
``sampled(Y, Yc, m, seed, epoch, out)`` (the direction from m uniform partners per
point, scaled by n / m so the estimate is unbiased; returns each row's sampled strain).

The learning rate is ``STEP / lambda_max`` with lambda_max (in magnitude) from power
iteration: the gradient's Lipschitz constant near the optimum is 8 lambda_max, so
steps stay stable below 1 / (4 lambda_max).
"""

import numpy as np

from .arrays import namespace

#: learning rate times lambda_max; stability needs < 0.25 (see the module docstring)
STEP = 0.2


def spectral_norm(kernel, seed=0, *, rtol=1e-3, max_iter=200):
    """The largest |eigenvalue| of K by power iteration (norm of K v over unit v).

    The estimate approaches the true value from below; ``rtol`` bounds the change
    between two iterations at which it stops. Costs two kernel products per iteration.
    """
    v = np.random.default_rng(seed).normal(size=(kernel.n, 1))
    v -= v.mean()
    v /= np.linalg.norm(v)
    estimate = 0.0
    for _ in range(max_iter):
        w = kernel.matmul(v)
        norm = float(np.linalg.norm(w))
        if norm == 0.0:
            return 0.0
        v = w / norm
        if abs(norm - estimate) <= rtol * norm:
            return norm
        estimate = norm
    return estimate


class StrainForces:
    """The strain force law on a Gram kernel (``FeatureGram`` or ``DenseGram`` of a backend).

    ``sampling=None`` sums over all partners exactly; an int m draws m uniform partners
    per point per epoch. After each ``direction`` call, ``last_objective`` holds the
    strain at that Y (exact sums: exact; sampled: the unbiased estimate from the same
    pairs) and ``last_relative_gradient`` the relative gradient norm (exact sums only;
    NaN when sampled), the quantity the stopping rule watches:

        ||K Yc - Yc Yc^T Yc||_F / max(||K Yc||_F, ||Yc Yc^T Yc||_F),

    i.e. the net force relative to the larger of its attraction-repulsion halves.
    Y is a numpy array or a torch tensor, whichever the kernel's backend works on.
    """

    def __init__(self, kernel, *, sampling=None, seed=0):
        self.kernel = kernel
        self.sampling = None if sampling is None else int(sampling)
        self.seed = int(seed)
        self.last_objective = float("nan")
        self.last_relative_gradient = float("nan")

    def direction(self, Y, epoch):
        xp = namespace(Y)
        Yc = Y - xp.column_means(Y)
        if self.sampling is None:
            F, self.last_objective, self.last_relative_gradient = self._exact(Yc)
            return F
        F = xp.zeros_like(Y)
        row_objective = self.kernel.sampled(Y, Yc, self.sampling, self.seed, epoch, F)
        self.last_objective = float(row_objective.sum())
        return F

    def _exact(self, Yc):
        # n x d by d x d products and norms with einsum: tall-skinny BLAS calls wake the
        # BLAS thread pool every epoch, which costs milliseconds on a busy machine
        xp = namespace(Yc)
        KY = self.kernel.matmul(Yc)
        G = xp.einsum("ik,il->kl", Yc, Yc)
        YG = xp.einsum("ik,kl->il", Yc, G)
        net = KY - YG
        # ||K - Yc Yc^T||^2 = ||K||^2 - 2 tr(Yc^T K Yc) + ||Yc^T Yc||^2
        objective = self.kernel.squared_norm() - 2.0 * _dot(Yc, KY) + _dot(G, G)
        scale = np.sqrt(max(_dot(KY, KY), _dot(YG, YG)))
        relative = np.sqrt(_dot(net, net)) / scale if scale > 0 else 0.0
        return 4.0 * net, max(objective, 0.0), float(relative)

    def objective(self, Y):
        """The exact strain ||C (K - Y Y^T) C||_F^2 at Y."""
        return self._exact(Y - namespace(Y).column_means(Y))[1]

    def relative_gradient(self, Y):
        """The exact relative gradient norm at Y (see the class docstring)."""
        return self._exact(Y - namespace(Y).column_means(Y))[2]

    def at_saddle(self, Y, seed=0, *, margin=1e-3):
        """True when Y is a saddle point of the strain rather than its minimum.

        A small gradient does not tell them apart: a column of Y can rest on a lower
        eigenvector of K (variance lambda_j) while the top one's component is still too
        small to have grown. At the minimum, K restricted to the complement of Y's span
        (and of the constant vector) has its largest eigenvalue lambda_{d+1} below every
        column variance; at such a saddle it exceeds the smallest (by ``margin`` x the
        largest variance). The eigenvalue comes from Lanczos on the complement (ARPACK,
        a few dozen kernel products; dense below 400 points), on the host: kernels take
        numpy arrays whatever their backend."""
        Y = namespace(Y).to_numpy(Y)
        Yc = Y - Y.mean(axis=0)
        n, d = Yc.shape
        if n - d - 1 < 1:
            return False
        Q, _ = np.linalg.qr(np.column_stack([np.full(n, 1.0 / np.sqrt(n)), Yc]))

        def complement(V):
            V = V - Q @ (Q.T @ V)
            W = self.kernel.matmul(np.ascontiguousarray(V))
            return W - Q @ (Q.T @ W)

        if n <= 400:
            top = float(np.linalg.eigvalsh(complement(np.eye(n)))[-1])
        else:
            from scipy.sparse.linalg import LinearOperator, eigsh

            op = LinearOperator((n, n), matvec=lambda v: complement(v.reshape(n, 1))[:, 0], dtype=np.float64)
            v0 = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
            top = float(eigsh(op, k=1, which="LA", tol=1e-4, v0=v0, return_eigenvectors=False)[0])
        variances = np.linalg.eigvalsh(np.einsum("ik,il->kl", Yc, Yc))
        return top > variances[0] + margin * variances[-1]


def _dot(A, B):
    """sum(A * B) as a float, without BLAS (see StrainForces._exact)."""
    return float(namespace(A).einsum("ij,ij->", A, B))

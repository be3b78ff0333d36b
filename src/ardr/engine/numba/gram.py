"""Strain: PCA, classical MDS and Isomap as attractions and repulsions (DESIGN section 4-5).

The objective is f(Y) = ||C (K - G_Y) C||_F^2 with K a double-centred input kernel and
G_Y = Y Y^T. With Yc = C Y, the descent direction (minus the gradient) is

    F = 4 (K Yc - Yc (Yc^T Yc)),   row i: 4 sum_j (K_ij - yc_i . yc_j) (y_j - y_i),

because the rows of both double-centred matrices sum to zero: pairs more similar in
the input than in the embedding attract, the others repel. Two kernels:

- ``FeatureGram``: K = Zc Zc^T for centred features (PCA: the data; landmark MDS and
  Isomap: the landmark coordinates). K is never formed: K Yc = Zc (Zc^T Yc), O(n r d).
- ``DenseGram``: K = B = -1/2 C (Delta o Delta) C given as an n x n matrix (classical
  MDS of a dissimilarity matrix, Isomap's geodesics).

Two ways to sum over partners j: exact (the matrix products above) or sampled (m
uniform partners per point per epoch, scaled by n / m so the estimate is unbiased;
partners come from the counter-based generator, so a seed gives the same numbers on
any thread count). The learning rate is ``STEP / lambda_max`` with lambda_max (in
magnitude) from power iteration: the gradient's Lipschitz constant near the optimum
is 8 lambda_max, so steps stay stable below 1 / (4 lambda_max).
"""

import numba
import numpy as np

from .rng import draw_index, stream_key

#: learning rate times lambda_max; stability needs < 0.25 (see the module docstring)
STEP = 0.2
#: row blocks of Zc^T Y: a fixed count, so the sum's order (and result) does not depend
#: on the number of threads
PRODUCT_BLOCKS = 64


class FeatureGram:
    """K = Zc Zc^T with Zc = X - mean (rows = points), used through products only.

    X is kept as given, float32 or float64 (float32 halves the memory traffic of every
    product, which is what a product costs); the mean enters the small D x d products,
    so no centred copy is made. All sums run in float64.
    """

    def __init__(self, X, mean=None):
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self.X = np.ascontiguousarray(X)
        self.n, self.n_features = X.shape
        self.mean = X.mean(axis=0, dtype=np.float64) if mean is None else np.asarray(mean, dtype=np.float64)
        self._blocks = min(self.n, PRODUCT_BLOCKS)
        self._squared_norm = None
        self._shift = None

    def transpose_product(self, Y):
        """Zc^T Y (n_features x d)."""
        Y = np.ascontiguousarray(Y, dtype=np.float64)
        return _transpose_product(self.X, Y, self._blocks) - np.outer(self.mean, Y.sum(axis=0))

    def matmul(self, Y):
        """K Y = Zc (Zc^T Y)."""
        P = self.transpose_product(Y)
        out = np.empty((self.n, P.shape[1]))
        _product(self.X, np.ascontiguousarray(P.T), self.mean @ P, out)
        return out

    def centred(self, rows=slice(None)):
        """Rows of Zc as float64."""
        return self.X[rows].astype(np.float64) - self.mean

    def squared_norm(self):
        """||K||_F^2 = ||Zc^T Zc||_F^2 (or ||Zc Zc^T||_F^2 when n < n_features); computed once.

        Zc^T Zc is summed over row blocks by BLAS syrk in the data's precision (float32
        data: relative error about 1e-6, in a constant that cancels in objective gaps)."""
        if self._squared_norm is None:
            if self.n < self.n_features:
                Zc = self.centred()
                small = Zc @ Zc.T
            else:
                import scipy.linalg.blas as blas

                syrk = blas.ssyrk if self.X.dtype == np.float32 else blas.dsyrk
                mean = self.mean.astype(self.X.dtype)
                upper = np.zeros((self.n_features, self.n_features))
                step = max(1, 4_000_000 // self.n_features)
                for s in range(0, self.n, step):
                    block = self.X[s : s + step] - mean
                    upper += syrk(1.0, block.T)  # block^T block, upper triangle
                small = np.triu(upper) + np.triu(upper, 1).T
            self._squared_norm = float(np.vdot(small, small))
        return self._squared_norm

    def centred_sum_of_squares(self):
        """||Zc||_F^2 = trace(K), in float64 over row blocks (PCA's total variance times n - 1)."""
        total = 0.0
        step = max(1, 4_000_000 // self.n_features)
        for s in range(0, self.n, step):
            block = self.X[s : s + step] - self.mean
            total += float(np.einsum("ij,ij->", block, block))
        return total

    def sampled(self, Y, Yc, m, seed, epoch, out):
        if self._shift is None:
            self._shift = _product_vector(self.X, self.mean)
        return _sampled_features(self.X, self._shift, float(self.mean @ self.mean), Y, Yc, m, seed, epoch, out)


class DenseGram:
    """K = B, a dense symmetric double-centred n x n matrix."""

    def __init__(self, B):
        self.B = np.ascontiguousarray(B, dtype=np.float64)
        self.n = self.B.shape[0]
        self._squared_norm = None

    def matmul(self, Y):
        return self.B @ Y

    def squared_norm(self):
        if self._squared_norm is None:
            self._squared_norm = float(np.vdot(self.B, self.B))
        return self._squared_norm

    def sampled(self, Y, Yc, m, seed, epoch, out):
        return _sampled_dense(self.B, Y, Yc, m, seed, epoch, out)


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
    """The strain force law on a ``FeatureGram`` or ``DenseGram`` kernel.

    ``sampling=None`` sums over all partners exactly; an int m draws m uniform partners
    per point per epoch. After each ``direction`` call, ``last_objective`` holds the
    strain at that Y (exact sums: exact; sampled: the unbiased estimate from the same
    pairs) and ``last_relative_gradient`` the relative gradient norm (exact sums only;
    NaN when sampled), the quantity the stopping rule watches:

        ||K Yc - Yc Yc^T Yc||_F / max(||K Yc||_F, ||Yc Yc^T Yc||_F),

    i.e. the net force relative to the larger of its attraction-repulsion halves.
    """

    def __init__(self, kernel, *, sampling=None, seed=0):
        self.kernel = kernel
        self.sampling = None if sampling is None else int(sampling)
        self.seed = int(seed)
        self.last_objective = float("nan")
        self.last_relative_gradient = float("nan")

    def direction(self, Y, epoch):
        Yc = Y - Y.mean(axis=0)
        if self.sampling is None:
            F, self.last_objective, self.last_relative_gradient = self._exact(Yc)
            return F
        F = np.empty_like(Y)
        row_objective = self.kernel.sampled(Y, Yc, self.sampling, self.seed, epoch, F)
        self.last_objective = float(row_objective.sum())
        return F

    def _exact(self, Yc):
        # n x d by d x d products and norms with einsum: tall-skinny BLAS calls wake the
        # BLAS thread pool every epoch, which costs milliseconds on a busy machine
        KY = self.kernel.matmul(Yc)
        G = np.einsum("ik,il->kl", Yc, Yc)
        YG = np.einsum("ik,kl->il", Yc, G)
        net = KY - YG
        # ||K - Yc Yc^T||^2 = ||K||^2 - 2 tr(Yc^T K Yc) + ||Yc^T Yc||^2
        objective = self.kernel.squared_norm() - 2.0 * _dot(Yc, KY) + _dot(G, G)
        scale = np.sqrt(max(_dot(KY, KY), _dot(YG, YG)))
        relative = np.sqrt(_dot(net, net)) / scale if scale > 0 else 0.0
        return 4.0 * net, max(objective, 0.0), float(relative)

    def objective(self, Y):
        """The exact strain ||C (K - Y Y^T) C||_F^2 at Y."""
        return self._exact(Y - Y.mean(axis=0))[1]

    def relative_gradient(self, Y):
        """The exact relative gradient norm at Y (see the class docstring)."""
        return self._exact(Y - Y.mean(axis=0))[2]

    def at_saddle(self, Y, seed=0, *, margin=1e-3):
        """True when Y is a saddle point of the strain rather than its minimum.

        A small gradient does not tell them apart: a column of Y can rest on a lower
        eigenvector of K (variance lambda_j) while the top one's component is still too
        small to have grown. At the minimum, K restricted to the complement of Y's span
        (and of the constant vector) has its largest eigenvalue lambda_{d+1} below every
        column variance; at such a saddle it exceeds the smallest (by ``margin`` x the
        largest variance). The eigenvalue comes from Lanczos on the complement (ARPACK,
        a few dozen kernel products; dense below 400 points)."""
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


def _product_vector(X, v):
    """X v in float64 (n-vector)."""
    out = np.empty((X.shape[0], 1))
    _product(X, np.ascontiguousarray(v.reshape(1, -1)), np.zeros(1), out)
    return out[:, 0]


def _dot(A, B):
    """sum(A * B) without BLAS (see StrainForces._exact)."""
    return float(np.einsum("ij,ij->", A, B))


@numba.njit(parallel=True, fastmath=True, cache=True)
def _transpose_product(X, Y, n_blocks):
    """X^T Y in float64, summed per fixed row block, then over blocks in order."""
    n, D = X.shape
    dim = Y.shape[1]
    size = (n + n_blocks - 1) // n_blocks
    partial = np.zeros((n_blocks, dim, D))
    for b in numba.prange(n_blocks):
        for i in range(b * size, min(n, (b + 1) * size)):
            for k in range(dim):
                y = Y[i, k]
                for j in range(D):
                    partial[b, k, j] += X[i, j] * y
    out = np.zeros((D, dim))
    for b in range(n_blocks):
        for k in range(dim):
            for j in range(D):
                out[j, k] += partial[b, k, j]
    return out


@numba.njit(parallel=True, fastmath=True, cache=True)
def _product(X, PT, shift, out):
    """out = X P - shift (row vector), in float64; PT = P^T (d x D, contiguous)."""
    n, D = X.shape
    dim = PT.shape[0]
    for i in numba.prange(n):
        for k in range(dim):
            s = 0.0
            for j in range(D):
                s += X[i, j] * PT[k, j]
            out[i, k] = s - shift[k]


@numba.njit(parallel=True, fastmath=True, cache=True)
def _sampled_features(X, shift, offset, Y, Yc, m, seed, epoch, out):
    """out[i] = 4 (n / m) sum over m drawn j of (zc_i . zc_j - yc_i . yc_j)(y_j - y_i);
    returns each row's sampled estimate of sum_j (K_ij - yc_i . yc_j)^2.

    zc_i . zc_j = x_i . x_j - shift_i - shift_j + offset with shift = X mean, offset =
    mean . mean: the inner loop is a plain dot product of two data rows."""
    n, D = X.shape
    dim = Y.shape[1]
    scale = n / m
    objective = np.empty(n)
    for i in numba.prange(n):
        key = stream_key(seed, epoch, i)
        for d in range(dim):
            out[i, d] = 0.0
        acc = 0.0
        for s in range(m):
            j = draw_index(key, s, n)
            w = 0.0
            for k in range(D):
                w += np.float64(X[i, k]) * np.float64(X[j, k])
            w += offset - shift[i] - shift[j]
            for d in range(dim):
                w -= Yc[i, d] * Yc[j, d]
            acc += w * w
            for d in range(dim):
                out[i, d] += w * (Y[j, d] - Y[i, d])
        for d in range(dim):
            out[i, d] *= 4.0 * scale
        objective[i] = acc * scale
    return objective


@numba.njit(parallel=True, cache=True)
def _sampled_dense(B, Y, Yc, m, seed, epoch, out):
    """As ``_sampled_features`` with K_ij read from the dense matrix B."""
    n = B.shape[0]
    dim = Y.shape[1]
    scale = n / m
    objective = np.empty(n)
    for i in numba.prange(n):
        key = stream_key(seed, epoch, i)
        for d in range(dim):
            out[i, d] = 0.0
        acc = 0.0
        for s in range(m):
            j = draw_index(key, s, n)
            w = B[i, j]
            for d in range(dim):
                w -= Yc[i, d] * Yc[j, d]
            acc += w * w
            for d in range(dim):
                out[i, d] += w * (Y[j, d] - Y[i, d])
        for d in range(dim):
            out[i, d] *= 4.0 * scale
        objective[i] = acc * scale
    return objective

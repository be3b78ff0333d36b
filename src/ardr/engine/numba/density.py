"""densMAP's density term (Narayan, Berger & Cho 2021), added to UMAP's force law.

densMAP asks the embedding's local radii to correlate with the data's. For point i with
graph neighbours j (weights mu_ij) the data radius is R_i = log(sum mu_ij d_ij^2 /
sum mu_ij), standardized over the points; the embedding radius is
re_i = log(sum phi_ij t_ij / sum phi_ij), with t_ij = |y_i - y_j|^2 and phi = q(t) the
output kernel. The term maximized is lambda * Corr(re, R), and its gradient acts along
the graph's edges: each edge (i, j) pulls or pushes with a coefficient from d re_i / dt_ij
and d re_j / dt_ij.

umap-learn adds it at every sampled visit of an edge during the last ``frac`` of the
epochs. Here the same per-visit term, clipped as umap-learn clips it, is summed over the
edges, each weighted by its visit rate mu_ij / max(mu): the expected density force,
without sampling noise. Each point sums only its own row, so the kernel is race-free and
thread-count independent like the rest of the engine.
"""

import numba
import numpy as np

from .graph import PARALLEL_MIN_ROWS
from .variants import serial_and_parallel
from .kernels import attraction_coefficient, clip, q_of_t, squared_distance

LOG_EPSILON = 1e-8  # umap-learn's guard inside the logarithm of a radius


def _embedding_radii(Y, indptr, indices, a, b, log_radius, phi_sum):
    """re_i and phi_sum_i = 2 sum_j q(t_ij) (umap-learn counts an edge from both ends)."""
    n = Y.shape[0]
    for i in numba.prange(n):
        s_phi = 0.0
        s_r = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            t = squared_distance(Y, i, Y, indices[e])
            phi = q_of_t(t, a, b)
            s_phi += phi
            s_r += phi * t
        phi_sum[i] = 2.0 * s_phi
        log_radius[i] = np.log(LOG_EPSILON + (s_r / s_phi if s_phi > 0.0 else 0.0))


def _density_force(Y, indptr, indices, mu, a, b, log_radius, phi_sum, weight, coef_scale, rate_scale,
                   clip_value, out):
    """out[i] = rate_scale * sum_j mu_ij clip(2 g_ij (y_i - y_j)), with
    g_ij = coef_scale (weight_i dre_i/dt_ij + weight_j dre_j/dt_ij) / mu_ij: umap-learn's
    per-visit densMAP term, weighted by each edge's visit rate."""
    n, dim = Y.shape
    for i in numba.prange(n):
        for d in range(dim):
            out[i, d] = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            t = squared_distance(Y, i, Y, j)
            phi = q_of_t(t, a, b)
            dphi = 0.5 * attraction_coefficient(t, a, b)  # a b t^(b-1) / (1 + a t^b)
            shape = 1.0 - b * (1.0 - phi)
            dr_i = phi / phi_sum[i] * (shape / np.exp(log_radius[i]) + dphi)
            dr_j = phi / phi_sum[j] * (shape / np.exp(log_radius[j]) + dphi)
            g = coef_scale * (weight[i] * dr_i + weight[j] * dr_j) / mu[e]
            for d in range(dim):
                out[i, d] += rate_scale * mu[e] * clip(2.0 * g * (Y[i, d] - Y[j, d]), clip_value)


# compiled twice, as UMAP's step: serial below PARALLEL_MIN_ROWS, where launching a parallel
# region every epoch costs more than the work (digits on a busy 2-core machine: 11.6 s
# of optimization in parallel, 4.6 s serial)
_EMBEDDING_RADII = serial_and_parallel(_embedding_radii, error_model="numpy")
_DENSITY_FORCE = serial_and_parallel(_density_force, error_model="numpy")


class DensityTerm:
    """densMAP's correlation term on a symmetric graph (CSR, weights mu).

    ``data_log_radii`` are the R_i of the data (``ardr.graph.radii``; standardized here).
    The term is on during the epochs e with (e + 1) / n_epochs > 1 - frac. Like UMAP's
    force law, an epoch is ``n_batches`` steps, step b covering the edges b,
    b + n_batches, ... of each row: the radii statistics are taken at an epoch's first
    step (umap-learn: once per epoch), each step's force from the current positions over
    its own edges. ``direction(Y, step)`` is that force, or None when the term is off.
    """

    def __init__(self, graph, data_log_radii, a, b, *, dens_lambda=2.0, frac=0.3, var_shift=0.1,
                 n_epochs=200, n_batches=1, attraction_scale=2.0, clip_value=4.0):
        from .graph import _csr_parts, _split_batches

        self.indptr, self.indices, mu = _csr_parts(graph)
        self.mu = np.asarray(mu, dtype=np.float64)
        self.n_batches = int(n_batches)
        self.batch_indptr, self.batch_indices, self.batch_mu = _split_batches(graph, self.n_batches)
        R = np.asarray(data_log_radii, dtype=np.float64)
        self.R = (R - R.mean()) / (R.std() or 1.0)
        self.a, self.b = float(a), float(b)
        self.dens_lambda, self.frac, self.var_shift = float(dens_lambda), float(frac), float(var_shift)
        self.n_epochs = int(n_epochs)
        self.attraction_scale = float(attraction_scale)
        self.clip_value = float(clip_value)
        self._stats_epoch = None
        self._stats = None

    def active(self, epoch):
        return self.dens_lambda > 0 and (epoch + 1) / self.n_epochs > 1.0 - self.frac

    def direction(self, Y, step):
        epoch, batch = divmod(step, self.n_batches)
        if not self.active(epoch):
            return None
        n = Y.shape[0]
        parallel = n >= PARALLEL_MIN_ROWS
        embedding_radii, density_force = _EMBEDDING_RADII[parallel], _DENSITY_FORCE[parallel]
        if self._stats_epoch != epoch:
            log_radius = np.empty(n)
            phi_sum = np.empty(n)
            embedding_radii(Y, self.indptr, self.indices, self.a, self.b, log_radius, phi_sum)
            var = np.var(log_radius) + self.var_shift
            cov = np.dot(log_radius, self.R) / (n - 1)
            # d Corr / d re_i, up to the factor 1 / (std n) folded into coef_scale
            weight = self.R - cov * (log_radius - log_radius.mean()) / var
            mu_total = self.mu.sum()  # umap-learn's sum over both directions of every edge
            coef_scale = self.dens_lambda * mu_total / (np.sqrt(var) * n)
            self._stats = (log_radius, phi_sum, weight, coef_scale)
            self._stats_epoch = epoch
        log_radius, phi_sum, weight, coef_scale = self._stats
        force = np.empty_like(Y)
        density_force(Y, self.batch_indptr[batch], self.batch_indices, self.batch_mu, self.a, self.b, log_radius,
                      phi_sum, weight, coef_scale, self.attraction_scale / self.mu.max(), self.clip_value, force)
        return force

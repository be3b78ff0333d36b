"""Stress: metric MDS as attractions and repulsions (docs/mathematics.md, section 5).

sigma(Y) = sum_{i<j} (d_ij - delta_ij)^2 with d_ij = ||y_i - y_j||. Minus half its
gradient is the force

    F_i = sum_j (1 - delta_ij / d_ij) (y_j - y_i):

a pair pulls together when it sits farther apart than its dissimilarity, and pushes
apart when closer. With exact sums and learning rate 1 / n one step is exactly
SMACOF's Guttman transform (plus the centroid), so the exact-sum force law descends
monotonically. The sampled form draws m partners j != i per point per epoch from the
counter-based generator and scales by (n - 1) / m (unbiased).

The relative gradient norm is ||F||_F / (n ||Y - mean||_F): the length of the Guttman
step relative to the size of the layout.
"""

import numba
import numpy as np

from .rng import draw_index, stream_key


class StressForces:
    """The stress force law for a dense, symmetric dissimilarity matrix ``Delta``."""

    def __init__(self, Delta, *, sampling=None, seed=0):
        self.Delta = np.ascontiguousarray(Delta, dtype=np.float64)
        self.n = self.Delta.shape[0]
        self.sampling = None if sampling is None else int(sampling)
        self.seed = int(seed)
        self.last_objective = float("nan")
        self.last_relative_gradient = float("nan")

    def direction(self, Y, epoch):
        F = np.empty_like(Y)
        if self.sampling is None:
            rows = _exact(self.Delta, Y, F)
        else:
            rows = _sampled(self.Delta, Y, self.sampling, self.seed, epoch, F)
        self.last_objective = float(rows.sum()) / 2.0  # each pair is seen from both ends
        if self.sampling is None:
            self.last_relative_gradient = self._relative(F, Y)
        return F

    def _relative(self, F, Y):
        size = self.n * float(np.linalg.norm(Y - Y.mean(axis=0)))
        return float(np.linalg.norm(F)) / size if size > 0 else 0.0

    def objective(self, Y):
        """The exact stress at Y."""
        F = np.empty_like(Y)
        return float(_exact(self.Delta, Y, F).sum()) / 2.0

    def relative_gradient(self, Y):
        F = np.empty_like(Y)
        _exact(self.Delta, Y, F)
        return self._relative(F, Y)


@numba.njit(inline="always", cache=True)
def _pair(Delta, Y, i, j, out):
    """Add pair (i, j)'s force to out[i]; return (d_ij - delta_ij)^2."""
    dim = Y.shape[1]
    t = 0.0
    for d in range(dim):
        diff = Y[j, d] - Y[i, d]
        t += diff * diff
    dist = np.sqrt(t)
    delta = Delta[i, j]
    if dist > 0.0:
        c = 1.0 - delta / dist
        for d in range(dim):
            out[i, d] += c * (Y[j, d] - Y[i, d])
    return (dist - delta) * (dist - delta)


@numba.njit(parallel=True, cache=True)
def _exact(Delta, Y, out):
    n, dim = Y.shape
    rows = np.empty(n)
    for i in numba.prange(n):
        for d in range(dim):
            out[i, d] = 0.0
        acc = 0.0
        for j in range(n):
            if j != i:
                acc += _pair(Delta, Y, i, j, out)
        rows[i] = acc
    return rows


@numba.njit(parallel=True, cache=True)
def _sampled(Delta, Y, m, seed, epoch, out):
    n, dim = Y.shape
    scale = (n - 1) / m
    rows = np.empty(n)
    for i in numba.prange(n):
        key = stream_key(seed, epoch, i)
        for d in range(dim):
            out[i, d] = 0.0
        acc = 0.0
        for s in range(m):
            j = (i + 1 + draw_index(key, s, n - 1)) % n  # uniform over j != i
            acc += _pair(Delta, Y, i, j, out)
        for d in range(dim):
            out[i, d] *= scale
        rows[i] = acc * scale
    return rows

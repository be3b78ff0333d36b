"""Repulsion estimators for the normalized objective.

Each is called as ``(head, tail, a, b, epoch, same, dof=1.0)`` and returns ``(R, Z)``:
R[i] = sum_j c(t_ij) (y_i - y_j) with c the normalized repulsion coefficient of the
output kernel (``kernels``; ``dof`` selects the heavy-tailed family), and Z = sum over
pairs of q(t_ij). R points away from the other points, so the normalized force is
attraction + R / Z. ``pointwise(head, tail, a, b, epoch, keys=None, dof=1.0)`` returns
``(R, z)`` with z[i] = sum_j q(t_ij) for new points against a fixed tail: each point's own
normalization, computed from that point and the tail alone (``keys`` key a point's random
draws), so a transform places a point whatever else is in its batch.

- ``Exact``: all pairs, O(n * n_tail); the reference, and the choice for small n.
- ``Sampled``: m uniform partners per point per epoch, scaled to be unbiased;
  the ActUp/GiDR-DUN way to get tSNE's normalization at UMAP's cost.
- ``FFT``: grid interpolation of the Student-t kernel (FIt-SNE, Linderman et al.
  2019), O(n) per step, for the a = b = 1 kernel (any dof: the grid samples
  (1 + t/dof)^-dof and (1 + t/dof)^(-dof-1), as openTSNE does) in 1 or 2 dimensions.
"""

import numba
import numpy as np

from .. import fft_grid
from .fastmath import fast_pow
from .kernels import heavy_tailed_q, heavy_tailed_repulsion_coefficient, normalized_repulsion_coefficient, q_of_t
from .rng import draw_index, stream_key


@numba.njit(inline="always", cache=True, error_model="numpy")
def _push_and_q(t, a, b, dof):
    """The pair's repulsion coefficient and q; dof = 1 skips the heavy-tailed powers."""
    if dof == 1.0:
        return normalized_repulsion_coefficient(t, a, b), q_of_t(t, a, b)
    if a == 1.0 and b == 1.0:  # one power: w = q / (1 + t / dof)
        base = 1.0 + t / dof
        q = fast_pow(base, -dof)
        return 2.0 * q / base, q
    return heavy_tailed_repulsion_coefficient(t, a, b, dof), heavy_tailed_q(t, a, b, dof)


@numba.njit(parallel=True, cache=True)
def _exact(head, tail, a, b, dof, same, R, z):
    n, dim = head.shape
    for i in numba.prange(n):
        zi = 0.0
        for d in range(dim):
            R[i, d] = 0.0
        for j in range(tail.shape[0]):
            if same and j == i:
                continue
            t = 0.0
            for d in range(dim):
                diff = head[i, d] - tail[j, d]
                t += diff * diff
            c, q = _push_and_q(t, a, b, dof)
            for d in range(dim):
                R[i, d] += c * (head[i, d] - tail[j, d])
            zi += q
        z[i] = zi


@numba.njit(parallel=True, cache=True)
def _sampled(head, tail, a, b, dof, same, m, seed, epoch, keys, R, z):
    n, dim = head.shape
    n_tail = tail.shape[0]
    scale = n_tail / m
    for i in numba.prange(n):
        key = stream_key(seed, epoch, keys[i])
        zi = 0.0
        for d in range(dim):
            R[i, d] = 0.0
        for s in range(m):
            k = draw_index(key, s, n_tail)
            if same and k == i:
                continue
            t = 0.0
            for d in range(dim):
                diff = head[i, d] - tail[k, d]
                t += diff * diff
            c, q = _push_and_q(t, a, b, dof)
            for d in range(dim):
                R[i, d] += c * (head[i, d] - tail[k, d])
            zi += q
        for d in range(dim):
            R[i, d] *= scale
        z[i] = zi * scale


@numba.njit(parallel=True, fastmath=True, cache=True)
def _exact_student_t(head, tail, same, R, z):
    """_exact for a = b = 1, written so the inner loop vectorizes (no powers, no branches
    on the pair: the self pair adds q = 1 to z and nothing to R, and is subtracted)."""
    n, dim = head.shape
    for i in numba.prange(n):
        zi = 0.0
        r0 = 0.0
        r1 = 0.0
        x0 = head[i, 0]
        x1 = head[i, 1] if dim > 1 else 0.0
        for j in range(tail.shape[0]):
            d0 = x0 - tail[j, 0]
            d1 = (x1 - tail[j, 1]) if dim > 1 else 0.0
            q = 1.0 / (1.0 + d0 * d0 + d1 * d1)
            zi += q
            q2 = q * q
            r0 += q2 * d0
            r1 += q2 * d1
        R[i, 0] = 2.0 * r0
        if dim > 1:
            R[i, 1] = 2.0 * r1
        z[i] = zi - 1.0 if same else zi


class Exact:
    """All pairs. Cost O(n * n_tail) per epoch."""

    name = "exact"

    def __call__(self, head, tail, a, b, epoch, same, dof=1.0):
        R, z = self._pairs(head, tail, a, b, same, dof)
        return R, float(np.sum(z))

    def pointwise(self, head, tail, a, b, epoch, keys=None, dof=1.0):
        return self._pairs(head, tail, a, b, False, dof)

    @staticmethod
    def _pairs(head, tail, a, b, same, dof):
        R = np.empty_like(head)
        z = np.empty(head.shape[0])
        if a == 1.0 and b == 1.0 and dof == 1.0 and head.shape[1] <= 2:
            _exact_student_t(head, tail, same, R, z)
        else:
            _exact(head, tail, a, b, float(dof), same, R, z)
        return R, z


class Sampled:
    """m uniform partners per point per epoch, keyed by (seed, epoch, point)."""

    name = "sampled"

    def __init__(self, n_samples, seed):
        self.n_samples = int(n_samples)
        self.seed = int(seed)

    def __call__(self, head, tail, a, b, epoch, same, dof=1.0):
        R, z = self._draw(head, tail, a, b, epoch, same, np.arange(head.shape[0], dtype=np.uint64), dof)
        return R, float(np.sum(z))

    def pointwise(self, head, tail, a, b, epoch, keys=None, dof=1.0):
        keys = np.arange(head.shape[0], dtype=np.uint64) if keys is None else np.asarray(keys, dtype=np.uint64)
        return self._draw(head, tail, a, b, epoch, False, keys, dof)

    def _draw(self, head, tail, a, b, epoch, same, keys, dof):
        R = np.empty_like(head)
        z = np.empty(head.shape[0])
        _sampled(head, tail, a, b, float(dof), same, self.n_samples, self.seed, epoch, keys, R, z)
        return R, z


# a transform's grid reaches this fraction of the fixed embedding's extent beyond it
TAIL_GRID_MARGIN = 0.25


class FFT:
    """Student-t repulsion by polynomial interpolation on a regular grid and FFT convolution.

    Space is cut into boxes of about ``box_size`` (at least ``min_boxes`` per side);
    each box holds ``n_interp`` Lagrange nodes per side. Charges are spread to the
    nodes, convolved with the kernel sampled on the node grid (a Toeplitz product,
    done by FFT), and read back with the same weights.
    """

    name = "fft"

    def __init__(self, n_interp=3, box_size=1.0, min_boxes=50, max_boxes=500):
        self.n_interp = n_interp
        self.box_size = box_size
        self.min_boxes = min_boxes
        self.max_boxes = max_boxes

    def __call__(self, head, tail, a, b, epoch, same, dof=1.0):
        self._check(head, a, b)
        if head.shape[1] == 1:
            # a line inside a plane: interpolation error is larger along a dense line, so
            # the boxes are 4x finer (measured: Z error 1e-2 -> 1e-6), at 16x the grid cost
            R, Z = self._fine()(_pad(head), _pad(tail) if tail is not head else None, a, b, epoch, same, dof)
            return R[:, :1].copy(), Z
        tail = head if tail is None else tail
        both = np.vstack([head, tail]) if tail is not head else head
        lo = float(both.min())
        grid = self._grid(lo, max(float(both.max()) - lo, 1e-12))
        R, z = self._read_back(head, grid, self._potentials(tail, grid, float(dof)), same, float(dof))
        return R, float(z.sum())

    def pointwise(self, head, tail, a, b, epoch, keys=None, dof=1.0):
        """New points against a fixed tail, on a grid that depends on the tail alone (its
        extent plus a margin; the tail's potentials are computed once). A point outside
        the grid feels the repulsion of the nearest grid position."""
        self._check(head, a, b)
        dof = float(dof)
        if head.shape[1] == 1:
            if getattr(self, "_padded", (None,))[0] is not tail:
                self._padded = (tail, _pad(tail), self._fine())
            _, padded, fine = self._padded
            R, z = fine.pointwise(_pad(head), padded, a, b, epoch, dof=dof)
            return R[:, :1].copy(), z
        if getattr(self, "_fixed", (None,))[0] is not tail or self._fixed[1] != dof:
            lo, hi = float(tail.min()), float(tail.max())
            margin = TAIL_GRID_MARGIN * max(hi - lo, self.box_size)
            grid = self._grid(lo - margin, hi - lo + 2 * margin)
            self._fixed = (tail, dof, grid, self._potentials(tail, grid, dof))
        _, _, grid, potentials = self._fixed
        lo, box, n_boxes = grid[:3]
        inside = np.clip(head, lo, lo + box * n_boxes * (1 - 1e-9))
        return self._read_back(inside, grid, potentials, False, dof)

    @staticmethod
    def _check(head, a, b):
        if a != 1.0 or b != 1.0:
            raise ValueError("FFT repulsion supports the Student-t kernel (a = b = 1) only")
        if head.shape[1] > 2:
            raise ValueError("FFT repulsion supports 1 or 2 output dimensions")

    def _fine(self):
        return FFT(self.n_interp, self.box_size / 4, self.min_boxes * 4, self.max_boxes)

    def _grid(self, lo, span):
        """(lo, box, n_boxes, N, size) for a layout spanning [lo, lo + span]: the geometry
        of engine/fft_grid.py (shared with the torch backend)."""
        n_boxes, box, N, size = fft_grid.geometry(lo, lo + span, self.n_interp, self.box_size,
                                                  self.min_boxes, self.max_boxes)
        return lo, box, n_boxes, N, size

    def _potentials(self, tail, grid, dof):
        """The tail's charges 1, y_x, y_y spread on the nodes and convolved: the charge-1
        grid with q (for Z) and with w = q^2 (for the repulsion), the others with w (heavy
        tails: q = (1 + t/dof)^-dof, w = (1 + t/dof)^(-dof-1))."""
        import scipy.fft

        lo, box, n_boxes, N, size = grid
        p = self.n_interp
        K_hat = self._kernel_transform(N, box / p, size, dof)
        charges = np.zeros((3, N, N))
        _spread(tail, lo, box, n_boxes, p, charges)
        # 2-D convolution by FFT in single precision, skipping the zero padding: rows
        # beyond N are zero on the way in and not needed on the way out.
        spectrum = scipy.fft.rfft(charges.astype(np.float32), n=size, axis=2, workers=-1)
        spectrum = scipy.fft.fft(spectrum, n=size, axis=1, workers=-1, overwrite_x=True)
        spectrum = _multiply_spectrum(spectrum, K_hat)
        spectrum = scipy.fft.ifft(spectrum, axis=1, workers=-1, overwrite_x=True)[:, :N]
        return scipy.fft.irfft(spectrum, n=size, axis=2, workers=-1)[:, :, :N]

    def _read_back(self, head, grid, potentials, same, dof):
        lo, box, n_boxes = grid[:3]
        p = self.n_interp
        R = np.empty_like(head)
        z = np.empty(head.shape[0])
        # each point's interaction with itself as the grid sees it is taken out of Z (not
        # q(0) = 1: interpolation error at zero lag would otherwise bias Z for sparse layouts)
        self_kernel = fft_grid.self_kernel(p, box / p, dof) if same else np.zeros((p * p, p * p))
        _gather(head, lo, box, n_boxes, p, potentials, self_kernel, R, z)
        return R, z

    def _kernel_transform(self, N, h, size, dof=1.0):
        """FFT of the kernels q and w (q^2 at dof = 1) sampled at grid lags, circulant-embedded
        in size x size."""
        import scipy.fft

        key = (N, h, size, dof)
        cache = getattr(self, "_cache", None)
        if cache is not None and cache[0] == key:
            return cache[1]
        K_hat = scipy.fft.rfft2(fft_grid.kernels_on_lags(size, h, dof), axes=(1, 2), workers=-1)
        self._cache = (key, K_hat)
        return K_hat


def _pad(Y):
    return np.hstack([Y, np.zeros((Y.shape[0], 1))])


@numba.njit(inline="always", cache=True, error_model="numpy")
def _box(y, lo, box, n_boxes):
    """Index of the box holding coordinate y (clamped to the grid)."""
    return min(max(int(np.floor((y - lo) / box)), 0), n_boxes - 1)


@numba.njit(inline="always", cache=True, error_model="numpy")
def _lagrange(y, lo, box, n_boxes, p, L):
    """First node of coordinate y's box and the Lagrange weights L[0:p] of its p nodes at
    (k + 0.5) / p."""
    cell = _box(y, lo, box, n_boxes)
    u = (y - lo) / box - cell
    for k in range(p):
        w = 1.0
        for m in range(p):
            if m != k:
                w *= (u - (m + 0.5) / p) / ((k - m) / p)
        L[k] = w
    return cell * p


# Spreading runs in parallel over bands of grid columns: a point's nodes all lie in its
# own box, so box-aligned bands never share a node. The count is fixed, not the thread
# count, so every node sums its points in the same (index) order on any number of threads.
_SPREAD_BANDS = 32


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _spread(tail, lo, box, n_boxes, p, grid):
    """Charges 1 (grid 0), y_x (1), y_y (2) of the tail points onto the node grid."""
    n = tail.shape[0]
    boxes_per_band = (n_boxes + _SPREAD_BANDS - 1) // _SPREAD_BANDS
    # the points of each band, in index order (a counting sort by the box's x index)
    band = np.empty(n, dtype=np.int64)
    starts = np.zeros(_SPREAD_BANDS + 1, dtype=np.int64)
    for i in range(n):
        b = _box(tail[i, 0], lo, box, n_boxes) // boxes_per_band
        band[i] = b
        starts[b + 1] += 1
    for b in range(_SPREAD_BANDS):
        starts[b + 1] += starts[b]
    members = np.empty(n, dtype=np.int64)
    fill = starts[:-1].copy()
    for i in range(n):
        members[fill[band[i]]] = i
        fill[band[i]] += 1
    for b in numba.prange(_SPREAD_BANDS):
        Lx = np.empty(p)
        Ly = np.empty(p)
        for s in range(starts[b], starts[b + 1]):
            i = members[s]
            gx = _lagrange(tail[i, 0], lo, box, n_boxes, p, Lx)
            gy = _lagrange(tail[i, 1], lo, box, n_boxes, p, Ly)
            for kx in range(p):
                for ky in range(p):
                    w = Lx[kx] * Ly[ky]
                    grid[0, gx + kx, gy + ky] += w
                    grid[1, gx + kx, gy + ky] += w * tail[i, 0]
                    grid[2, gx + kx, gy + ky] += w * tail[i, 1]


# Points per parallel task of the gather: the task's scratch weights are allocated once.
_GATHER_CHUNK = 1024


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _gather(head, lo, box, n_boxes, p, potentials, self_kernel, R, z):
    """Interpolate the potentials back to the head points: z[i] = sum_j q_ij less the
    point's own term w_i^T self_kernel w_i, and R[i] = 2 sum_j q_ij^2 (y_i - y_j) (self
    pairs cancel in R). Potentials: q * 1, q^2 * 1, q^2 * y_x, q^2 * y_y. The node
    weights w = Lx (x) Ly are formed once per point (not per term of the own product)."""
    n = head.shape[0]
    pp = p * p
    for chunk in numba.prange((n + _GATHER_CHUNK - 1) // _GATHER_CHUNK):
        Lx = np.empty(p)
        Ly = np.empty(p)
        w = np.empty(pp)
        for i in range(chunk * _GATHER_CHUNK, min(n, (chunk + 1) * _GATHER_CHUNK)):
            gx = _lagrange(head[i, 0], lo, box, n_boxes, p, Lx)
            gy = _lagrange(head[i, 1], lo, box, n_boxes, p, Ly)
            phi0 = phi1 = phi2 = phi3 = 0.0
            for kx in range(p):
                for ky in range(p):
                    wk = Lx[kx] * Ly[ky]
                    w[kx * p + ky] = wk
                    phi0 += wk * potentials[0, gx + kx, gy + ky]
                    phi1 += wk * potentials[1, gx + kx, gy + ky]
                    phi2 += wk * potentials[2, gx + kx, gy + ky]
                    phi3 += wk * potentials[3, gx + kx, gy + ky]
            own = 0.0
            for a in range(pp):
                row = 0.0
                for b in range(pp):
                    row += self_kernel[a, b] * w[b]
                own += w[a] * row
            z[i] = phi0 - own
            R[i, 0] = 2.0 * (head[i, 0] * phi1 - phi2)
            R[i, 1] = 2.0 * (head[i, 1] * phi1 - phi3)


@numba.njit(parallel=True, cache=True)
def _multiply_spectrum(spectrum, K_hat):
    """The four products: charge 1 by the transforms of q and q^2, y_x and y_y by q^2."""
    out = np.empty((4,) + spectrum.shape[1:], dtype=spectrum.dtype)
    for c in numba.prange(4):
        src = 0 if c < 2 else c - 1
        k = K_hat[0] if c == 0 else K_hat[1]
        for r in range(spectrum.shape[1]):
            for s in range(spectrum.shape[2]):
                out[c, r, s] = spectrum[src, r, s] * k[r, s]
    return out

"""DK-LLE (docs/mathematics.md, 6a): UMAP's effective objective J, the double-kernel weights it
induces, and the LLE step that minimizes it.

With t_ij = |y_i - y_j|^2, P the fuzzy input graph (degrees deg_i), a, b the output
kernel's constants and m the negative sample rate:

    J(Y)     = sum_{i != j} p_ij psi_a(t_ij)  +  sum_{i != j} g_ij psi_r(t_ij)
    psi_a(t) = log(1 + a t^b)                          (-log q(t))
    psi_r(t) = log(1 + 1 / (a (t + eps)^b))            (-log(1 - q(t + eps)))
    g_ij     = m (deg_i + deg_j) / (4 n)               (expected negative-sampling weight)

    grad J = 4 (L_A - L_R) Y,   A_ij = p_ij psi_a'(t_ij),   R_ij = g_ij |psi_r'(t_ij)|

A (input kernel x output kernel) is sparse, on the graph's edges. R is dense; its sums
are exact (all pairs, O(n^2)) up to ``EXACT_MAX_ROWS`` points and estimated above by
``GridRepulsion``: exact sums over pairs closer than a cutoff plus a smooth remainder
interpolated on a grid and convolved by FFT (the FIt-SNE idea with a near field),
whose relative error on J and on the forces is measured in benchmarks/dklle.py.

One outer iteration (``DKLLEForces.direction``) solves the LLE step

    (L_A + mu I) Y+ = L_R Y + mu Y   <=>   step = Y+ - Y = -(L_A + mu I)^-1 grad J / 4

sparsely (a direct factorization up to ``DIRECT_MAX_ROWS`` points, Jacobi-
preconditioned conjugate gradients above), then backtracks along the step until J
decreases (Armijo), so every accepted iteration lowers J. The fixed points are the
stationary points of J. The step is what the one optimizer adds to Y (learning
rate 1); the objective and the stationarity residual are recorded per iteration.
"""

import math
import time

import numba
import numpy as np
import scipy.sparse as sp

from .kernels import REPULSION_EPS  # UMAP's guard, shared with its repulsion

T_FLOOR = 1e-12  # squared distance below which a pair's attraction weight stops growing
# All-pairs repulsion up to here: ~17 ns a pair on 2 idle cores (0.07 s at 2,000 points,
# about what the grid estimate costs there); the grid's error is measured in
# benchmarks/dklle.py.
EXACT_MAX_ROWS = 2000
DIRECT_MAX_ROWS = 2000  # sparse LU of the LLE step up to here; conjugate gradients are faster above
GRID_DIMS = (1, 2)  # output dimensions the grid estimate supports


# ------------------------------------------------------------------ pair kernels
@numba.njit(inline="always", cache=True)
def _psi_a(t, a, b):
    """-log q(t): the attraction's share of J for one pair (per unit input weight)."""
    if t <= 0.0:
        return 0.0
    return math.log1p(a * t**b)


@numba.njit(inline="always", cache=True)
def _attraction_weight(t, a, b):
    """psi_a'(t) = a b t^(b-1) q(t): the output-kernel factor of A_ij."""
    if t < T_FLOOR:
        t = T_FLOOR
    tb = t**b
    return a * b * tb / (t * (1.0 + a * tb))


@numba.njit(inline="always", cache=True)
def _repulsion_terms(t, a, b, log_a):
    """(psi_r(t), |psi_r'(t)|) for one pair, sharing one log and one exp."""
    s = t + REPULSION_EPS
    ls = math.log(s)
    sb = math.exp(b * ls)
    value = math.log1p(a * sb) - log_a - b * ls
    weight = b / (s * (1.0 + a * sb))
    return value, weight


def repulsion_kernels(t, a, b):
    """psi_r(t) and |psi_r'(t)| for an array of squared distances (NumPy reference)."""
    s = np.asarray(t, dtype=np.float64) + REPULSION_EPS
    sb = s**b
    return np.log1p(1.0 / (a * sb)), b / (s * (1.0 + a * sb))


# --------------------------------------------------------------------- attraction
@numba.njit(parallel=True, cache=True)
def _attraction(Y, indptr, indices, p, a, b, A, LAY, value):
    """Per row i: A_ij on its edges, (L_A Y)_i = sum_j A_ij (y_i - y_j), sum_j p_ij psi_a."""
    n, dim = Y.shape
    for i in numba.prange(n):
        v = 0.0
        for d in range(dim):
            LAY[i, d] = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            t = 0.0
            for d in range(dim):
                diff = Y[i, d] - Y[j, d]
                t += diff * diff
            w = p[e] * _attraction_weight(t, a, b)
            A[e] = w
            v += p[e] * _psi_a(t, a, b)
            for d in range(dim):
                LAY[i, d] += w * (Y[i, d] - Y[j, d])
        value[i] = v


# ---------------------------------------------------------------------- repulsion
@numba.njit(parallel=True, fastmath=True, cache=True)
def _exact_repulsion(Y, deg, a, b, LRY, value):
    """All pairs: LRY_i = sum_j w_ij |psi_r'| (y_i - y_j), value_i = sum_j w_ij psi_r,
    w_ij = deg_i + deg_j (the constant m / 4n is applied by the caller)."""
    n, dim = Y.shape
    log_a = math.log(a)
    for i in numba.prange(n):
        v = 0.0
        for d in range(dim):
            LRY[i, d] = 0.0
        for j in range(n):
            if j == i:
                continue
            t = 0.0
            for d in range(dim):
                diff = Y[i, d] - Y[j, d]
                t += diff * diff
            psi, phi = _repulsion_terms(t, a, b, log_a)
            w = deg[i] + deg[j]
            v += w * psi
            for d in range(dim):
                LRY[i, d] += w * phi * (Y[i, d] - Y[j, d])
        value[i] = v


class ExactRepulsion:
    """All pairs, O(n^2 d) per evaluation: the reference, and the choice for small n.

    A repulsion estimator maps (Y, deg, a, b) to (LRY, values): LRY_i = sum_j w_ij
    |psi_r'(t_ij)| (y_i - y_j) and values_i = sum_{j != i} w_ij psi_r(t_ij), with
    w_ij = deg_i + deg_j; the objective scales both by m / 4n."""

    name = "exact"

    def __call__(self, Y, deg, a, b):
        LRY = np.empty_like(Y)
        value = np.empty(Y.shape[0])
        _exact_repulsion(Y, deg, a, b, LRY, value)
        return LRY, value


def _taylor_cap(t_c, a, b):
    """Cubic Taylor polynomial of psi_r in (t - t_c), and minus its derivative (the
    matching cap of |psi_r'|), as coefficient arrays [c0, c1, c2, c3].

    Below t_c the grid sees these polynomials instead of the kernels, which are sharp
    near t = 0; the near-field pass adds the exact difference back. psi_r' = -|psi_r'|,
    so only |psi_r'|'s first two derivatives are needed (5-point differences)."""
    h = 1e-4 * t_c
    ts = t_c + h * np.arange(-2, 3)
    psi, phi = repulsion_kernels(ts, a, b)
    slope = (phi[0] - 8 * phi[1] + 8 * phi[3] - phi[4]) / (12 * h)
    curvature = (-phi[0] + 16 * phi[1] - 30 * phi[2] + 16 * phi[3] - phi[4]) / (12 * h * h)
    psi_cap = np.array([psi[2], -phi[2], -slope / 2.0, -curvature / 6.0])
    phi_cap = -np.array([psi_cap[1], 2.0 * psi_cap[2], 3.0 * psi_cap[3], 0.0])
    return psi_cap, phi_cap


@numba.njit(inline="always", cache=True)
def _poly(c, dt):
    return c[0] + dt * (c[1] + dt * (c[2] + dt * c[3]))


@numba.njit(parallel=True, fastmath=True, cache=True)
def _near_field(Ys, degs, cell_of, cell_start, n_cells_y, reach, t_c, psi_cap, phi_cap, a, b, LRY, value):
    """Exact correction for pairs closer than sqrt(t_c): kernel minus its cap.

    Points are sorted by cell; a point's partners lie within ``reach`` cells of its
    own (cells of side >= sqrt(t_c) / reach). Each point writes only its own outputs."""
    n = Ys.shape[0]
    log_a = math.log(a)
    n_cells_x = (cell_start.shape[0] - 1) // n_cells_y
    for i in numba.prange(n):
        cx = cell_of[i] // n_cells_y
        cy = cell_of[i] % n_cells_y
        v = 0.0
        r0 = 0.0
        r1 = 0.0
        for gx in range(max(cx - reach, 0), min(cx + reach + 1, n_cells_x)):
            for gy in range(max(cy - reach, 0), min(cy + reach + 1, n_cells_y)):
                c = gx * n_cells_y + gy
                for j in range(cell_start[c], cell_start[c + 1]):
                    d0 = Ys[i, 0] - Ys[j, 0]
                    d1 = Ys[i, 1] - Ys[j, 1]
                    t = d0 * d0 + d1 * d1
                    if t >= t_c or j == i:
                        continue
                    psi, phi = _repulsion_terms(t, a, b, log_a)
                    dt = t - t_c
                    w = degs[i] + degs[j]
                    v += w * (psi - _poly(psi_cap, dt))
                    coef = w * (phi - _poly(phi_cap, dt))
                    r0 += coef * d0
                    r1 += coef * d1
        LRY[i, 0] = r0
        LRY[i, 1] = r1
        value[i] = v


@numba.njit(inline="always", cache=True)
def _lagrange_1d(u, p, L, dL):
    """Weights of p equispaced nodes (k + 0.5) / p on [0, 1] at u, and their derivatives."""
    for k in range(p):
        xk = (k + 0.5) / p
        prod = 1.0
        deriv = 0.0
        for m in range(p):
            if m == k:
                continue
            xm = (m + 0.5) / p
            term = (u - xm) / (xk - xm)
            deriv = deriv * term + prod / (xk - xm)
            prod *= term
        L[k] = prod
        dL[k] = deriv


@numba.njit(inline="always", cache=True)
def _box_of(y, lo, box, n_boxes):
    pos = (y - lo) / box
    c = int(math.floor(pos))
    if c > n_boxes - 1:
        c = n_boxes - 1
    if c < 0:
        c = 0
    return c, pos - c


@numba.njit(cache=True)
def _spread(Y, deg, lo, box, shape, p, grid):
    """Charges 1 and deg_i of every point onto the interpolation nodes (serial: many
    points share a node, and a sum by one thread is exact and deterministic)."""
    Lx = np.empty(p)
    Ly = np.empty(p)
    dL = np.empty(p)
    for i in range(Y.shape[0]):
        cx, ux = _box_of(Y[i, 0], lo[0], box, shape[0])
        cy, uy = _box_of(Y[i, 1], lo[1], box, shape[1])
        _lagrange_1d(ux, p, Lx, dL)
        _lagrange_1d(uy, p, Ly, dL)
        for ka in range(p):
            for kb in range(p):
                w = Lx[ka] * Ly[kb]
                grid[0, cx * p + ka, cy * p + kb] += w
                grid[1, cx * p + ka, cy * p + kb] += w * deg[i]


@numba.njit(parallel=True, cache=True)
def _gather(Y, deg, lo, box, shape, p, pot, own, value, LRY):
    """Per point: sum_{j != i} (deg_i + deg_j) psi_far and -1/2 its gradient in y_i, read
    from the two potentials by the interpolation weights and their derivatives, minus
    the point's own contribution as the grid sees it (``own``: node-to-node kernel)."""
    for i in numba.prange(Y.shape[0]):
        Lx = np.empty(p)
        Ly = np.empty(p)
        dLx = np.empty(p)
        dLy = np.empty(p)
        cx, ux = _box_of(Y[i, 0], lo[0], box, shape[0])
        cy, uy = _box_of(Y[i, 1], lo[1], box, shape[1])
        _lagrange_1d(ux, p, Lx, dLx)
        _lagrange_1d(uy, p, Ly, dLy)
        u1 = 0.0
        ud = 0.0
        g1x = 0.0
        g1y = 0.0
        gdx = 0.0
        gdy = 0.0
        s = 0.0
        sx = 0.0
        sy = 0.0
        for ka in range(p):
            for kb in range(p):
                w = Lx[ka] * Ly[kb]
                wx = dLx[ka] * Ly[kb]
                wy = Lx[ka] * dLy[kb]
                p1 = pot[0, cx * p + ka, cy * p + kb]
                pd = pot[1, cx * p + ka, cy * p + kb]
                u1 += w * p1
                ud += w * pd
                g1x += wx * p1
                g1y += wy * p1
                gdx += wx * pd
                gdy += wy * pd
                inner = 0.0
                for la in range(p):
                    for lb in range(p):
                        inner += own[ka, kb, la, lb] * Lx[la] * Ly[lb]
                s += w * inner
                sx += wx * inner
                sy += wy * inner
        d = deg[i]
        value[i] = d * u1 + ud - 2.0 * d * s
        LRY[i, 0] = -0.5 * (d * g1x + gdx - 2.0 * d * sx) / box
        LRY[i, 1] = -0.5 * (d * g1y + gdy - 2.0 * d * sy) / box


class GridRepulsion:
    """Repulsion sums in O(n + grid log grid) for 1- or 2-D embeddings.

    psi_r is split at t_c = cutoff^2 into a far part (psi_r beyond the cutoff, its
    cubic Taylor polynomial in t below: smooth, so it interpolates well) and a near
    part (the rest, zero beyond the cutoff). The far part of J is a potential: the
    charges 1 and deg_j are spread onto ``n_interp`` Lagrange nodes per side of boxes
    of side cutoff / ``boxes_per_cutoff``, convolved with the far kernel by FFT and read
    back at each point; the far forces are the potential's gradient, read with the
    weights' derivatives (so J and the forces come from the same interpolant). The
    near part is summed exactly over pairs in neighbouring cells.

    The cutoff adapts to the layout: the density a point sees is estimated on a coarse
    histogram and the cutoff chosen so that about ``near_pairs`` partners fall inside
    it, capped at ``max_cutoff`` and widened when the grid would exceed ``max_nodes``
    per side. The estimate is deterministic, so a line search on it is consistent; its
    error against ``ExactRepulsion`` is measured (benchmarks/dklle.py), not assumed.
    A layout whose extent is far larger than its dense part (one far outlier) widens
    the cutoff with the box, and the exact near field then grows towards all pairs.
    """

    name = "grid"

    def __init__(self, near_pairs=100, boxes_per_cutoff=2, n_interp=4, max_cutoff=1.0, max_nodes=1024):
        self.near_pairs = float(near_pairs)
        self.boxes_per_cutoff = int(boxes_per_cutoff)
        self.n_interp = int(n_interp)
        self.max_cutoff = float(max_cutoff)
        self.max_nodes = int(max_nodes)
        self._kernel_cache = None
        self.last_cutoff = None

    def cutoff(self, Y):
        """Cutoff radius so that a point has about ``near_pairs`` partners inside it,
        rounded down to a quarter octave (so that successive layouts share the grid's
        kernel, which is cached)."""
        span = np.ptp(Y, axis=0)
        side = max(float(span.max()) / 64.0, 1e-12)
        cells = np.floor((Y - Y.min(axis=0)) / side).astype(np.int64)
        counts = np.unique(cells[:, 0] * 65 + cells[:, 1], return_counts=True)[1].astype(np.float64)
        density = float(np.sum(counts**2)) / (Y.shape[0] * side * side)  # per unit area, as a point sees it
        cutoff = min(self.max_cutoff, math.sqrt(self.near_pairs / (math.pi * density)))
        cutoff = 2.0 ** (math.floor(4.0 * math.log2(max(cutoff, 1e-300))) / 4.0)
        per_box = self.boxes_per_cutoff * self.n_interp
        return max(cutoff, float(span.max()) * per_box / (self.max_nodes - per_box))

    def __call__(self, Y, deg, a, b):
        if Y.shape[1] == 1:
            LRY, value = self(np.hstack([Y, np.zeros_like(Y)]), deg, a, b)
            return np.ascontiguousarray(LRY[:, :1]), value
        if Y.shape[1] != 2:
            raise ValueError("the grid repulsion estimate supports 1- or 2-D embeddings")
        cutoff = self.cutoff(Y)
        self.last_cutoff = cutoff
        box = cutoff / self.boxes_per_cutoff
        lo = Y.min(axis=0)
        # whole multiples of 8 boxes, so that the grid (and its cached kernel) rarely changes size
        shape = 8 * np.ceil(np.maximum(1, np.ceil(np.ptp(Y, axis=0) * (1 + 1e-9) / box)) / 8).astype(np.int64)
        t_c = cutoff * cutoff
        psi_cap, phi_cap = _taylor_cap(t_c, a, b)
        far_LRY, far_value = self._far_field(Y, deg, lo, box, shape, t_c, psi_cap, a, b)
        near_LRY, near_value = self._near(Y, deg, lo, box, shape, t_c, psi_cap, phi_cap, a, b)
        return far_LRY + near_LRY, far_value + near_value

    def _near(self, Y, deg, lo, box, shape, t_c, psi_cap, phi_cap, a, b):
        cell = np.minimum(np.floor((Y - lo) / box).astype(np.int64), shape - 1)
        cell_id = cell[:, 0] * shape[1] + cell[:, 1]
        order = np.argsort(cell_id, kind="stable")
        start = np.concatenate([[0], np.cumsum(np.bincount(cell_id, minlength=int(shape[0] * shape[1])))])
        LRY_sorted = np.empty_like(Y)
        value = np.empty(Y.shape[0])
        _near_field(np.ascontiguousarray(Y[order]), deg[order], cell_id[order], start, int(shape[1]),
                    self.boxes_per_cutoff, t_c, psi_cap, phi_cap, a, b, LRY_sorted, value)
        LRY = np.empty_like(Y)
        LRY[order] = LRY_sorted
        values = np.empty_like(value)
        values[order] = value
        return LRY, values

    def _far_field(self, Y, deg, lo, box, shape, t_c, psi_cap, a, b):
        import scipy.fft

        p = self.n_interp
        N = (int(shape[0]) * p, int(shape[1]) * p)
        size = tuple(scipy.fft.next_fast_len(2 * s, real=True) for s in N)
        kernel_hat, own = self._kernel(box / p, size, t_c, psi_cap, a, b)
        grid = np.zeros((2,) + size)
        _spread(Y, deg, lo, box, shape, p, grid)
        workers = numba.get_num_threads()  # the caller's n_jobs (ardr._threads.numba_threads)
        pot = scipy.fft.irfft2(scipy.fft.rfft2(grid, axes=(1, 2), workers=workers) * kernel_hat, s=size,
                               axes=(1, 2), workers=workers)
        value = np.empty(Y.shape[0])
        LRY = np.empty_like(Y)
        _gather(Y, deg, lo, box, shape, p, np.ascontiguousarray(pot[:, :N[0], :N[1]]), own, value, LRY)
        return LRY, value

    def _kernel(self, h, size, t_c, psi_cap, a, b):
        """FFT of the far kernel on the node lags (circulant embedding), and the kernel
        between the nodes of one box (for the self pair)."""
        import scipy.fft

        key = (h, size, t_c, a, b)
        if self._kernel_cache is not None and self._kernel_cache[0] == key:
            return self._kernel_cache[1]
        lags = [np.minimum(np.arange(s), s - np.arange(s)) * h for s in size]
        far = _psi_far(lags[0][:, None] ** 2 + lags[1][None, :] ** 2, t_c, psi_cap, a, b)
        kernel_hat = scipy.fft.rfft2(far, workers=numba.get_num_threads())
        k = np.arange(self.n_interp) * h
        dx = (k[:, None, None, None] - k[None, None, :, None]) ** 2
        dy = (k[None, :, None, None] - k[None, None, None, :]) ** 2
        own = _psi_far(dx + dy, t_c, psi_cap, a, b)
        self._kernel_cache = (key, (kernel_hat, own))
        return kernel_hat, own


def _psi_far(t, t_c, psi_cap, a, b):
    """psi_r beyond t_c, its Taylor polynomial below."""
    far = repulsion_kernels(t, a, b)[0]
    inside = t < t_c
    dt = t[inside] - t_c
    far[inside] = psi_cap[0] + dt * (psi_cap[1] + dt * (psi_cap[2] + dt * psi_cap[3]))
    return far


def repulsion_estimator(name, n, dim):
    """``"auto"``: exact up to EXACT_MAX_ROWS points (or for 3+ dimensions), grid above."""
    if name == "auto":
        name = "exact" if n <= EXACT_MAX_ROWS or dim not in GRID_DIMS else "grid"
    if name == "exact":
        return ExactRepulsion()
    if name == "grid":
        if dim not in GRID_DIMS:
            raise ValueError(f"repulsion='grid' supports 1 or 2 output dimensions, got {dim}")
        return GridRepulsion()
    raise ValueError(f"unknown repulsion {name!r}; choose 'auto', 'exact' or 'grid'")


# ---------------------------------------------------------------------- objective
class Evaluation:
    """J and its pieces at one embedding (attraction and repulsion already scaled)."""

    __slots__ = ("value", "attraction", "repulsion", "A", "LAY", "LRY")

    def __init__(self, attraction, repulsion, A, LAY, LRY):
        self.attraction, self.repulsion = attraction, repulsion
        self.value = attraction + repulsion
        self.A, self.LAY, self.LRY = A, LAY, LRY

    @property
    def gradient(self):
        return 4.0 * (self.LAY - self.LRY)

    @property
    def stationarity(self):
        """||L_A Y - L_R Y|| / ||L_R Y||: 0 exactly at a stationary point of J."""
        return float(np.linalg.norm(self.LAY - self.LRY) / max(np.linalg.norm(self.LRY), 1e-300))


def check_graph(graph, n=None):
    """The input graph as symmetric float64 CSR without diagonal, or ValueError."""
    if not sp.issparse(graph):
        graph = np.asarray(graph)
        if graph.ndim != 2:
            raise ValueError(f"the graph must be a square (n, n) matrix, got shape {graph.shape}")
        graph = sp.csr_matrix(graph)
    P = sp.csr_matrix(graph, dtype=np.float64)
    if P.shape[0] != P.shape[1]:
        raise ValueError(f"the graph must be square, got shape {P.shape}")
    if n is not None and P.shape[0] != n:
        raise ValueError(f"the graph has {P.shape[0]} rows but the data has {n}")
    if P.shape[0] < 3:
        raise ValueError(f"the graph needs at least 3 points, got {P.shape[0]}")
    if not np.isfinite(P.data).all() or (P.data < 0).any():
        raise ValueError("the graph's weights must be finite and non-negative")
    P.setdiag(0.0)
    P.eliminate_zeros()
    if P.nnz == 0:
        raise ValueError("the graph has no edges")
    if abs(P - P.T).max() > 1e-6 * P.data.max():
        raise ValueError("the graph must be symmetric (UMAP's fuzzy union is)")
    P.sort_indices()
    return P


class DKObjective:
    """J for one input graph P: ``evaluate(Y)`` gives J, A and both Laplacian products."""

    def __init__(self, graph, a, b, negative_sample_rate=5, *, repulsion="auto", dim=2):
        self.P = check_graph(graph)
        self.n = self.P.shape[0]
        self.a, self.b = float(a), float(b)
        self.negative_sample_rate = int(negative_sample_rate)
        self.deg = np.asarray(self.P.sum(axis=1)).ravel()
        self.repulsion_scale = self.negative_sample_rate / (4.0 * self.n)  # g_ij = scale (deg_i + deg_j)
        self.indptr = self.P.indptr.astype(np.int64)
        self.indices = self.P.indices.astype(np.int64)
        self.repulsion = repulsion if callable(repulsion) else repulsion_estimator(repulsion, self.n, dim)

    def evaluate(self, Y):
        Y = np.ascontiguousarray(Y, dtype=np.float64)
        if Y.shape[0] != self.n:
            raise ValueError(f"the embedding has {Y.shape[0]} rows but the graph has {self.n}")
        A = np.empty(self.P.nnz)
        LAY = np.empty_like(Y)
        att = np.empty(self.n)
        _attraction(Y, self.indptr, self.indices, self.P.data, self.a, self.b, A, LAY, att)
        LRY, rep = self.repulsion(Y, self.deg, self.a, self.b)
        s = self.repulsion_scale
        return Evaluation(float(att.sum()), s * float(np.sum(rep)), A, LAY, s * LRY)

    def value(self, Y):
        return self.evaluate(Y).value

    def gradient(self, Y):
        return self.evaluate(Y).gradient

    def laplacian(self, A):
        """L_A = diag(A 1) - A as CSR, on the graph's sparsity pattern."""
        W = sp.csr_matrix((A, self.indices, self.indptr), shape=(self.n, self.n))
        return sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W


# ---------------------------------------------------------------------- LLE step
def solve_direct(L, rhs):
    """L X = rhs by one sparse LU factorization (SuperLU, symmetric ordering)."""
    from scipy.sparse.linalg import splu

    lu = splu(sp.csc_matrix(L), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    return lu.solve(rhs), 0


def solve_cg(L, rhs, *, x0=None, rtol=1e-4, max_iter=500):
    """L X = rhs (L symmetric positive definite) by Jacobi-preconditioned conjugate
    gradients, all columns at once. From X = 0 every iterate is a descent step; a warm
    start ``x0`` (the previous step) usually needs fewer iterations, and the caller
    checks the slope."""
    inv_diag = 1.0 / L.diagonal()
    X = np.zeros_like(rhs) if x0 is None else x0.copy()
    R = rhs.copy() if x0 is None else rhs - L @ X
    Z = R * inv_diag[:, None]
    Pdir = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    target = rtol * np.linalg.norm(rhs, axis=0)
    it = 0
    for it in range(1, max_iter + 1):
        LP = L @ Pdir
        alpha = rz / np.maximum(np.einsum("ij,ij->j", Pdir, LP), 1e-300)
        X += Pdir * alpha
        R -= LP * alpha
        if (np.linalg.norm(R, axis=0) <= target).all():
            break
        Z = R * inv_diag[:, None]
        rz_new = np.einsum("ij,ij->j", R, Z)
        Pdir = Z + Pdir * (rz_new / np.maximum(rz, 1e-300))
        rz = rz_new
    return X, it


def annealed_shift(max_iter, start=1e-1, end=1e-3, fraction=2.0 / 3.0):
    """mu(k): geometric from ``start`` to ``end`` over the first ``fraction`` of the
    iterations, then ``end``. Early damping keeps the start's global arrangement while
    the local structure forms; the small final shift lets J converge (docs/mathematics.md, 6a)."""
    span = max(1.0, fraction * max_iter)

    def shift(k):
        return start * (end / start) ** min(1.0, k / span)

    return shift


class DKLLEForces:
    """The DK-LLE force law for the one optimizer: ``direction(Y, epoch)`` is the LLE
    step times the step length the backtracking line search on J accepts.

    ``shift`` (mu relative to the mean diagonal of L_A, a number or a function of the
    iteration) keeps the step system positive definite and bounds the step of a graph
    component that nothing attaches to the rest. ``solver``: "direct", "cg" or "auto"
    (direct up to DIRECT_MAX_ROWS). After each call: ``objective_`` and
    ``stationarity_`` (one entry per outer iteration, J and the residual at the start
    of it), ``step_lengths_``, ``cg_iterations_``, ``n_evaluations`` (of J, line
    search included). ``converged`` turns True once a step decreases J by no more than
    ``tol`` (relative) or none decreases it at all; the optimizer's callback then stops.
    """

    def __init__(self, objective, *, solver="auto", shift=1e-3, tol=1e-7, cg_rtol=1e-2,
                 armijo=1e-4, max_halvings=30, timings=None):
        self.objective = objective
        if solver == "auto":
            solver = "direct" if objective.n <= DIRECT_MAX_ROWS else "cg"
        if solver not in ("direct", "cg"):
            raise ValueError(f"unknown solver {solver!r}; choose 'auto', 'direct' or 'cg'")
        self.solver = solver
        self.shift = shift if callable(shift) else float(shift)
        self.tol = float(tol)
        self.cg_rtol = float(cg_rtol)
        self.armijo = float(armijo)
        self.max_halvings = int(max_halvings)
        self.objective_ = []
        self.stationarity_ = []
        self.step_lengths_ = []
        self.cg_iterations_ = []
        self.converged = False
        self.timings = timings if timings is not None else {}
        self._current = None  # (Y, evaluation) of the last accepted point
        self._last_step = None  # warm start of the next conjugate-gradient solve
        self.n_evaluations = 0

    def _tick(self, key, t0):
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0

    def direction(self, Y, epoch):
        t0 = time.perf_counter()
        ev = self._evaluation_at(Y)
        self._tick("evaluate", t0)
        self.objective_.append(ev.value)
        self.stationarity_.append(ev.stationarity)
        t0 = time.perf_counter()
        L = self.objective.laplacian(ev.A)
        shift = self.shift(len(self.objective_) - 1) if callable(self.shift) else self.shift
        mu = shift * float(L.diagonal().mean())
        L = (L + mu * sp.eye(L.shape[0])).tocsr()
        rhs = ev.LRY - ev.LAY  # = -grad J / 4
        if self.solver == "direct":
            step, iters = solve_direct(L, rhs)
        else:
            step, iters = solve_cg(L, rhs, x0=self._last_step, rtol=self.cg_rtol)
            if not np.sum(rhs * step) > 0:  # the warm start did not give a descent step
                step, more = solve_cg(L, rhs, rtol=self.cg_rtol)
                iters += more
        self._last_step = step
        self.cg_iterations_.append(iters)
        self._tick("solve", t0)
        t0 = time.perf_counter()
        slope = -4.0 * float(np.sum(rhs * step))  # grad J . step < 0
        alpha, trial = self._line_search(Y, step, ev, slope)
        self._tick("line_search", t0)
        if trial is None:
            self.converged = True
            self._current = (Y.copy(), ev)
            self.step_lengths_.append(0.0)
            return np.zeros_like(Y)
        if (ev.value - trial.value) <= self.tol * abs(ev.value):
            self.converged = True
        self._current = (Y + alpha * step, trial)
        self.step_lengths_.append(alpha)
        return alpha * step

    def _line_search(self, Y, step, ev, slope):
        """(alpha, evaluation at Y + alpha step): halve alpha from 1 (the LLE step itself)
        until J decreases by Armijo's rule; (0, None) if no step length does."""
        alpha = 1.0
        for _ in range(self.max_halvings + 1):
            trial = self._evaluate(Y + alpha * step)
            if trial.value <= ev.value + self.armijo * alpha * slope and trial.value < ev.value:
                break
            alpha *= 0.5
        else:
            return 0.0, None
        return alpha, trial

    def _evaluation_at(self, Y):
        """The line search already evaluated the point the optimizer moved to: reuse it."""
        if self._current is not None and np.array_equal(self._current[0], Y):
            return self._current[1]
        return self._evaluate(Y)

    def _evaluate(self, Y):
        self.n_evaluations += 1
        return self.objective.evaluate(Y)

    def final(self, Y):
        """Record J and the residual at the final embedding (after the last step)."""
        ev = self._evaluation_at(Y)
        self.objective_.append(ev.value)
        self.stationarity_.append(ev.stationarity)
        return ev

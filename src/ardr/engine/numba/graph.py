"""Force laws on a sparse input graph: UMAP's sampled cross-entropy and the normalized
(tSNE) objective. Each point accumulates only its own force, so parallel loops never
race and the result does not depend on the thread count."""

from typing import NamedTuple

import numba
import numpy as np

from .locality import SpatialNumbering, gather_rows, scatter_rows
from .kernels import (attraction_coefficient, clip, heavy_tailed_attraction_coefficient,
                      student_t_attraction_coefficient, umap_repulsion_coefficient)
from .rng import _GOLDEN, draw_index, mix64, stream_key
from .variants import serial_and_parallel


def _sampled_step(head, tail, indptr, indices, epochs_per_sample, next_sample, epoch, step,
                  a, b, negative_rate, seed, keys, attraction_scale, repulsion_scale, clip_value, out,
                  active, n_active, all_stale):
    """One step: the edges of row i in this step's batch are indptr[i]:indptr[i + 1].
    Point i draws its negative samples from the stream keyed by (seed, step, keys[i]).

    With many steps per epoch most rows have no visit in a step, so only the rows with
    one are touched: chunk c lists them in ``active[c * _CHUNK:][:n_active[c]]``. On entry
    these arrays hold the previous step's rows, whose forces are reset to zero first (all
    rows when ``all_stale``), so that ``out`` is the whole force, zero off the list."""
    n = head.shape[0]
    n_tail = tail.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for chunk in numba.prange(n_chunks):
        lo = chunk * _CHUNK
        hi = min(n, lo + _CHUNK)
        # after this the chunk's forces are all zero
        if all_stale:
            out[lo:hi] = 0.0
        else:
            for r in range(n_active[chunk]):
                out[active[lo + r]] = 0.0
        # The chunk's pairs go into flat buffers, so the kernel's powers run as one long
        # vectorized loop rather than a few per point.
        cap = indptr[hi] - indptr[lo]  # visits this step, at most
        pull = np.empty(cap, dtype=np.int64)
        pull_coef = np.empty(cap)
        push = np.empty(cap * negative_rate, dtype=np.int64)
        push_coef = np.empty(cap * negative_rate)
        first = np.empty(hi - lo + 1, dtype=np.int64)  # active row r owns pull[first[r]:first[r + 1]]
        m = 0
        k = 0
        for i in range(lo, hi):
            start = m
            for e in range(indptr[i], indptr[i + 1]):
                if next_sample[e] <= epoch:
                    next_sample[e] += epochs_per_sample[e]
                    pull[m] = indices[e]
                    m += 1
            # appended without a branch: the slot is kept only when the row had a visit
            active[lo + k] = i
            first[k] = start
            k += m > start
        first[k] = m
        n_active[chunk] = k
        # negative_rate uniform draws per visit, keyed by (seed, step, point); the self
        # pair has t = 0 and so no push
        for r in range(k):
            key = stream_key(seed, step, keys[active[lo + r]])
            base = first[r] * negative_rate
            for s in range((first[r + 1] - first[r]) * negative_rate):
                push[base + s] = draw_index(key, s, n_tail)
        for r in range(k):
            i = active[lo + r]
            _squared_distances(head, i, tail, pull, first[r], first[r + 1], pull_coef)
            _squared_distances(head, i, tail, push, first[r] * negative_rate, first[r + 1] * negative_rate,
                               push_coef)
        for p in range(m):
            pull_coef[p] = attraction_coefficient(pull_coef[p], a, b)
        # repulsion_strength goes inside the coefficient: a multiply outside it kept this
        # loop from vectorizing (Fashion-MNIST 10k, 1 thread: optimize 1.5x slower)
        for p in range(m * negative_rate):
            push_coef[p] = umap_repulsion_coefficient(push_coef[p], a, b, repulsion_scale)
        for r in range(k):
            i = active[lo + r]
            # out[i] is zero since the reset above; pulls (towards the partner: the sign flips head - tail), then pushes
            _accumulate(head, i, tail, pull, pull_coef, first[r], first[r + 1], -attraction_scale, clip_value, out)
            _accumulate(head, i, tail, push, push_coef, first[r] * negative_rate, first[r + 1] * negative_rate,
                        1.0, clip_value, out)


@numba.njit(inline="always", cache=True)
def _squared_distances(head, i, tail, partner, start, stop, t):
    """t[p] = |head[i] - tail[partner[p]]|^2 for p in [start, stop)."""
    dim = head.shape[1]  # read once: a store may alias the shape for all LLVM knows
    for p in range(start, stop):
        j = partner[p]
        acc = 0.0
        for d in range(dim):
            diff = head[i, d] - tail[j, d]
            acc += diff * diff
        t[p] = acc


@numba.njit(inline="always", cache=True)
def _accumulate(head, i, tail, partner, coef, start, stop, sign, clip_value, out):
    """out[i] += sign * sum_p clip(coef[p] * (head[i] - tail[partner[p]])), per coordinate."""
    if stop <= start:
        return  # an empty vectorized loop still costs its set-up, ~25 ns per coordinate
    for d in range(head.shape[1]):
        acc = 0.0
        for p in range(start, stop):
            acc += clip(coef[p] * (head[i, d] - tail[partner[p], d]), clip_value)
        out[i, d] += sign * acc


# Points per parallel task: a chunk's pairs share scratch buffers and one vectorized
# coefficient loop.
_CHUNK = 256


# Small graphs run serially: a parallel region is launched every step (32 per epoch), and
# on a busy machine each launch waits for a descheduled thread. The choice depends on the
# rows alone, never on the thread count, and every point's force is computed by one
# thread in a fixed order, so a seed gives the same bytes on any number of threads.
PARALLEL_MIN_ROWS = 10_000
# Fused multiply-adds only. With "reassoc" numba's cached parallel kernel rounded some
# sums differently from the same kernel compiled in the process (Fashion-MNIST 70k: 14
# rows of one step differ in the last bit), so a fit's first run and the later ones
# disagreed; the reordering bought no measurable speed.
_FASTMATH = {"contract"}
_SAMPLED_STEP = serial_and_parallel(_sampled_step, error_model="numpy", fastmath=_FASTMATH)


@numba.njit(inline="always", cache=True, error_model="numpy", fastmath=_FASTMATH)
def _student_t_pull(tail, j, y0, y1, w, inv_dof):
    """The pull of an edge of weight w from tail[j] on the point (y0, y1) of a plane."""
    d0 = tail[j, 0] - y0
    d1 = tail[j, 1] - y1
    c = w * student_t_attraction_coefficient((d0 * d0 + d1 * d1) * inv_dof)
    return c * d0, c * d1


@numba.njit(inline="always", cache=True, error_model="numpy", fastmath=_FASTMATH)
def _student_t_pulls_on_plane(head, i, tail, indptr, indices, weights, inv_dof, out):
    """out[i] = the summed pulls on point i: tSNE's common case (2-D, a = b = 1) in one
    fused pass. Four partial sums per coordinate, over edges 0, 4, 8.. / 1, 5, 9.. and so
    on, added in a fixed order: four independent add chains instead of one, whose latency
    per edge bound the loop (GloVe 400k, 56M edges: 198 -> 113 ms a pass)."""
    y0 = head[i, 0]
    y1 = head[i, 1]
    x0 = x1 = x2 = x3 = z0 = z1 = z2 = z3 = 0.0
    e = indptr[i]
    stop = indptr[i + 1]
    while e + 4 <= stop:
        px, pz = _student_t_pull(tail, indices[e], y0, y1, weights[e], inv_dof)
        x0 += px
        z0 += pz
        px, pz = _student_t_pull(tail, indices[e + 1], y0, y1, weights[e + 1], inv_dof)
        x1 += px
        z1 += pz
        px, pz = _student_t_pull(tail, indices[e + 2], y0, y1, weights[e + 2], inv_dof)
        x2 += px
        z2 += pz
        px, pz = _student_t_pull(tail, indices[e + 3], y0, y1, weights[e + 3], inv_dof)
        x3 += px
        z3 += pz
        e += 4
    while e < stop:
        px, pz = _student_t_pull(tail, indices[e], y0, y1, weights[e], inv_dof)
        x0 += px
        z0 += pz
        e += 1
    out[i, 0] = (x0 + x1) + (x2 + x3)
    out[i, 1] = (z0 + z1) + (z2 + z3)


@numba.njit(parallel=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _attraction(head, tail, indptr, indices, weights, a, b, dof, out):
    n, dim = head.shape
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    student_t_plane = dim == 2 and a == 1.0 and b == 1.0
    inv_dof = 1.0 / dof
    for chunk in numba.prange(n_chunks):
        lo = chunk * _CHUNK
        hi = min(n, lo + _CHUNK)
        if student_t_plane:
            for i in range(lo, hi):
                _student_t_pulls_on_plane(head, i, tail, indptr, indices, weights, inv_dof, out)
            continue
        longest = 0
        for i in range(lo, hi):
            longest = max(longest, indptr[i + 1] - indptr[i])
        # one row at a time in buffers that stay in L1: a gathering pass stores the
        # differences and squared distances, one vectorized loop turns these into weighted
        # coefficients, and the pull sums coefficient x difference without gathering again
        diff = np.empty((longest, dim))
        coef = np.empty(longest)
        for i in range(lo, hi):
            start = indptr[i]
            count = indptr[i + 1] - start
            for e in range(count):
                j = indices[start + e]
                t = 0.0
                for d in range(dim):
                    delta = tail[j, d] - head[i, d]
                    diff[e, d] = delta
                    t += delta * delta
                coef[e] = t
            if a == 1.0 and b == 1.0 and dof == 1.0:
                for e in range(count):
                    coef[e] = weights[start + e] * student_t_attraction_coefficient(coef[e])
            elif dof != 1.0:
                for e in range(count):
                    coef[e] = weights[start + e] * heavy_tailed_attraction_coefficient(coef[e], a, b, dof)
            else:
                for e in range(count):
                    coef[e] = weights[start + e] * attraction_coefficient(coef[e], a, b)
            for d in range(dim):
                acc = 0.0
                for e in range(count):
                    acc += coef[e] * diff[e, d]
                out[i, d] = acc


@numba.njit(cache=True)  # once per fit: serial, which compiles in a fraction of the time
def _edge_cross_entropy(Y, indptr, indices, weights, a, b, dof):
    """sum over edges with p > 0 of p (log p - log q): KL(P || Q) less its log Z term
    (-log q = dof log(1 + a t^b / dof))."""
    total = np.zeros(Y.shape[0])
    for i in range(Y.shape[0]):
        acc = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            p = np.float64(weights[e])
            if p > 0.0:
                j = indices[e]
                t = 0.0
                for d in range(Y.shape[1]):
                    delta = Y[i, d] - Y[j, d]
                    t += delta * delta
                acc += p * (np.log(p) + dof * np.log1p(a * t**b / dof))
        total[i] = acc
    return total.sum()


def kl_divergence(P, Y, a, b, repulsion, dof=1.0):
    """KL(P || Q), Q = q / Z, for a graph P summing to one; Z from ``repulsion``."""
    _, Z = repulsion(Y, Y, a, b, 0, True, dof)
    indptr, indices, weights = _csr_parts(P)
    cross = _edge_cross_entropy(Y, indptr, indices, weights, float(a), float(b), float(dof))
    return float(cross + np.log(Z) * P.data.sum())


def _csr_parts(graph):
    """Row pointers, int32 column indices and the weights in the graph's own precision
    (float32 from ardr's input kernels: half the memory traffic of float64)."""
    weights = graph.data if graph.data.dtype in (np.float32, np.float64) else graph.data.astype(np.float64)
    return graph.indptr.astype(np.int64), graph.indices.astype(np.int32), weights


@numba.njit(inline="always", cache=True)
def _pair_batch(a, b, n_batches):
    """The batch of the unordered pair {a, b} (uint64 ids): SplitMix64 of lo * golden ^ hi."""
    lo = a if a < b else b
    hi = b if a < b else a
    return mix64((lo * _GOLDEN) ^ hi) % n_batches


@numba.njit(cache=True)
def _pair_batches(row, col, n_batches):
    out = np.empty(row.shape[0], dtype=np.int64)
    for e in range(row.shape[0]):
        out[e] = np.int64(_pair_batch(row[e], col[e], n_batches))
    return out


def _edge_batches(row, col, n_batches):
    """Batch of each edge: a hash of the unordered pair {row, col}, so that an edge and
    its mirror (j, i) fall in the same step and pull both ends at once, equal and
    opposite, as umap-learn's move of both ends does. Pulls spread over different steps
    let a close pair leapfrog: one end overshoots the other, which then overshoots back,
    and the pair walks off (GloVe 100k: 151 points flung 9x beyond the body)."""
    row = np.ascontiguousarray(row, dtype=np.uint64).ravel()
    col = np.ascontiguousarray(col, dtype=np.uint64).ravel()
    return _pair_batches(row, col, np.uint64(n_batches))


def _split_batches(graph, n_batches, row_keys=None):
    """The graph's edges reordered so that batch b of every row is contiguous.

    ``_edge_batches`` assigns the batches (from the row's key, default its number: a
    transform keys a new point by its content, so its batches do not depend on where it
    sits in its batch of new points); within a batch a row keeps its CSR order.
    ``indptr[b]`` (shape (n_batches, n + 1)) points into the reordered ``indices`` and
    weights. A step then reads only its own batch's memory.

    A counting sort by (batch, row) in compiled loops: apart from its outputs it holds
    one byte per edge (its batch), so a 10M-point graph's ~200M edges split without
    nnz-sized int64 temporaries.
    """
    n = graph.shape[0]
    indptr = graph.indptr.astype(np.int64)
    indices = graph.indices.astype(np.int32)
    weights = graph.data if graph.data.dtype == np.float64 else graph.data.astype(np.float64)
    keyed = row_keys is not None
    keys = np.ascontiguousarray(row_keys, dtype=np.uint64) if keyed else np.empty(0, dtype=np.uint64)
    if int(n_batches) > 255:
        raise ValueError("at most 255 batches per epoch")
    batch = _batch_per_edge(indptr, indices, keys, keyed, np.uint64(n_batches))
    offsets = np.zeros(n_batches * n + 1, dtype=np.int64)
    _batch_row_counts(indptr, batch, int(n_batches), offsets[1:].reshape(n_batches, n))
    np.cumsum(offsets, out=offsets)
    out_indices = np.empty(indices.shape[0], dtype=np.int32)
    out_weights = np.empty(indices.shape[0], dtype=np.float64)
    _scatter_by_batch(indptr, indices, weights, batch, offsets, int(n_batches), out_indices, out_weights)
    # row b is offsets[b * n: (b + 1) * n + 1]: overlapping rows of one array, a view
    # (32 batches x 10M rows would be a 2.6 GB copy)
    batch_indptr = np.lib.stride_tricks.as_strided(offsets, shape=(n_batches, n + 1),
                                                   strides=(n * offsets.itemsize, offsets.itemsize), writeable=False)
    return batch_indptr, out_indices, out_weights


@numba.njit(parallel=True, cache=True)
def _batch_per_edge(indptr, indices, keys, keyed, n_batches):
    """``_edge_batches`` of every edge, computed row by row (uint8)."""
    n = indptr.shape[0] - 1
    batch = np.empty(indices.shape[0], dtype=np.uint8)
    for i in numba.prange(n):
        r = keys[i] if keyed else np.uint64(i)
        for e in range(indptr[i], indptr[i + 1]):
            batch[e] = np.uint8(_pair_batch(r, np.uint64(indices[e]), n_batches))
    return batch


@numba.njit(parallel=True, cache=True)
def _batch_row_counts(indptr, batch, n_batches, counts):
    """counts[b, i] += the edges of row i in batch b (counts: zeros, n_batches x n)."""
    n = indptr.shape[0] - 1
    for i in numba.prange(n):
        for e in range(indptr[i], indptr[i + 1]):
            counts[batch[e], i] += 1


@numba.njit(parallel=True, cache=True)
def _scatter_by_batch(indptr, indices, weights, batch, offsets, n_batches, out_indices, out_weights):
    """Each row's edges to its slot of each batch, in CSR order (rows own disjoint slots)."""
    n = indptr.shape[0] - 1
    for i in numba.prange(n):
        pos = np.empty(n_batches, dtype=np.int64)
        for b in range(n_batches):
            pos[b] = offsets[b * n + i]
        for e in range(indptr[i], indptr[i + 1]):
            b = batch[e]
            out_indices[pos[b]] = indices[e]
            out_weights[pos[b]] = weights[e]
            pos[b] += 1


class SampledGraphForces:
    """UMAP's force law: each edge is visited in proportion to its weight, each visit
    pulls with the kernel's attraction and pushes from ``negative_rate`` random tail
    points (scaled by ``repulsion_strength``, umap-learn's gamma); every term is clipped
    to [-clip, clip].

    An epoch is split into ``n_batches`` steps; step b of an epoch visits the edges of
    batch b (``_edge_batches``: an edge and its mirror share a batch, so both ends of an
    edge are pulled in the same step). All points move after every step, so the
    update stays race-free and thread-count independent, while each move sums only a
    few edges, as UMAP's per-edge SGD does (one step per epoch would sum ~2k pulls of
    up to 4 each and overshoot). The optimizer's epochs are these steps.

    With head = tail the graph is symmetric and UMAP moves both ends of an edge, so each
    point's own pull counts twice (``attraction_scale = 2``); a transform moves only the
    new points (scale 1). ``point_keys`` (default: the row numbers) key each head
    point's random stream, so a transform can key a new point by its content and place
    it independently of the other points of its batch. ``density`` is an optional extra
    term with ``direction(Y, step)`` (densMAP's, :mod:`.density`).
    """

    def __init__(self, graph, n_epochs, a, b, *, negative_rate=5, seed=0, tail=None,
                 attraction_scale=None, repulsion_strength=1.0, clip_value=4.0, n_batches=1,
                 point_keys=None, density=None):
        self.n_batches = int(n_batches)
        self.batch_indptr, self.indices, weights = _split_batches(
            graph, self.n_batches, None if point_keys is None else np.asarray(point_keys, dtype=np.uint64))
        self.a, self.b = float(a), float(b)
        self.negative_rate = int(negative_rate)
        self.seed = int(seed)
        self.tail = tail
        self.attraction_scale = float(attraction_scale if attraction_scale is not None else (2.0 if tail is None else 1.0))
        self.repulsion_strength = float(repulsion_strength)
        self.clip_value = float(clip_value)
        self.point_keys = (np.arange(graph.shape[0], dtype=np.uint64) if point_keys is None
                           else np.ascontiguousarray(point_keys, dtype=np.uint64))
        self.density = density
        w_max = weights.max() if weights.size else 1.0
        with np.errstate(divide="ignore"):
            self.epochs_per_sample = np.where(weights > 0, w_max / weights, np.inf)
        self.next_sample = self.epochs_per_sample.copy()
        # UMAP's first visit of an edge happens at epoch epochs_per_sample; it
        # compares ``next <= epoch`` with the epoch counted from 0.
        self._out = None
        self._active = self._n_active = None
        self._all_stale = True  # out holds no force yet, or densMAP's term on every row
        self.moving_rows = None

    def direction(self, Y, step):
        """The force of this step, zero on the rows without a visit; ``moving_rows`` then
        names the rows it may be nonzero on (None: all), for the optimizer's move."""
        n = Y.shape[0]
        if self._out is None or self._out.shape != Y.shape:
            self._out = np.empty_like(Y)
            self._active = np.empty(n, dtype=np.int64)
            self._n_active = np.zeros((n + _CHUNK - 1) // _CHUNK, dtype=np.int64)
            self._all_stale = True
        tail = Y if self.tail is None else self.tail
        kernel = _SAMPLED_STEP[n >= PARALLEL_MIN_ROWS]
        epoch = step // self.n_batches
        kernel(Y, tail, self.batch_indptr[step % self.n_batches], self.indices, self.epochs_per_sample,
               self.next_sample, epoch, step, self.a, self.b, self.negative_rate, self.seed, self.point_keys,
               self.attraction_scale, self.repulsion_strength, self.clip_value, self._out,
               self._active, self._n_active, self._all_stale)
        extra = self.density.direction(Y, step) if self.density is not None else None
        self._all_stale = extra is not None
        if extra is not None:
            self._out += extra
        self.moving_rows = None if extra is not None else MovingRows(self._active, self._n_active, _CHUNK)
        return self._out


class MovingRows(NamedTuple):
    """The rows a step moves: chunk c (rows c * chunk to (c + 1) * chunk) lists its rows in
    ``rows[c * chunk:][:counts[c]]``."""

    rows: np.ndarray
    counts: np.ndarray
    chunk: int


class NormalizedForces:
    """The normalized objective KL(P || Q), Q = q / Z, for a graph P summing to one:
    direction = (exaggeration * A + R / Z) / 2, which is minus the KL gradient over 4
    (the units of bhtsne and openTSNE learning rates). A is the exact attraction over
    the graph's edges; R and Z come from a repulsion estimator (exact, sampled, FFT).
    ``dof`` selects the heavy-tailed kernel (1 + a t^b / dof)^-dof (``kernels``).

    ``pointwise=True`` (new points against a fixed ``tail``, each row of P summing to
    one): every point has its own normalization z_i = sum_j q_ij over the tail, the KL
    divergence of its own row, so a point's move depends on it and the tail alone;
    ``point_keys`` key its random draws.
    """

    def __init__(self, graph, a, b, repulsion, *, exaggeration=None, tail=None, dof=1.0, pointwise=False,
                 point_keys=None):
        # a law moving its own graph's points renumbers them by the layout's Z-order
        # (``locality``: same bytes, fewer cache misses); against a fixed tail it never does
        self.graph = SpatialNumbering(*_csr_parts(graph))
        self.a, self.b = float(a), float(b)
        self.dof = float(dof)
        self.repulsion = repulsion
        self.exaggeration = exaggeration or (lambda epoch: 1.0)
        self.tail = tail
        self.pointwise = pointwise
        self.point_keys = point_keys
        if pointwise and tail is None:
            raise ValueError("pointwise normalization needs a fixed tail")
        self.last_Z = float("nan")

    def direction(self, Y, epoch):
        same = self.tail is None
        tail = Y if same else self.tail
        A = np.empty_like(Y)
        if same:
            self._attraction_in_numbering(Y, epoch, A)
        else:
            g = self.graph
            _attraction(Y, tail, g.indptr, g.indices, g.weights, self.a, self.b, self.dof, A)
        if self.pointwise:
            R, z = self.repulsion.pointwise(Y, tail, self.a, self.b, epoch, self.point_keys, self.dof)
            return 0.5 * (self.exaggeration(epoch) * A + R / np.maximum(z, 1e-300)[:, None])
        R, Z = self.repulsion(Y, tail, self.a, self.b, epoch, same, self.dof)
        self.last_Z = Z
        return 0.5 * (self.exaggeration(epoch) * A + R / max(Z, 1e-300))

    def _attraction_in_numbering(self, Y, epoch, out):
        """out = the pulls on Y's points, computed on a copy of Y in the graph's own
        numbering (gathered, then scattered back: two passes over n rows, against a
        random read per edge saved)."""
        g = self.graph
        g.refresh(Y, epoch)
        if g.order is None:
            _attraction(Y, Y, g.indptr, g.indices, g.weights, self.a, self.b, self.dof, out)
            return
        local = np.empty_like(Y)
        gather_rows(Y, g.order, local)
        pulls = np.empty_like(Y)
        _attraction(local, local, g.indptr, g.indices, g.weights, self.a, self.b, self.dof, pulls)
        scatter_rows(pulls, g.order, out)

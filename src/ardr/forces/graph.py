"""Force laws on a sparse input graph: UMAP's sampled cross-entropy and the normalized
(tSNE) objective. Each point accumulates only its own force, so parallel loops never
race and the result does not depend on the thread count."""

import numba
import numpy as np

from ..kernels import attraction_coefficient, clip, umap_repulsion_coefficient
from ..rng import draw_index, stream_key


def _sampled_step(head, tail, indptr, indices, epochs_per_sample, next_sample, step, n_batches,
                  a, b, negative_rate, seed, attraction_scale, clip_value, same, out):
    n, dim = head.shape
    n_tail = tail.shape[0]
    epoch = step // n_batches
    batch = step % n_batches
    for i in numba.prange(n):
        key = stream_key(seed, step, i)
        counter = 0
        for d in range(dim):
            out[i, d] = 0.0
        for e in range(indptr[i] + batch, indptr[i + 1], n_batches):
            if next_sample[e] > epoch:
                continue
            next_sample[e] += epochs_per_sample[e]
            j = indices[e]
            t = 0.0
            for d in range(dim):
                diff = head[i, d] - tail[j, d]
                t += diff * diff
            c = attraction_coefficient(t, a, b)
            for d in range(dim):
                out[i, d] += attraction_scale * clip(c * (tail[j, d] - head[i, d]), clip_value)
            for _ in range(negative_rate):
                k = draw_index(key, counter, n_tail)
                counter += 1
                if same and k == i:
                    continue
                t = 0.0
                for d in range(dim):
                    diff = head[i, d] - tail[k, d]
                    t += diff * diff
                c = umap_repulsion_coefficient(t, a, b)
                for d in range(dim):
                    out[i, d] += clip(c * (head[i, d] - tail[k, d]), clip_value)


# Small graphs run serially: a parallel region is launched every step (4 per epoch), and
# on a busy machine each launch waits for a descheduled thread. Same bytes either way:
# every point's force is computed by one thread in a fixed order.
PARALLEL_MIN_ROWS = 10_000
_sampled_step_parallel = numba.njit(parallel=True, cache=True)(_sampled_step)
_sampled_step_serial = numba.njit(cache=True)(_sampled_step)


@numba.njit(parallel=True, cache=True)
def _attraction(head, tail, indptr, indices, weights, a, b, out):
    n, dim = head.shape
    for i in numba.prange(n):
        for d in range(dim):
            out[i, d] = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            t = 0.0
            for d in range(dim):
                diff = head[i, d] - tail[j, d]
                t += diff * diff
            c = weights[e] * attraction_coefficient(t, a, b)
            for d in range(dim):
                out[i, d] += c * (tail[j, d] - head[i, d])


def _csr_parts(graph):
    return (graph.indptr.astype(np.int64), graph.indices.astype(np.int64),
            graph.data.astype(np.float64))


class SampledGraphForces:
    """UMAP's force law: each edge is visited in proportion to its weight, each visit
    pulls with the kernel's attraction and pushes from ``negative_rate`` random tail
    points; every term is clipped to [-clip, clip].

    An epoch is split into ``n_batches`` steps; step b of an epoch visits the edges
    b, b + n_batches, ... of each point's row. All points move after every step, so the
    update stays race-free and thread-count independent, while each move sums only a
    few edges, as UMAP's per-edge SGD does (one step per epoch would sum ~2k pulls of
    up to 4 each and overshoot). The optimizer's epochs are these steps.

    With head = tail the graph is symmetric and UMAP moves both ends of an edge, so each
    point's own pull counts twice (``attraction_scale = 2``); a transform moves only the
    new points (scale 1).
    """

    def __init__(self, graph, n_epochs, a, b, *, negative_rate=5, seed=0, tail=None,
                 attraction_scale=None, clip_value=4.0, n_batches=1):
        self.indptr, self.indices, weights = _csr_parts(graph)
        self.a, self.b = float(a), float(b)
        self.negative_rate = int(negative_rate)
        self.seed = int(seed)
        self.tail = tail
        self.attraction_scale = float(attraction_scale if attraction_scale is not None else (2.0 if tail is None else 1.0))
        self.clip_value = float(clip_value)
        self.n_batches = int(n_batches)
        w_max = weights.max() if weights.size else 1.0
        with np.errstate(divide="ignore"):
            self.epochs_per_sample = np.where(weights > 0, w_max / weights, np.inf)
        self.next_sample = self.epochs_per_sample.copy()
        # UMAP's first visit of an edge happens at epoch epochs_per_sample; it
        # compares ``next <= epoch`` with the epoch counted from 0.
        self._out = None

    def direction(self, Y, step):
        if self._out is None or self._out.shape != Y.shape:
            self._out = np.empty_like(Y)
        same = self.tail is None
        tail = Y if same else self.tail
        kernel = _sampled_step_parallel if Y.shape[0] >= PARALLEL_MIN_ROWS else _sampled_step_serial
        kernel(Y, tail, self.indptr, self.indices, self.epochs_per_sample, self.next_sample,
               step, self.n_batches, self.a, self.b, self.negative_rate, self.seed,
               self.attraction_scale, self.clip_value, same, self._out)
        return self._out


class NormalizedForces:
    """The normalized objective KL(P || Q), Q = q / Z, for a graph P summing to one:
    direction = (exaggeration * A + R / Z) / 2, which is minus the KL gradient over 4
    (the units of bhtsne and openTSNE learning rates). A is the exact attraction over
    the graph's edges; R and Z come from a repulsion estimator (exact, sampled, FFT).
    """

    def __init__(self, graph, a, b, repulsion, *, exaggeration=None, tail=None):
        self.indptr, self.indices, self.weights = _csr_parts(graph)
        self.a, self.b = float(a), float(b)
        self.repulsion = repulsion
        self.exaggeration = exaggeration or (lambda epoch: 1.0)
        self.tail = tail
        self.last_Z = float("nan")

    def direction(self, Y, epoch):
        same = self.tail is None
        tail = Y if same else self.tail
        A = np.empty_like(Y)
        _attraction(Y, tail, self.indptr, self.indices, self.weights, self.a, self.b, A)
        R, Z = self.repulsion(Y, tail, self.a, self.b, epoch, same)
        self.last_Z = Z
        return 0.5 * (self.exaggeration(epoch) * A + R / max(Z, 1e-300))

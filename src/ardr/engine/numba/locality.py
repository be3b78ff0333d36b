"""Renumbering a force law's graph by where the points lie in the layout.

The exact attraction reads the layout row of every edge's far end. In the input's
numbering those rows are scattered over the whole layout, and on data without a
bandwidth-friendly graph (GloVe 400k: the reverse Cuthill-McKee order leaves a median
index gap of 53k between an edge's ends) each read misses the core's cache. Once the
layout has formed, a point's graph neighbours lie near it in the plane, so numbering
the points along a Z-order (Morton) curve of their positions puts both ends of most
edges at nearby indices.

The renumbered graph keeps each row's edges in their original sequence, so a row's
pulls are summed in the same order on the same values: the attraction is bit for bit
the one of the original numbering, whatever the layout and however often it is
renumbered.

``SpatialNumbering`` holds a force law's graph in such a numbering: every ``every``
epochs it proposes the Z-order of the current layout and takes it when the proposal
puts an edge's ends closer in index (the mean log gap over a fixed sample of edges),
so a graph already numbered well (reverse Cuthill-McKee on Fashion-MNIST) keeps its
numbering until the layout does better. Measured on GloVe 400k's tSNE graph (56M
edges): one attraction pass 146 -> 110 ms at epoch 251 and -> 99 ms at epoch 749; a
whole fit's attraction 111 -> 85 s, for 3 s of renumbering.
"""

import numba
import numpy as np

from ...graph.ordering import inverse_permutation, permute_rows

# bits per coordinate of the Morton code: 2 x 16 bits tell 65,536^2 cells apart
_BITS = 16


@numba.njit(cache=True)
def _spread_bits(v):
    """The 16 low bits of v moved to the even bit positions of a 32-bit word."""
    v &= 0xFFFF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    v = (v | (v << 1)) & 0x55555555
    return v


@numba.njit(parallel=True, cache=True)
def _morton_codes(Y, lo, scale):
    n = Y.shape[0]
    codes = np.empty(n, dtype=np.int64)
    top = (1 << _BITS) - 1
    for i in numba.prange(n):
        u = min(top, max(0, int((Y[i, 0] - lo[0]) * scale[0])))
        v = min(top, max(0, int((Y[i, 1] - lo[1]) * scale[1])))
        codes[i] = _spread_bits(u) | (_spread_bits(v) << 1)
    return codes


def spatial_order(Y):
    """The rows of a layout in the order of a Z-order curve through the plane of its
    first two coordinates (a line: in coordinate order); ties kept in row order."""
    if Y.shape[1] == 1:
        return np.argsort(Y[:, 0], kind="stable")
    head = np.ascontiguousarray(Y[:, :2], dtype=np.float64)
    lo = head.min(axis=0)
    span = head.max(axis=0) - lo
    scale = np.where(span > 0, ((1 << _BITS) - 1) / np.where(span > 0, span, 1.0), 0.0)
    return np.argsort(_morton_codes(head, lo, scale), kind="stable")


@numba.njit(parallel=True, cache=True)
def gather_rows(Y, order, out):
    """out[r] = Y[order[r]]."""
    for r in numba.prange(order.shape[0]):
        for d in range(Y.shape[1]):
            out[r, d] = Y[order[r], d]


@numba.njit(parallel=True, cache=True)
def scatter_rows(values, order, out):
    """out[order[r]] = values[r]."""
    for r in numba.prange(order.shape[0]):
        for d in range(values.shape[1]):
            out[order[r], d] = values[r, d]


# edges sampled to score a numbering: enough for a stable mean, few enough to cost ~1 ms
_SCORE_SAMPLE = 65_536


class SpatialNumbering:
    """A CSR graph (int64 row pointers, int32 columns, weights) renumbered from time to
    time by the layout's Z-order. ``order[r]`` is the point held in row r; the graph's
    rows and columns are in that numbering."""

    def __init__(self, indptr, indices, weights, every=50):
        self.indptr, self.indices, self.weights = indptr, indices, weights
        self.every = int(every)
        self.order = None  # None: the caller's own numbering
        self._spare = None  # the previous numbering's edge arrays, refilled by the next one

    def refresh(self, Y, epoch):
        """Take the Z-order of layout Y (in the caller's numbering) at a refresh epoch if
        it puts the graph's edges closer in index than the current numbering."""
        if epoch % self.every or Y.shape[0] < 2 or self.indices.shape[0] == 0:
            return
        current = np.arange(Y.shape[0]) if self.order is None else self.order
        proposed = spatial_order(Y)
        position = inverse_permutation(proposed)
        sample = np.arange(0, self.indices.shape[0], max(1, self.indices.shape[0] // _SCORE_SAMPLE))
        heads = np.searchsorted(self.indptr, sample, side="right") - 1
        tails = self.indices[sample]
        if _mean_log_gap(position[current[heads]], position[current[tails]]) >= _mean_log_gap(heads, tails):
            return
        # row r of the new numbering is the current row holding point proposed[r]
        held_at = inverse_permutation(current)
        previous = (self.indices, self.weights)
        self.indptr, self.indices, self.weights = permute_rows(
            self.indptr, self.indices, self.weights, held_at[proposed], position[current], out=self._spare)
        self._spare = previous if self.order is not None else None  # never overwrite the caller's arrays
        self.order = proposed


def _mean_log_gap(heads, tails):
    return float(np.mean(np.log1p(np.abs(heads.astype(np.int64) - tails))))

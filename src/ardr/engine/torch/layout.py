"""A sparse graph's rows as padded blocks, so each point sums its own edges densely.

On a GPU, edge-parallel force code adds each edge's term into its point with float
atomics, whose order (and so the result's last bits) changes from run to run. Here
the rows are grouped by length: rows whose length lies in (w_prev, w] are padded to
width w (w from ``_widths``, each at most 1.5x the one before; neighbouring groups merge
while the padding at most doubles the slots) and cut into blocks of at most
``BLOCK_SLOTS`` slots (``memory.py``). A force is
then a gather of partners, elementwise arithmetic and a sum over the block's second
axis, written to the block's own rows: no two blocks write the same row.

Padding slots carry weight 0 and partner 0; a weight of 0 means "no edge" (the input
kernels drop zero weights), so force code masks with ``weights > 0``.
With ``n_batches`` > 1, slot s of a row belongs to batch s % n_batches (the row's edges
b, b + n_batches, ... in CSR order, as ``engine.numba.graph._split_batches``), and each
batch has its own blocks.
"""

import numpy as np

from .device import import_torch
from .memory import BLOCK_SLOTS, SMALL_SLOTS


def _groups(order, sorted_degree, small_slots):
    """(rows, width) groups of non-empty rows: the width classes of ``_widths``, where
    neighbouring classes are merged while the merged group pads to at most twice its
    edges or to at most ``small_slots`` slots (fewer, larger blocks for small graphs:
    each block costs some twenty kernel launches per step)."""
    groups = []
    lo = int(np.searchsorted(sorted_degree, 0, side="right"))  # rows without edges need no block
    for width in _widths(int(sorted_degree[-1]) if len(sorted_degree) else 1):
        hi = int(np.searchsorted(sorted_degree, width, side="right"))
        if hi > lo:
            edges = int(sorted_degree[lo:hi].sum())
            if groups:
                first, _, previous_edges = groups[-1]
                slots = (hi - first) * width
                if slots <= max(small_slots, 2 * (previous_edges + edges)):
                    groups[-1] = (first, width, previous_edges + edges)
                    lo = hi
                    continue
            groups.append((lo, width, edges))
        lo = hi
    bounds = [g[0] for g in groups] + [len(order)]
    return [(order[bounds[i]:bounds[i + 1]], groups[i][1]) for i in range(len(groups))]


def _widths(longest):
    """1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, ... up to the longest row."""
    widths = [1]
    while widths[-1] < longest:
        w = widths[-1]
        widths.append(w + max(1, w // 2) if (len(widths) % 2) else w + max(1, w // 3))
    return widths


class Block:
    """Rows ``rows`` (int64) with ``partners`` (int32) and ``weights`` (rows x width), on one device."""

    __slots__ = ("rows", "partners", "weights")

    def __init__(self, rows, partners, weights):
        self.rows, self.partners, self.weights = rows, partners, weights

    def gather(self, columns, partners=None):
        """The partners' coordinates from ``columns`` (d x n, one row per coordinate):
        d x rows x width (x whatever extra axes ``partners`` has)."""
        partners = self.partners if partners is None else partners
        return columns.index_select(1, partners.reshape(-1)).reshape((columns.shape[0],) + partners.shape)


def columns(Y):
    """Y (n x d) as d contiguous coordinate rows: gathers and sums run over long vectors
    (torch's CPU kernels are slow on a last axis of length 2)."""
    return Y.T.contiguous()


def squared_norms(diff):
    """Sum over the leading (coordinate) axis of diff^2."""
    t = diff[0] * diff[0]
    for k in range(1, diff.shape[0]):
        t += diff[k] * diff[k]
    return t


class RowBlocks:
    """The blocks of a CSR graph (scipy) on ``device``; ``batches[b]`` lists batch b's blocks.

    ``weights`` are stored as float32 (``weight_dtype``): ardr's input kernels are float32.
    """

    def __init__(self, graph, device, *, n_batches=1, weight_dtype=None):
        torch = import_torch()
        weight_dtype = weight_dtype or torch.float32
        graph = graph.tocsr()
        self.shape = graph.shape
        self.n_batches = int(n_batches)
        indptr = np.asarray(graph.indptr, dtype=np.int64)
        degree = np.diff(indptr)
        order = np.argsort(degree, kind="stable")
        sorted_degree = degree[order]
        indices = torch.as_tensor(graph.indices.astype(np.int32), device=device)
        data = torch.as_tensor(np.asarray(graph.data), device=device).to(weight_dtype)
        self.batches = [[] for _ in range(self.n_batches)]
        kind = "cuda" if torch.device(device).type == "cuda" else "cpu"
        for rows, width in _groups(order, sorted_degree, SMALL_SLOTS[kind]):
            for b in range(self.n_batches):
                slots = np.arange(b, width, self.n_batches)
                if not len(slots):
                    continue
                step = max(1, BLOCK_SLOTS[kind] // len(slots))
                for start in range(0, len(rows), step):
                    self.batches[b].append(self._block(rows[start:start + step], slots, indptr, degree,
                                                       indices, data, device))

    @staticmethod
    def _block(rows, slots, indptr, degree, indices, data, device):
        torch = import_torch()
        valid = slots[None, :] < degree[rows][:, None]
        position = np.where(valid, indptr[rows][:, None] + slots[None, :], 0)
        position = torch.as_tensor(position, device=device)
        valid = torch.as_tensor(valid, device=device)
        partners = torch.where(valid, indices[position], 0)
        weights = torch.where(valid, data[position], 0)
        return Block(torch.as_tensor(rows, device=device), partners, weights)

    def blocks(self, batch=0):
        return self.batches[batch]

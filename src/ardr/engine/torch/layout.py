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
UMAP's steps visit the edges of one batch each (``engine.numba.graph._edge_batches``: an
edge and its mirror share a batch); each batch has its own blocks.
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

    ``batch_of_edge`` (one entry per stored edge, in [0, n_batches)) splits the edges into
    batches, each laid out on its own (a row's edges of one batch keep their CSR order);
    None: one batch. ``weights`` are stored as float32 (``weight_dtype``): ardr's input
    kernels are float32.
    """

    def __init__(self, graph, device, *, batch_of_edge=None, n_batches=1, weight_dtype=None):
        torch = import_torch()
        weight_dtype = weight_dtype or torch.float32
        graph = graph.tocsr()
        self.shape = graph.shape
        n = graph.shape[0]
        self.n_batches = 1 if batch_of_edge is None else int(n_batches)
        kind = "cuda" if torch.device(device).type == "cuda" else "cpu"
        indptr = np.asarray(graph.indptr, dtype=np.int64)
        row = np.repeat(np.arange(n), np.diff(indptr))
        indices = torch.as_tensor(graph.indices.astype(np.int32), device=device)
        data = torch.as_tensor(np.asarray(graph.data), device=device).to(weight_dtype)
        self.batches = [[] for _ in range(self.n_batches)]
        for b in range(self.n_batches):
            edges = np.arange(graph.nnz) if batch_of_edge is None else np.flatnonzero(batch_of_edge == b)
            degree = np.bincount(row[edges], minlength=n)
            first = np.concatenate([[0], np.cumsum(degree)[:-1]])
            order = np.argsort(degree, kind="stable")
            edges = torch.as_tensor(edges, device=device)
            for rows, width in _groups(order, degree[order], SMALL_SLOTS[kind]):
                step = max(1, BLOCK_SLOTS[kind] // width)
                for start in range(0, len(rows), step):
                    self.batches[b].append(_block(rows[start:start + step], width, first, degree, edges,
                                                  indices, data, device))

    def blocks(self, batch=0):
        return self.batches[batch]


def _block(rows, width, first, degree, edges, indices, data, device):
    """The block of ``rows``: slot s of row r holds the row's s-th edge (``edges[first[r] + s]``)."""
    torch = import_torch()
    slots = np.arange(width)
    valid = slots[None, :] < degree[rows][:, None]
    position = torch.as_tensor(np.where(valid, first[rows][:, None] + slots[None, :], 0), device=device)
    valid = torch.as_tensor(valid, device=device)
    edge = edges[position]
    partners = torch.where(valid, indices[edge], 0)
    weights = torch.where(valid, data[edge], 0)
    return Block(torch.as_tensor(rows, device=device), partners, weights)

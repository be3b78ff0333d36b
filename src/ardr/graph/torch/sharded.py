"""The input side of a sharded UMAP: which rank owns which points, and each rank's rows of
the fuzzy graph.

**Partition.** The points fall into the IVF search's k-means cells (``graph/torch/ivf.py``'s
``_Cells``: seeded, ~256 points each), and whole cells go to ranks: the cells are split
in two along the principal axis of their centres (weighted by their sizes) at the cut
that best balances the points, recursively, until there is one part per rank. Cells
are compact and a split follows the data's longest direction, so most kNN edges join
points of one rank. A pure function of the data, the seed and the number of ranks.

**Graph.** Each rank searches the neighbours of its own rows (every rank reads all of X),
computes their membership strengths, and sends each edge i -> j whose end j another rank
owns to that rank (one ``all_to_all``): the fuzzy union of row i needs w(j -> i). Each
rank then holds every directed edge into and out of its points, and pairs them as the
single process does (``affinities.symmetrize_edges``), so its rows are the single
process's rows of the same kNN.
"""

import numpy as np

from ...engine.torch.device import as_tensor, import_torch, to_numpy
from ..ivf import CELL_SIZE
from .affinities import membership_strengths, symmetrize_edges


def partition(R, n_ranks, seed, cell_size=CELL_SIZE):
    """(cell of each point, rank of each cell) for the rows R (a float32 tensor)."""
    from .ivf import _Cells

    index = _Cells(R, cell_size, seed)
    sizes = to_numpy(index.sizes).astype(np.int64)
    cell_owner = split_cells(to_numpy(index.centres).astype(np.float64), sizes, n_ranks)
    return to_numpy(index.cell).astype(np.int64), cell_owner


def split_cells(centres, sizes, n_ranks):
    """The rank of each cell: recursive bisection along the weighted principal axis of the
    centres, each cut balancing the points between the two halves' ranks."""
    owner = np.zeros(len(sizes), dtype=np.int64)

    def split(cells, first, ranks):
        if ranks == 1 or len(cells) == 0:
            owner[cells] = first
            return
        left = ranks // 2
        c, w = centres[cells], sizes[cells].astype(np.float64)
        mean = (w[:, None] * c).sum(axis=0) / max(w.sum(), 1.0)
        axis = np.linalg.svd((c - mean) * np.sqrt(w)[:, None], full_matrices=False)[2][0]
        axis *= np.sign(axis[np.argmax(np.abs(axis))])  # one sign for the same axis
        ordered = cells[np.lexsort((cells, (c - mean) @ axis))]
        held = np.concatenate([[0], np.cumsum(sizes[ordered])])
        cut = int(np.argmin(np.abs(held - held[-1] * left / ranks)))
        cut = min(max(cut, 1), len(ordered) - 1) if len(ordered) > 1 else cut
        split(ordered[:cut], first, left)
        split(ordered[cut:], first + left, ranks - left)

    split(np.arange(len(sizes)), 0, int(n_ranks))
    return owner


def umap_graph_rows(own, indices, distances, n_neighbors, n, owner, shards, *, device):
    """This rank's rows (``own``, increasing global ids) of UMAP's fuzzy union of all
    ranks' kNN: an m x n scipy CSR (float32), the single process's rows ``own``."""
    torch = import_torch()
    idx = as_tensor(np.asarray(indices), device).long()
    V = membership_strengths(as_tensor(np.asarray(distances), device), n_neighbors)
    own_t = torch.as_tensor(own, dtype=torch.int64, device=device)
    rows, cols, weights = own_t.repeat_interleave(idx.shape[1]), idx.reshape(-1), V.reshape(-1)
    destination = owner[to_numpy(cols)]
    away = np.flatnonzero(destination != shards.rank)
    away_t = torch.as_tensor(away, device=device)
    pairs = shards.send_grouped(torch.stack([rows[away_t], cols[away_t]], dim=1), destination[away], "graph")
    into = shards.send_grouped(weights[away_t], destination[away], "graph")
    rows, cols = torch.cat([rows, pairs[:, 0]]), torch.cat([cols, pairs[:, 1]])
    return symmetrize_edges(rows, cols, torch.cat([weights, into]), n, lambda a, b: (a + b) - a * b,
                            keep_rows=own_t)

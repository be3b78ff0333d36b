"""Tears and gaps: where the picture separates what the input joins, and the reverse.

* A **stretched edge** (a tear) is an input-graph edge (i, j) drawn across a gap: its ends
  lie on different islands (or one is a stray point) and it is longer than ``STRETCH``
  times the local picture scale of both ends (the distance from each end to its k-th
  nearest picture neighbour). Edges inside an island are not tears, however long: a 2-D
  picture of high-dimensional data cannot keep every neighbour near, and that loss is
  what the neighbourhood scales measure.
* **Islands** are what the eye sees as separate pieces: single-linkage clusters of the
  picture, cut where an edge of its Euclidean minimum spanning tree (from the Delaunay
  triangulation) is longer than ``GAP`` times both the local spacing on its denser side
  (the distance to the ``SPACING_NEIGHBOUR``-th picture neighbour) and the picture's
  typical neighbourhood size (the median distance to the k-th picture neighbour). The
  first separates a sparse cloud from a dense one beside it, the second keeps the small
  breaks of a densely drawn curve from counting as gaps.
  An island needs at least ``min_island`` points; smaller bits are stray points.
* A gap between two islands is **false** when the input graph joins them: at least
  ``JOIN_SHARE`` of the smaller island's input-graph edge ends cross to the other island
  (and at least ``JOIN_MIN`` edges). Islands adjacent in the picture (a cut tree edge
  joins them) with no input edge at all are separated by a **real** gap.
* The input graph's own connected components (with at least ``min_island`` points) are
  the pieces the data itself has.
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

STRETCH = 3.0
GAP = 3.0
SPACING_NEIGHBOUR = 5
JOIN_SHARE = 0.005
JOIN_MIN = 3


def min_island_size(n):
    return int(max(10, round(n / 1000)))


def stretched_edges(neighbourhoods, Y, island, *, factor=STRETCH):
    """(i, j, stretch) of every input-graph edge drawn across a gap (ends on different
    islands, -1 = stray) and longer than ``factor`` times the local picture scale at both
    ends; stretch = length / the larger scale. Most stretched first."""
    i, j = neighbourhoods.input_edges()
    across = island[i] != island[j]
    i, j = i[across], j[across]
    scale = neighbourhoods.picture_distances[:, -1]
    length = np.linalg.norm(Y[i] - Y[j], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        stretch = length / np.maximum(scale[i], scale[j])
    stretch = np.where(np.isfinite(stretch), stretch, np.where(length > 0, np.inf, 0.0))
    keep = stretch > factor
    order = np.argsort(-stretch[keep], kind="stable")
    return i[keep][order], j[keep][order], stretch[keep][order]


def _picture_tree(Y):
    """Edges (a, b, length) of the picture's Euclidean minimum spanning tree."""
    n, d = Y.shape
    if n <= d + 1 or d > 3:
        from sklearn.neighbors import NearestNeighbors

        # few points or many dimensions: the tree of a 10-NN graph (plus components joined below)
        k = min(n - 1, 10)
        graph = NearestNeighbors(n_neighbors=k).fit(Y).kneighbors_graph(mode="distance")
    else:
        from scipy.spatial import Delaunay, QhullError

        try:
            tri = Delaunay(Y if d > 1 else np.hstack([Y, np.zeros_like(Y)]))
            simplices = tri.simplices
            pairs = np.concatenate([simplices[:, [s, t]] for s in range(simplices.shape[1])
                                    for t in range(s + 1, simplices.shape[1])])
        except (QhullError, ValueError):  # degenerate (e.g. all points on a line)
            order = np.lexsort(Y.T[::-1])
            pairs = np.column_stack([order[:-1], order[1:]])
        a, b = pairs[:, 0], pairs[:, 1]
        w = np.linalg.norm(Y[a] - Y[b], axis=1)
        w = np.where(w > 0, w, np.finfo(np.float64).tiny)  # duplicates: still an edge
        graph = sp.csr_matrix((w, (a, b)), shape=(n, n))
    tree = minimum_spanning_tree(graph).tocoo()
    return tree.row, tree.col, tree.data


def picture_islands(Y, picture_distances, *, gap=GAP, min_island=None):
    """(island id per point (-1 for stray points), number of islands, cut tree edges (a, b)).

    Islands are numbered by decreasing size. A fragment smaller than ``min_island`` (a
    sparse tail cut off its cloud) rejoins the neighbour its shortest cut edge leads to,
    if that edge is within ``gap`` times the fragment's own spacing: one edge per
    fragment, so fragments never chain two islands together."""
    n = Y.shape[0]
    min_island = min_island_size(n) if min_island is None else min_island
    a, b, length = _picture_tree(Y)
    spacing = picture_distances[:, min(SPACING_NEIGHBOUR, picture_distances.shape[1]) - 1]
    typical = np.median(picture_distances[:, -1])
    cut = (length > gap * np.minimum(spacing[a], spacing[b])) & (length > gap * typical)
    piece = _pieces(n, a[~cut], b[~cut])
    sizes = np.bincount(piece)
    lenient = length <= gap * np.maximum(spacing[a], spacing[b])
    small_a, small_b = sizes[piece[a]] < min_island, sizes[piece[b]] < min_island
    rejoin = np.zeros(len(a), dtype=bool)
    for small, side in ((small_a, piece[a]), (small_b, piece[b])):
        candidates = np.flatnonzero(cut & lenient & small)
        if len(candidates):  # each small fragment's shortest eligible edge
            order = candidates[np.lexsort((length[candidates], side[candidates]))]
            first = np.unique(side[order], return_index=True)[1]
            rejoin[order[first]] = True
    if rejoin.any():
        cut &= ~rejoin
        piece = _pieces(n, a[~cut], b[~cut])
        sizes = np.bincount(piece)
    big = np.flatnonzero(sizes >= min_island)
    big = big[np.lexsort((big, -sizes[big]))]
    remap = np.full(len(sizes), -1, dtype=np.int64)
    remap[big] = np.arange(len(big))
    return remap[piece], len(big), (a[cut], b[cut])


def _pieces(n, a, b):
    graph = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def input_components(neighbourhoods, *, min_island=None):
    """(component id per point (-1 for components smaller than min_island), count)."""
    n = neighbourhoods.n
    min_island = min_island_size(n) if min_island is None else min_island
    _, comp = connected_components(neighbourhoods.input_graph(), directed=False)
    sizes = np.bincount(comp)
    big = np.flatnonzero(sizes >= min_island)
    remap = np.full(len(sizes), -1, dtype=np.int64)
    remap[big[np.lexsort((big, -sizes[big]))]] = np.arange(len(big))
    return remap[comp], len(big)


def gaps(neighbourhoods, island, n_islands, cut_edges):
    """The gaps between islands: a list of dicts {a, b, edges, share, kind} where kind is
    "false" (the input joins the two islands), "weak" (a few input edges cross, below the
    join threshold) or "real" (adjacent in the picture, no input edge crosses)."""
    i, j = neighbourhoods.input_edges()
    ii, jj = island[i], island[j]
    cross = (ii >= 0) & (jj >= 0) & (ii != jj)
    lo, hi = np.minimum(ii[cross], jj[cross]), np.maximum(ii[cross], jj[cross])
    counts = np.bincount(lo * n_islands + hi, minlength=n_islands * n_islands).reshape(n_islands, n_islands)
    # input-graph edge ends per island: how much each island could be joined by
    ends = np.bincount(np.concatenate([ii[ii >= 0], jj[jj >= 0]]), minlength=n_islands)
    ca, cb = island[cut_edges[0]], island[cut_edges[1]]
    adjacent = {(min(x, y), max(x, y)) for x, y in zip(ca, cb) if x >= 0 and y >= 0 and x != y}
    rows = []
    for a in range(n_islands):
        for b in range(a + 1, n_islands):
            edges = int(counts[a, b])
            if edges == 0 and (a, b) not in adjacent:
                continue
            share = edges / max(1, min(ends[a], ends[b]))
            kind = ("false" if edges >= JOIN_MIN and share >= JOIN_SHARE else "weak") if edges else "real"
            rows.append({"a": a, "b": b, "edges": edges, "share": float(share), "kind": kind})
    return rows


def merged_components(island, component, n_islands):
    """Islands that hold points of two or more input components (each with at least
    ``min_island`` points there): the picture joins what no input edge joins.
    Returns a list of (island, [components])."""
    merged = []
    valid = (island >= 0) & (component >= 0)
    min_share = min_island_size(len(island))
    for a in range(n_islands):
        comps, counts = np.unique(component[valid & (island == a)], return_counts=True)
        held = comps[counts >= min_share]
        if len(held) >= 2:
            merged.append((a, held.tolist()))
    return merged

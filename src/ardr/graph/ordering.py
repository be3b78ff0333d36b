"""Point orderings that make the force loops cache-friendly.

A point's graph neighbours sit anywhere in the input's row order, so every pull reads
a random row of the embedding. Renumbering the points by reverse Cuthill-McKee (a
bandwidth-reducing order of the graph) puts neighbours at nearby indices: measured on
Fashion-MNIST 70k's tSNE graph (9.9M edges), the attraction pass drops from 71 ms to
39 ms, for 78 ms of ordering once. The order is a pure function of the graph, so
results stay deterministic. Small data gains nothing but costs next to nothing (digits:
about a millisecond), and one code path for every size is one path tested.
"""

import numpy as np


def locality_order(graph):
    """A permutation of the rows of a symmetric sparse graph (reverse Cuthill-McKee)."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    return np.asarray(reverse_cuthill_mckee(graph.tocsr(), symmetric_mode=True), dtype=np.int64)


def permute_graph(graph, order):
    """The graph with rows and columns renumbered: new index r is old index order[r]."""
    permuted = graph.tocsr()[order][:, order].tocsr()
    permuted.sort_indices()
    return permuted

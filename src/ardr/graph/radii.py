"""Local radii of a point cloud over its fuzzy graph (densMAP's ``output_dens``).

The radius of point i is the graph-weighted mean of a per-edge size:
log(eps + sum_j mu_ij s_ij / sum_j mu_ij). For the data, s is the squared input
distance over the graph UMAP optimizes (umap-learn's ``rad_orig``); for an embedding,
s is the output distance over the embedding's own 15-neighbour fuzzy graph
(``rad_emb``), exactly as umap-learn computes them, so the correlation of the two is
comparable between the libraries.
"""

import numpy as np
import scipy.sparse as sp

from .affinities import umap_graph
from .neighbors import nearest_neighbors

LOG_EPSILON = 1e-8  # umap-learn's guard inside the logarithm


def edge_distances(graph, indices, distances):
    """d_ij on the pattern of ``graph`` (CSR, sorted) from a kNN list: the larger of the two
    directions where both exist (they agree), 0 for an edge that is no kNN pair (a
    supervised graph can add such edges; umap-learn counts them as 0 too)."""
    n, k = indices.shape
    rows = np.repeat(np.arange(n), k)
    finite = np.isfinite(distances.ravel())
    D = sp.csr_matrix((distances.ravel()[finite].astype(np.float64), (rows[finite], indices.ravel()[finite])),
                      shape=graph.shape)
    D = D.maximum(D.T).tocsr()
    pattern = graph.tocsr()
    row_of = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    return np.asarray(D[row_of, pattern.indices]).ravel()


def log_radii(graph, edge_sizes):
    """log(eps + sum_j w_ij s_ij / sum_j w_ij) per row of ``graph`` (s on its pattern)."""
    weights = graph.data.astype(np.float64)
    weighted = sp.csr_matrix((weights * edge_sizes, graph.indices, graph.indptr), shape=graph.shape)
    total_w = np.asarray(graph.sum(axis=1), dtype=np.float64).ravel()
    total = np.asarray(weighted.sum(axis=1)).ravel()
    mean = np.divide(total, total_w, out=np.zeros_like(total), where=total_w > 0)
    return np.log(LOG_EPSILON + mean)


def data_log_radii(graph, indices, distances):
    """umap-learn's ``rad_orig``: radii from squared input distances over ``graph``."""
    return log_radii(graph, edge_distances(graph, indices, distances) ** 2)


def embedding_log_radii(Y, n_neighbors, random_state=0):
    """umap-learn's ``rad_emb``: radii from output distances over the embedding's own
    fuzzy graph with ``n_neighbors`` (counting the point itself)."""
    k = min(n_neighbors, Y.shape[0]) - 1
    idx, dist = nearest_neighbors(np.ascontiguousarray(Y, dtype=np.float32), k, random_state=random_state)
    G = umap_graph(idx, dist, k + 1)
    return log_radii(G, edge_distances(G, idx, dist))

"""From the embedding back to the data: ``inverse_transform`` of the neighbour embeddings.

A point y of the embedding space is mapped to the average of the input rows of its k
nearest embedded training points, each weighted by the output kernel
q(d) = 1 / (1 + a d^{2b}) of its distance to y (a Nadaraya-Watson regression with the
embedding's own kernel). umap-learn instead gathers min(n_features, n) neighbours
through a Delaunay triangulation and then runs an SGD in the input space. Measured
(``benchmarks/parity.py --cases inverse_transform``: digits, fit on a stratified 80%,
300 held-out rows placed by ``transform`` and mapped back, mean squared error against
the true rows): ardr 6.20 in 0.16 s, umap-learn 9.37 in 22.5 s; predicting the mean
training row: 18.74.
"""

import numpy as np
import scipy.sparse as sp

from ..graph.neighbors import exact_knn

# Input rows gathered per query block: bounds the k x n_features temporary.
_BLOCK_ELEMENTS = 8_000_000


def inverse_map(embedding, X_fit, Y, a, b, k):
    """Rows in the data space for the embedded points ``Y`` (float64, len(Y) x n_features);
    ``X_fit`` dense or sparse."""
    k = max(1, min(int(k), embedding.shape[0]))
    idx, dist = exact_knn(np.asarray(embedding, dtype=np.float32), k, queries=np.asarray(Y, dtype=np.float32),
                          exclude_self=False)
    weights = 1.0 / (1.0 + a * dist.astype(np.float64) ** (2.0 * b))
    weights /= weights.sum(axis=1, keepdims=True)
    if sp.issparse(X_fit):
        rows = np.repeat(np.arange(Y.shape[0]), k)
        W = sp.csr_matrix((weights.ravel(), (rows, idx.ravel())), shape=(Y.shape[0], embedding.shape[0]))
        return (W @ X_fit.astype(np.float64)).toarray()
    out = np.empty((Y.shape[0], X_fit.shape[1]))
    rows = max(1, _BLOCK_ELEMENTS // (k * X_fit.shape[1]))
    for start in range(0, Y.shape[0], rows):
        block = slice(start, start + rows)
        out[block] = np.einsum("ik,ikd->id", weights[block], X_fit[idx[block]], dtype=np.float64)
    return out

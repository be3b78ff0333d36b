"""Starting layouts: spectral (UMAP's default), PCA (tSNE's), random, or a given array."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ._progress import progress_bar


def random_layout(n, dim, seed, scale=10.0):
    """Uniform in [0, scale]^dim, as umap-learn's random init."""
    return np.random.default_rng(seed).uniform(0.0, scale, size=(n, dim))


# Up to this many columns PCA goes through the D x D covariance (float64, accumulated
# block by block: Fashion-MNIST 70k x 784 in 0.7 s against 2.5 s for a float64 copy and
# scikit-learn); wider data through scikit-learn.
COVARIANCE_MAX_COLUMNS = 2048


def principal_scores(X, n_dims, *, scale=1.0, block=8192):
    """Scores of X / scale on its top n_dims principal axes (float64, n x n_dims).

    The covariance is summed in float64 over row blocks, so X is never copied whole;
    a symmetric eigen-decomposition gives the axes. Deterministic."""
    mean = X.mean(axis=0, dtype=np.float64) / scale
    cov = np.zeros((X.shape[1], X.shape[1]))
    for start in range(0, X.shape[0], block):
        centred = X[start:start + block].astype(np.float64) / scale - mean
        cov += centred.T @ centred
    _, vectors = np.linalg.eigh(cov)
    axes = vectors[:, ::-1][:, :n_dims]
    scores = np.empty((X.shape[0], n_dims))
    for start in range(0, X.shape[0], block):
        scores[start:start + block] = (X[start:start + block].astype(np.float64) / scale - mean) @ axes
    return scores


def pca_layout(X, dim, seed):
    """Top principal component scores of X (deterministic sign: largest |entry| positive);
    for sparse X the top singular directions (TruncatedSVD: no centring, no densifying)."""
    if sp.issparse(X):
        return _sparse_svd_layout(X, dim, seed)
    dim_avail = min(dim, X.shape[1], X.shape[0])
    Y = np.zeros((X.shape[0], dim))
    if not np.ptp(X, axis=0).any():
        return Y  # no variance at all: every start is as good as another
    scale = float(np.abs(X).max())  # scale-free: PCA's variances neither underflow nor overflow
    if X.shape[1] <= COVARIANCE_MAX_COLUMNS:
        Y[:, :dim_avail] = principal_scores(X, dim_avail, scale=scale)
    else:
        from sklearn.decomposition import PCA

        Y[:, :dim_avail] = PCA(n_components=dim_avail, random_state=seed).fit_transform(
            np.asarray(X, dtype=np.float64) / scale)
    if dim_avail < dim:  # fewer features than output dimensions: fill with small noise
        Y[:, dim_avail:] = np.random.default_rng(seed).normal(scale=1e-4, size=(X.shape[0], dim - dim_avail))
    return _fixed_signs(Y)


def _fixed_signs(Y):
    flip = np.sign(Y[np.abs(Y).argmax(axis=0), np.arange(Y.shape[1])])
    return Y * np.where(flip == 0, 1.0, flip)


def _sparse_svd_layout(X, dim, seed):
    from sklearn.decomposition import TruncatedSVD

    n, D = X.shape
    Y = np.random.default_rng(seed).normal(scale=1e-4, size=(n, dim))  # columns beyond the rank: small noise
    dim_avail = min(dim, D - 1, n - 1)
    if dim_avail >= 1 and X.nnz:
        scale = float(np.abs(X.data).max()) or 1.0
        Y[:, :dim_avail] = TruncatedSVD(dim_avail, algorithm="randomized", random_state=seed).fit_transform(X / scale)
    return _fixed_signs(Y)


def spectral_layout(graph, dim, seed, progress=None):
    """Leading non-trivial eigenvectors of the normalized adjacency D^-1/2 P D^-1/2.

    These are the bottom eigenvectors of the normalized Laplacian (Laplacian eigenmaps).
    Disconnected graphs: each component is laid out on its own and the components are
    placed apart on a spectral layout of their centres; tiny components go to random
    positions in their slot. ``progress(total, desc)``: a tqdm-like bar factory (one
    step per component, by rows).
    """
    n = graph.shape[0]
    rng = np.random.default_rng(seed)
    n_comp, labels = connected_components(graph, directed=False)
    with progress_bar(progress, n, f"spectral init ({n_comp} component{'s' if n_comp > 1 else ''})") as bar:
        if n_comp == 1:
            Y = _component_spectral(graph, dim, rng)
            bar.update(n)
            return Y
        # place components on a grid of cells, each layout scaled to its cell
        side = int(np.ceil(n_comp ** (1.0 / dim)))
        Y = np.zeros((n, dim))
        sizes = np.bincount(labels)
        by_component = np.argsort(labels, kind="stable")  # members of each component, in increasing order
        starts = np.concatenate([[0], np.cumsum(sizes)])
        for rank, c in enumerate(np.argsort(-sizes, kind="stable")):
            members = by_component[starts[c]:starts[c + 1]]
            sub = graph[members][:, members]
            local = (_component_spectral(sub, dim, rng) if len(members) > dim + 1
                     else rng.uniform(-1, 1, (len(members), dim)))
            span = np.abs(local).max() or 1.0
            cell = np.array(np.unravel_index(rank, (side,) * dim), dtype=float)
            Y[members] = cell * 3.0 + local / span
            bar.update(len(members))
    return Y


def _component_spectral(graph, dim, rng):
    n = graph.shape[0]
    if n <= dim + 1:
        return rng.uniform(-1, 1, (n, dim))
    degree = np.asarray(graph.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree, 1e-300))
    D = sp.diags(inv_sqrt)
    A = (D @ graph @ D).astype(np.float64)
    k = dim + 1
    try:
        if n < 2 * k + 10 or n <= 500:
            vals, vecs = np.linalg.eigh(A.toarray())
        else:
            from scipy.sparse.linalg import eigsh

            v0 = np.sqrt(np.maximum(degree, 1e-300))
            # a short Lanczos basis: the orthogonalization of sqrt(n) vectors cost 3x more
            # than the extra restarts (Fashion-MNIST 70k: 35 s with ncv=264, 11 s with 32)
            vals, vecs = eigsh(A, k=k, which="LA", v0=v0 / np.linalg.norm(v0), tol=1e-4,
                               ncv=min(n - 1, max(2 * k + 1, 32)), maxiter=n * 5)
        order = np.argsort(vals)[::-1]
        vecs = vecs[:, order[1:k]]
    except Exception:  # ARPACK non-convergence: fall back like umap-learn does
        return rng.uniform(-10, 10, (n, dim))
    # deterministic sign and the expansion umap-learn applies (largest coordinate 10)
    flip = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(flip == 0, 1.0, flip)
    return vecs * (10.0 / max(np.abs(vecs).max(), 1e-300))


def check_init_array(init, n, dim):
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape != (n, dim):
        raise ValueError(f"init array must have shape ({n}, {dim}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("init array contains NaN or infinite values")
    return arr.copy()

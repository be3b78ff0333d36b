"""Input kernels on a torch device, as ``graph/affinities.py`` defines them: UMAP's fuzzy
graph and tSNE's perplexity affinities, returned as the same scipy CSR matrices
(float32, sorted indices, no stored zeros).

The per-point bandwidth searches run for all rows at once (a row stops updating when
it has converged, as the numba loop breaks). The symmetrization pairs each edge with
its reverse by one stable sort of (row, column) keys, so no value is ever summed by
atomics: a pair holds at most the two directed weights a and b, combined elementwise.
"""

import numpy as np
import scipy.sparse as sp

from ...engine.torch.device import as_tensor, import_torch, to_numpy
from ..affinities import _BISECTION_STEPS, _MIN_K_DIST_SCALE, _SMOOTH_K_TOLERANCE

_PERPLEXITY_STEPS = 200
_ENTROPY_TOLERANCE = 1e-6


def smooth_knn_dist(distances, target, local_connectivity=1.0):
    """Per-point rho (the local_connectivity-th non-zero distance) and sigma by bisection,
    so that sum_j exp(-(d_ij - rho_i) / sigma_i) = target (float64 tensors)."""
    torch = import_torch()
    d = distances
    n, k = d.shape
    nonzero = d > 0
    index = int(np.floor(local_connectivity))
    rank = nonzero.cumsum(dim=1)
    n_nonzero = rank[:, -1] if k else torch.zeros(n, dtype=torch.int64, device=d.device)
    at_index = nonzero & (rank == index)
    rho = torch.where(at_index, d, 0.0).sum(dim=1)  # one entry at most
    rho = torch.where(n_nonzero >= local_connectivity, rho,
                      torch.where(n_nonzero > 0, d.max(dim=1).values, 0.0))
    gap = d - rho[:, None]
    lo = torch.zeros(n, dtype=d.dtype, device=d.device)
    hi = torch.full((n,), float("inf"), dtype=d.dtype, device=d.device)
    mid = torch.ones(n, dtype=d.dtype, device=d.device)
    active = torch.ones(n, dtype=torch.bool, device=d.device)
    for _ in range(_BISECTION_STEPS):
        psum = torch.where(gap > 0, torch.exp(-(gap / mid[:, None])), 1.0).sum(dim=1)
        active &= ~((psum - target).abs() < _SMOOTH_K_TOLERANCE)
        if not bool(active.any()):
            break
        over = psum > target
        new_hi = torch.where(over, mid, hi)
        new_lo = torch.where(over, lo, mid)
        new_mid = torch.where(over, (lo + mid) / 2.0, torch.where(torch.isinf(hi), mid * 2.0, (mid + hi) / 2.0))
        lo, hi, mid = (torch.where(active, new, old) for new, old in ((new_lo, lo), (new_hi, hi), (new_mid, mid)))
    mean_all = d.mean() if d.numel() else d.new_zeros(())
    floor = _MIN_K_DIST_SCALE * torch.where(rho > 0, d.mean(dim=1), mean_all)
    return rho, torch.maximum(mid, floor)


def membership_strengths(distances, n_neighbors, local_connectivity=1.0):
    """UMAP's directed weights exp(-(d_ij - rho_i) / sigma_i) (float32 tensor)."""
    torch = import_torch()
    d = distances.double()
    rho, sigma = smooth_knn_dist(d, float(np.log2(n_neighbors)), float(local_connectivity))
    gap = d - rho[:, None]
    scaled = torch.where(gap > 0, gap / sigma[:, None], 0.0)
    return torch.exp(-scaled).float()


def conditional_gaussian(distances, perplexity):
    """tSNE's conditional p_{j|i} over each point's neighbours (rows sum to 1; float32).
    Several perplexities (multiscale) give the mean of their rows."""
    perplexities = np.atleast_1d(np.asarray(perplexity, dtype=np.float64))
    rows = _perplexity_rows(distances.double() ** 2, float(np.log(perplexities[0])))
    for value in perplexities[1:]:
        rows += _perplexity_rows(distances.double() ** 2, float(np.log(value)))
    if perplexities.size > 1:
        rows /= perplexities.size
    return rows.float()


def _perplexity_rows(d, target):
    """Row-stochastic Gaussian weights of squared distances d whose entropy is ``target``
    (float64; beta by bisection, as ``graph.affinities._perplexity_rows``)."""
    torch = import_torch()
    d_min = d.min(dim=1).values[:, None]
    scale = (d - d_min).mean(dim=1)
    scale = torch.where(scale > 0, scale, 1.0)[:, None]
    n = d.shape[0]
    beta = torch.ones(n, dtype=d.dtype, device=d.device)
    lo = torch.zeros_like(beta)
    hi = torch.full_like(beta, float("inf"))
    active = torch.ones(n, dtype=torch.bool, device=d.device)
    P = torch.zeros_like(d)
    for _ in range(_PERPLEXITY_STEPS):
        row = torch.exp(-(d - d_min) / scale * beta[:, None])
        row = row / row.sum(dim=1, keepdim=True)
        P = torch.where(active[:, None], row, P)
        entropy = -torch.where(row > 1e-300, row * torch.log(torch.where(row > 1e-300, row, 1.0)), 0.0).sum(dim=1)
        active &= ~((entropy - target).abs() < _ENTROPY_TOLERANCE)
        if not bool(active.any()):
            break
        wide = entropy > target
        new_lo = torch.where(wide, beta, lo)
        new_hi = torch.where(wide, hi, beta)
        new_beta = torch.where(wide, torch.where(torch.isinf(hi), beta * 2.0, (beta + hi) / 2.0), (lo + beta) / 2.0)
        lo, hi, beta = (torch.where(active, new, old) for new, old in ((new_lo, lo), (new_hi, hi), (new_beta, beta)))
    return P


def symmetrize(indices, weights, n, union):
    """The symmetric CSR matrix (scipy, float32) of directed rows ``indices`` (n x k) with
    ``weights``: entry (i, j) is ``union(a, b)`` of a = w(i -> j) and b = w(j -> i), 0 where
    an edge is absent in one direction. Zeros are dropped."""
    torch = import_torch()
    rows = torch.arange(n, device=indices.device).repeat_interleave(indices.shape[1])
    return symmetrize_edges(rows, indices.reshape(-1).long(), weights.reshape(-1), n, union)


def symmetrize_edges(rows, cols, weights, n, union, *, keep_rows=None):
    """``symmetrize`` of the directed edges rows[e] -> cols[e] (each pair at most once per
    direction). ``keep_rows`` (sorted int64 tensor): only these rows of the result, as an
    m x n CSR in their order (a shard's own rows; the edges must hold every edge into
    them)."""
    torch = import_torch()
    device = rows.device
    m = rows.numel()
    # every directed edge twice: entry e < m as (i, j) carrying a, entry m + e as (j, i)
    # carrying b; written in place, so only rows, cols and the keys are alive at once
    keys = torch.empty(2 * m, dtype=torch.int64, device=device)
    torch.mul(rows, n, out=keys[:m]).add_(cols)
    torch.mul(cols, n, out=keys[m:]).add_(rows)
    del rows, cols
    keys, order = torch.sort(keys, stable=True)
    forward = order < m  # a key occurs once or twice (then its forward entry first: stable)
    values = weights[torch.where(forward, order, order - m)]
    del order
    first = torch.ones_like(keys, dtype=torch.bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = torch.nonzero(first).flatten()
    second = (starts + 1).clamp(max=len(keys) - 1)
    paired = (starts + 1 < len(keys)) & ~first[second]
    del first
    a = torch.where(forward[starts], values[starts], 0.0)
    b = torch.where(forward[starts], torch.where(paired, values[second], 0.0), values[starts])
    keys = keys[starts]
    del forward, values, starts, second, paired
    data = union(a, b)
    keep = data != 0
    keys, data = keys[keep], data[keep]
    row, col = keys // n, keys % n
    n_rows = n
    if keep_rows is not None:
        position = torch.searchsorted(keep_rows, row).clamp(max=max(len(keep_rows) - 1, 0))
        mine = keep_rows[position] == row if len(keep_rows) else torch.zeros_like(row, dtype=torch.bool)
        row, col, data, n_rows = position[mine], col[mine], data[mine], len(keep_rows)
    indptr = torch.zeros(n_rows + 1, dtype=torch.int64, device=device)
    indptr[1:] = torch.bincount(row, minlength=n_rows).cumsum(dim=0)
    P = sp.csr_matrix((to_numpy(data.float()), to_numpy(col.to(torch.int32)), to_numpy(indptr)), shape=(n_rows, n))
    P.has_sorted_indices = True
    return P


def umap_graph(indices, distances, n_neighbors, *, device):
    """UMAP's fuzzy union P = V + V^T - V o V^T of the directed membership strengths."""
    idx = as_tensor(np.asarray(indices), device)
    V = membership_strengths(as_tensor(np.asarray(distances), device), n_neighbors)
    return symmetrize(idx, V, idx.shape[0], lambda a, b: (a + b) - a * b)


def tsne_affinities(indices, distances, perplexity, *, device):
    """Symmetric tSNE affinities P = (P_cond + P_cond^T) / (2n), summing to 1."""
    idx = as_tensor(np.asarray(indices), device)
    P = symmetrize(idx, conditional_gaussian(as_tensor(np.asarray(distances), device), perplexity), idx.shape[0],
                   lambda a, b: a + b)
    P.data /= P.data.sum()
    return P.astype(np.float32)

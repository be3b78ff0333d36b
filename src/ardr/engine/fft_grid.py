"""The geometry of FIt-SNE's interpolation grid (Linderman et al. 2019), shared by the
numba and torch FFT repulsions: how many boxes, how large, the kernels sampled at the
grid's lags (Student-t, or heavy-tailed with ``dof``), and the kernel between one box's
own nodes. Plain numpy; each backend
spreads charges, convolves and gathers with its own arrays."""

import numpy as np


def geometry(lo, hi, n_interp, box_size, min_boxes, max_boxes):
    """(n_boxes, box, N, size) for a layout spanning [lo, hi] in every coordinate.

    Boxes of exactly box_size while the layout spans min_boxes..max_boxes of them (so
    the kernel's transform is reused between epochs); finer boxes for a small layout,
    coarser ones (less accurate, bounded memory) for a layout wider than max_boxes.
    N = n_boxes x n_interp nodes per side; size: the FFT length (>= 2 N, fast)."""
    import scipy.fft

    span = max(hi - lo, 1e-12)
    n_boxes = min(max_boxes, max(min_boxes, int(np.ceil(span / box_size))))
    box = span * (1 + 1e-9) / n_boxes if n_boxes in (min_boxes, max_boxes) else box_size
    N = n_boxes * n_interp
    return n_boxes, box, N, scipy.fft.next_fast_len(2 * N, real=True)


def grid_kernels(r2, dof=1.0):
    """q = (1 + r2/dof)^-dof and the repulsion's w = (1 + r2/dof)^(-dof-1) (1/(1 + r2) and its
    square at dof = 1) at squared lags r2."""
    if dof == 1.0:
        q = 1.0 / (1.0 + r2)
        return q, q * q
    base = 1.0 + r2 / dof
    return base**-dof, base ** (-dof - 1.0)


def kernels_on_lags(size, h, dof=1.0):
    """q and w at the grid's lags (node spacing h), embedded in a size x size circulant (lag
    min(m, size - m) at index m): float32, 2 x size x size."""
    m = np.arange(size)
    lags = np.minimum(m, size - m) * h
    r2 = lags[:, None] ** 2 + lags[None, :] ** 2
    return np.stack(grid_kernels(r2, dof)).astype(np.float32)


def self_kernel(p, h, dof=1.0):
    """q between the p x p interpolation nodes of one box (flat order kx * p + ky)."""
    k = np.arange(p)
    dx = (k[:, None, None, None] - k[None, None, :, None]) * h
    dy = (k[None, :, None, None] - k[None, None, None, :]) * h
    return grid_kernels(dx**2 + dy**2, dof)[0].reshape(p * p, p * p)

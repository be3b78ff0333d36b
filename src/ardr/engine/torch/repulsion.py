"""Repulsion estimators for the normalized objective on torch tensors, as
``engine/numba/repulsion.py`` defines them: each is called as ``(head, tail, a, b,
epoch, same, dof=1.0)`` and returns ``(R, Z)`` with R[i] = sum_j c(t_ij) (y_i - y_j) and
Z = sum over pairs of q(t_ij) (``dof``: the heavy-tailed kernel of ``kernels``).

- ``Exact``: all pairs, in blocks of rows (``BLOCK_PAIRS`` pairs at a time): the
  reference, and the choice for small n.
- ``Sampled``: m uniform partners per point per epoch, scaled to be unbiased (the
  ActUp/GiDR-DUN estimate); on a GPU it costs what UMAP's negative samples cost.
- ``FFT``: FIt-SNE's grid interpolation (Linderman et al. 2019) for the Student-t
  kernel (any dof) in 1 or 2 dimensions, with torch.fft. Charges reach the grid nodes through
  ``reduce.segment_sum`` (64-bit fixed point), so the grid does not depend on the
  order in which a GPU's threads add them.

Per-row sums run over the second axis of a dense block (one thread per row); Z is
summed by ``reduce.total``. Both give the same bytes on any thread count.
"""

from .. import fft_grid
from . import kernels
from .device import import_torch
from .graph import StepRandom
from .reduce import segment_sum, total

#: pairs per block of the exact sum (and of the sampled one): bounds the temporaries
BLOCK_PAIRS = 1 << 22


class Exact:
    """All pairs. Cost O(n * n_tail) per epoch."""

    name = "exact"

    def __call__(self, head, tail, a, b, epoch, same, dof=1.0):
        torch = import_torch()
        n, n_tail = head.shape[0], tail.shape[0]
        R = torch.empty_like(head)
        z = torch.empty(n, dtype=head.dtype, device=head.device)
        rows = max(1, BLOCK_PAIRS // max(n_tail, 1))
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            diffs = [head[start:stop, d, None] - tail[None, :, d] for d in range(head.shape[1])]
            t = sum(diff * diff for diff in diffs)
            c, q = kernels.push_and_q(t, a, b, dof)
            for d, diff in enumerate(diffs):
                R[start:stop, d] = (c * diff).sum(dim=1)
            z[start:stop] = q.sum(dim=1)
        Z = total(z)
        if same:
            Z -= n  # each point's q(0) = 1 with itself
        return R, Z


class Sampled:
    """m uniform partners per point per epoch, from a generator reseeded from (seed, epoch)."""

    name = "sampled"

    def __init__(self, n_samples, seed):
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self._random = None

    def __call__(self, head, tail, a, b, epoch, same, dof=1.0):
        torch = import_torch()
        if self._random is None or self._random.generator.device != head.device:
            self._random = StepRandom(self.seed, head.device)
        generator = self._random.at(epoch)
        n, n_tail, m = head.shape[0], tail.shape[0], self.n_samples
        scale = n_tail / m
        R = torch.empty_like(head)
        z = torch.empty(n, dtype=head.dtype, device=head.device)
        rows = max(1, BLOCK_PAIRS // m)
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            partners = torch.randint(n_tail, (stop - start, m), generator=generator, device=head.device)
            diff = head[start:stop, None, :] - tail.index_select(0, partners.reshape(-1)).reshape(
                stop - start, m, head.shape[1])
            c, q = kernels.push_and_q((diff * diff).sum(-1), a, b, dof)
            if same:  # a draw of the point itself adds nothing (it still counts in the scale)
                other = partners != torch.arange(start, stop, device=head.device)[:, None]
                q = torch.where(other, q, 0.0)
                c = torch.where(other, c, 0.0)
            R[start:stop] = (c[..., None] * diff).sum(dim=1) * scale
            z[start:stop] = q.sum(dim=1) * scale
        return R, total(z)


class FFT:
    """Student-t repulsion by polynomial interpolation on a regular grid and FFT convolution
    (parameters and box rules as ``engine.numba.repulsion.FFT``)."""

    name = "fft"

    def __init__(self, n_interp=3, box_size=1.0, min_boxes=50, max_boxes=500):
        self.n_interp = n_interp
        self.box_size = box_size
        self.min_boxes = min_boxes
        self.max_boxes = max_boxes
        self._cache = None

    def __call__(self, head, tail, a, b, epoch, same, dof=1.0):
        torch = import_torch()
        if a != 1.0 or b != 1.0:
            raise ValueError("FFT repulsion supports the Student-t kernel (a = b = 1) only")
        if head.shape[1] > 2:
            raise ValueError("FFT repulsion supports 1 or 2 output dimensions")
        if head.shape[1] == 1:
            # a line inside a plane, with 4x finer boxes (see the numba backend)
            fine = FFT(self.n_interp, self.box_size / 4, self.min_boxes * 4, self.max_boxes)
            pad = (lambda Y: torch.cat([Y, torch.zeros_like(Y)], dim=1))
            R, Z = fine(pad(head), pad(tail) if tail is not head else None, a, b, epoch, same, dof)
            return R[:, :1].contiguous(), Z
        tail = head if tail is None else tail
        return self._convolve(head, tail, same, float(dof))

    def _convolve(self, head, tail, same, dof=1.0):
        torch = import_torch()

        p = self.n_interp
        both = torch.cat([head, tail]) if tail is not head else head
        lo = float(both.min())
        n_boxes, box, N, size = fft_grid.geometry(lo, float(both.max()), p, self.box_size, self.min_boxes,
                                                  self.max_boxes)
        K_hat = self._kernel_transform(N, box / p, size, head.device, dof)

        # charges 1, y_x, y_y of the tail points on their box's p x p nodes
        tail64 = tail.double()
        nodes, weights = _interpolation(tail64, lo, box, n_boxes, p)
        charges = weights[..., None] * torch.cat([torch.ones_like(tail64[:, :1]), tail64], dim=1)[:, None, :]
        grid = segment_sum(charges.reshape(-1, 3), nodes.reshape(-1), N * N).T.reshape(3, N, N)
        # 2-D convolution by FFT in single precision (as the numba backend), zero padding implicit
        spectrum = torch.fft.rfft(grid.float(), n=size, dim=2)
        spectrum = torch.fft.fft(spectrum, n=size, dim=1)
        spectrum = torch.stack([spectrum[0] * K_hat[0], spectrum[0] * K_hat[1],
                                spectrum[1] * K_hat[1], spectrum[2] * K_hat[1]])
        spectrum = torch.fft.ifft(spectrum, dim=1)[:, :N]
        potentials = torch.fft.irfft(spectrum, n=size, dim=2)[:, :, :N].reshape(4, N * N)

        head64 = tail64
        if tail is not head:  # a transform: the new points read the fitted points' potentials
            head64 = head.double()
            nodes, weights = _interpolation(head64, lo, box, n_boxes, p)
        phi = (potentials[:, nodes].double() * weights[None]).sum(dim=2)  # 4 x n
        z = phi[0]
        if same:
            # each point's interaction with itself as the grid sees it
            own = torch.as_tensor(fft_grid.self_kernel(p, box / p, dof), device=head.device)
            z = z - torch.einsum("na,ab,nb->n", weights, own, weights)
        R = torch.stack([2.0 * (head64[:, 0] * phi[1] - phi[2]), 2.0 * (head64[:, 1] * phi[1] - phi[3])], dim=1)
        return R.to(head.dtype), total(z)

    def _kernel_transform(self, N, h, size, device, dof=1.0):
        """FFT of q and w (q^2 at dof = 1) sampled at grid lags, circulant-embedded in size x
        size (cached)."""
        torch = import_torch()
        key = (N, h, size, str(device), dof)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        K_hat = torch.fft.rfft2(torch.as_tensor(fft_grid.kernels_on_lags(size, h, dof), device=device), dim=(1, 2))
        self._cache = (key, K_hat)
        return K_hat


def _lagrange(y, lo, box, n_boxes, p):
    """First node of each coordinate's box and the Lagrange weights (n x p) of its p nodes
    at (k + 0.5) / p of the box."""
    torch = import_torch()
    cell = torch.floor((y - lo) / box).clamp_(0, n_boxes - 1)
    u = (y - lo) / box - cell
    L = []
    for k in range(p):
        w = torch.ones_like(u)
        for m in range(p):
            if m != k:
                w = w * ((u - (m + 0.5) / p) / ((k - m) / p))
        L.append(w)
    return cell.to(torch.int64) * p, torch.stack(L, dim=1)


def _interpolation(Y, lo, box, n_boxes, p):
    """Flat grid indices (n x p^2) of each point's nodes and their weights Lx[kx] Ly[ky]."""
    torch = import_torch()
    gx, Lx = _lagrange(Y[:, 0], lo, box, n_boxes, p)
    gy, Ly = _lagrange(Y[:, 1], lo, box, n_boxes, p)
    k = torch.arange(p, device=Y.device)
    N = n_boxes * p
    nodes = (gx[:, None, None] + k[None, :, None]) * N + (gy[:, None, None] + k[None, None, :])
    weights = Lx[:, :, None] * Ly[:, None, :]
    return nodes.reshape(len(Y), p * p), weights.reshape(len(Y), p * p)

"""The torch kernels of the strain law (``ardr.engine.strain``), as ``engine/numba/gram.py``:

- ``FeatureGram``: K = Zc Zc^T for centred features, used through products only.
- ``DenseGram``: K = B, a dense symmetric double-centred n x n matrix.

All products run in float64 (the data is copied to the device once, as float64), so
PCA by forces reaches the SVD's answer to float64 precision. Products take a tensor
and give a tensor; given a numpy array (power iteration, the fitted map) they give one
back.
"""

import numpy as np

from .device import as_tensor, import_torch, to_numpy
from .graph import StepRandom
from .repulsion import BLOCK_PAIRS


def _mirrors_input(method):
    """Let a product take numpy (and return numpy) as well as tensors."""

    def wrapper(self, Y, *args):
        if isinstance(Y, np.ndarray):
            return to_numpy(method(self, as_tensor(Y, self.device, self.dtype), *args))
        return method(self, Y, *args)

    wrapper.__doc__ = method.__doc__
    return wrapper


class FeatureGram:
    """K = Zc Zc^T with Zc = X - mean (rows = points), never formed."""

    def __init__(self, X, mean=None, *, device="cpu"):
        torch = import_torch()
        X = np.asarray(X)
        self.dtype = torch.float64
        self.device = device
        self.X_host = X
        self.n, self.n_features = X.shape
        self.mean = X.mean(axis=0, dtype=np.float64) if mean is None else np.asarray(mean, dtype=np.float64)
        self.X = as_tensor(np.ascontiguousarray(X), device, torch.float64)
        self._mean = as_tensor(self.mean, device, torch.float64)
        self._squared_norm = None
        self._random = None

    @_mirrors_input
    def transpose_product(self, Y):
        """Zc^T Y (n_features x d)."""
        return self.X.T @ Y - self._mean[:, None] * Y.sum(dim=0)[None, :]

    @_mirrors_input
    def matmul(self, Y):
        """K Y = Zc (Zc^T Y)."""
        P = self.transpose_product(Y)
        return self.X @ P - (self._mean @ P)[None, :]

    def centred(self, rows=slice(None)):
        """Rows of Zc as float64 (numpy)."""
        return self.X_host[rows].astype(np.float64) - self.mean

    def squared_norm(self):
        """||K||_F^2 = ||Zc^T Zc||_F^2, summed over row blocks in float64; computed once."""
        if self._squared_norm is None:
            step = max(1, 4_000_000 // max(self.n_features, 1))
            small = None
            for s in range(0, self.n, step):
                block = self.X[s:s + step] - self._mean
                part = block.T @ block
                small = part if small is None else small + part
            self._squared_norm = float((small * small).sum())
        return self._squared_norm

    def centred_sum_of_squares(self):
        """||Zc||_F^2 = trace(K), in float64 (PCA's total variance times n - 1)."""
        return float(((self.X - self._mean) ** 2).sum())

    def sampled(self, Y, Yc, m, seed, epoch, out):
        """out[i] = 4 (n / m) sum over m drawn j of (zc_i . zc_j - yc_i . yc_j)(y_j - y_i);
        returns each row's sampled estimate of sum_j (K_ij - yc_i . yc_j)^2."""
        return _sampled(self, Y, Yc, m, seed, epoch, out,
                        lambda rows, partners: ((self.X[rows] - self._mean)[:, None, :]
                                                * (self.X[partners] - self._mean)).sum(-1))


class DenseGram:
    """K = B, a dense symmetric double-centred n x n matrix (float64 on the device)."""

    def __init__(self, B, *, device="cpu"):
        torch = import_torch()
        self.dtype = torch.float64
        self.device = device
        self.B = as_tensor(np.ascontiguousarray(B, dtype=np.float64), device, torch.float64)
        self.n = self.B.shape[0]
        self._squared_norm = None
        self._random = None

    @_mirrors_input
    def matmul(self, Y):
        return self.B @ Y

    def squared_norm(self):
        if self._squared_norm is None:
            self._squared_norm = float((self.B * self.B).sum())
        return self._squared_norm

    def sampled(self, Y, Yc, m, seed, epoch, out):
        return _sampled(self, Y, Yc, m, seed, epoch, out,
                        lambda rows, partners: self.B[rows[:, None], partners])


def _sampled(kernel, Y, Yc, m, seed, epoch, out, entries):
    """The sampled strain direction into ``out``, with K_ij from ``entries(rows, partners)``."""
    torch = import_torch()
    if kernel._random is None:
        kernel._random = StepRandom(seed, Y.device)
    generator = kernel._random.at(epoch)
    n = Y.shape[0]
    scale = n / m
    objective = torch.empty(n, dtype=Y.dtype, device=Y.device)
    rows_per_block = max(1, BLOCK_PAIRS // (m * max(1, getattr(kernel, "n_features", 1))))
    for start in range(0, n, rows_per_block):
        rows = torch.arange(start, min(n, start + rows_per_block), device=Y.device)
        partners = torch.randint(n, (len(rows), m), generator=generator, device=Y.device)
        w = entries(rows, partners) - (Yc[rows][:, None, :] * Yc[partners]).sum(-1)
        out[rows] = 4.0 * scale * (w[..., None] * (Y[partners] - Y[rows][:, None, :])).sum(dim=1)
        objective[rows] = scale * (w * w).sum(dim=1)
    return objective

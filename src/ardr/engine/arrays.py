"""The few array operations the backend-neutral engine code needs, for numpy arrays and
torch tensors alike, so that the one optimizer and the strain law are written once.

``namespace(x)`` returns ``NUMPY`` for an ndarray and ``TORCH`` for a tensor. torch is
never imported here: a tensor's own module supplies the functions, so ``import ardr``
(and the numba backend) never loads torch.
"""

import numpy as np


class _Numpy:
    name = "numpy"
    zeros_like = staticmethod(np.zeros_like)
    ones_like = staticmethod(np.ones_like)
    sign = staticmethod(np.sign)
    where = staticmethod(np.where)
    einsum = staticmethod(np.einsum)
    sqrt = staticmethod(np.sqrt)

    @staticmethod
    def all_finite(x):
        return bool(np.isfinite(x).all())

    @staticmethod
    def at_least(x, floor):
        """max(x, floor) elementwise, in place."""
        return np.maximum(x, floor, out=x)

    @staticmethod
    def at_most(x, ceiling):
        return np.minimum(x, ceiling)

    @staticmethod
    def column_means(x):
        return x.mean(axis=0)

    @staticmethod
    def copy(x):
        return x.copy()

    @staticmethod
    def to_numpy(x):
        return x

    @staticmethod
    def plain_step(Y, F, step, lr, max_norm, rows=None):
        """One pass of ``numba.step.plain_step`` (compiled, cached on first use), on ``rows``
        only when the force law names them. Only numpy has it: tensors take the
        optimizer's general step, whose arithmetic it repeats."""
        from .numba.step import plain_step

        return plain_step(Y, F, step, float(lr), -1.0 if max_norm is None else float(max_norm), rows)

    @staticmethod
    def momentum_step(Y, F, step, gains, lr, mu, min_gain, max_norm):
        """``numba.step.momentum_step``: the optimizer's momentum-and-gains step in one
        compiled pass."""
        from .numba.step import momentum_step

        return momentum_step(Y, F, step, gains, float(lr), float(mu), float(min_gain),
                             -1.0 if max_norm is None else float(max_norm))


class _Torch:
    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch
        self.zeros_like = torch.zeros_like
        self.ones_like = torch.ones_like
        self.sign = torch.sign
        self.einsum = torch.einsum
        self.sqrt = torch.sqrt

    def where(self, condition, x, y):
        return self.torch.where(condition, x, y)

    def all_finite(self, x):
        return bool(self.torch.isfinite(x).all())

    @staticmethod
    def at_least(x, floor):
        return x.clamp_(min=floor)

    @staticmethod
    def at_most(x, ceiling):
        return x.clamp(max=ceiling)

    @staticmethod
    def column_means(x):
        return x.mean(dim=0)

    @staticmethod
    def copy(x):
        return x.clone()

    @staticmethod
    def to_numpy(x):
        return x.detach().cpu().numpy()


NUMPY = _Numpy()
_TORCH = []


def namespace(x):
    """The operations for x's kind of array."""
    if isinstance(x, np.ndarray):
        return NUMPY
    if type(x).__module__.startswith("torch"):
        if not _TORCH:
            _TORCH.append(_Torch())
        return _TORCH[0]
    raise TypeError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")

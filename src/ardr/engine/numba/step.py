"""The optimizer's plain step (no momentum, no gains: UMAP's) fused into one pass.

UMAP takes many small steps (several per epoch, each touching a few edges per point);
as separate numpy operations (finite check, scale, norms, cap, add) a step cost ~3 ms
at 100,000 points whatever its edges, more than the forces themselves. The arithmetic
is the numpy sequence's, in the same order, so the bytes are the same.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def plain_step(Y, F, step, lr, max_norm):
    """step = lr * F with each row's length capped at ``max_norm`` (<= 0: no cap); Y += step.
    Returns False, leaving Y and step untouched, when F holds a non-finite value."""
    n, dim = F.shape
    for i in range(n):
        for d in range(dim):
            if not np.isfinite(F[i, d]):
                return False
    for i in range(n):
        norm2 = 0.0
        for d in range(dim):
            s = F[i, d] * lr
            step[i, d] = s
            norm2 += s * s
        if max_norm > 0.0:
            factor = min(max_norm / max(np.sqrt(norm2), 1e-300), 1.0)
            for d in range(dim):
                step[i, d] *= factor
        for d in range(dim):
            Y[i, d] += step[i, d]
    return True

"""The optimizer's plain step (no momentum, no gains: UMAP's) fused into one pass.

UMAP takes many small steps (several per epoch, each touching a few edges per point);
as separate numpy operations (finite check, scale, norms, cap, add) a step cost ~3 ms
at 100,000 points whatever its edges, more than the forces themselves. The arithmetic
is the numpy sequence's, in the same order, so the bytes are the same.
"""

import numba
import numpy as np

from .variants import serial_and_parallel

# The pass is memory-bound and light (70,000 rows: ~0.1 ms): below a million rows a
# parallel launch per step costs more than it saves, most of all on a busy machine,
# where each launch waits for a descheduled thread.
PARALLEL_MIN_ROWS = 1_000_000


def _plain_step(Y, F, step, lr, max_norm):
    """step = lr * F with each row's length capped at ``max_norm`` (<= 0: no cap); Y += step.
    Returns False, leaving Y and step untouched, when F holds a non-finite value. Each
    row is its own: the same bytes on any number of threads."""
    n, dim = F.shape
    bad = 0
    for i in numba.prange(n):
        for d in range(dim):
            if not np.isfinite(F[i, d]):
                bad += 1
    if bad:
        return False
    for i in numba.prange(n):
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


_serial, _parallel = serial_and_parallel(_plain_step)


def plain_step(Y, F, step, lr, max_norm):
    return (_parallel if Y.shape[0] >= PARALLEL_MIN_ROWS else _serial)(Y, F, step, lr, max_norm)

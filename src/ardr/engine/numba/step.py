"""The optimizer's steps as compiled passes: the plain one (no momentum, no gains: UMAP's)
and tSNE's (momentum and delta-bar-delta gains).

UMAP takes many small steps (several per epoch, each touching a few edges per point);
as separate numpy operations (finite check, scale, norms, cap, add) a step cost ~3 ms
at 100,000 points whatever its edges, more than the forces themselves. tSNE's step as
a dozen numpy passes cost 13 ms an iteration at 400,000 points. The arithmetic is the
numpy sequence's (``optimize._momentum_step``), in the same order.
"""

import numba
import numpy as np

from .variants import serial_and_parallel

# The pass is memory-bound and light (70,000 rows: ~0.1 ms): below a million rows a
# parallel launch per step costs more than it saves, most of all on a busy machine,
# where each launch waits for a descheduled thread.
PARALLEL_MIN_ROWS = 1_000_000


def _finite(F, rows, counts, chunk):
    """Whether F is finite on the listed rows (``graph.MovingRows``: chunk c's rows are
    rows[c * chunk:][:counts[c]]; rows None: all rows)."""
    bad = 0
    if rows is None:
        for i in numba.prange(F.shape[0]):
            bad += not _finite_row(F, i)
    else:
        for c in numba.prange(counts.shape[0]):
            for r in range(counts[c]):
                bad += not _finite_row(F, rows[c * chunk + r])
    return bad == 0


def _move(Y, F, step, lr, max_norm, rows, counts, chunk):
    """step = lr * F with each row's length capped at ``max_norm`` (<= 0: no cap); Y += step,
    on the listed rows (as ``_finite``). Each row is its own: the same bytes on any number
    of threads."""
    if rows is None:
        for i in numba.prange(F.shape[0]):
            _move_row(Y, F, step, i, lr, max_norm)
    else:
        for c in numba.prange(counts.shape[0]):
            for r in range(counts[c]):
                _move_row(Y, F, step, rows[c * chunk + r], lr, max_norm)


@numba.njit(inline="always", cache=True)
def _finite_row(F, i):
    ok = True
    for d in range(F.shape[1]):
        ok &= np.isfinite(F[i, d])
    return ok


@numba.njit(inline="always", cache=True)
def _move_row(Y, F, step, i, lr, max_norm):
    dim = F.shape[1]
    norm2 = 0.0
    for d in range(dim):
        s = F[i, d] * lr
        step[i, d] = s
        norm2 += s * s
    _cap_and_move(Y, step, i, norm2, max_norm)


@numba.njit(inline="always", cache=True)
def _cap_and_move(Y, step, i, norm2, max_norm):
    """Row i's step (squared length norm2) scaled to at most ``max_norm`` (<= 0: no cap);
    Y[i] += step[i]."""
    dim = step.shape[1]  # read once: a store may alias the shape for all LLVM knows
    if max_norm > 0.0:
        factor = min(max_norm / max(np.sqrt(norm2), 1e-300), 1.0)
        for d in range(dim):
            step[i, d] *= factor
    for d in range(dim):
        Y[i, d] += step[i, d]


# checked apart from the move: one function doing both ran the move 4x slower (the
# reduction's loop kept LLVM from optimizing the other)
_FINITE = serial_and_parallel(_finite)
_MOVE = serial_and_parallel(_move)


def plain_step(Y, F, step, lr, max_norm, rows=None):
    """One move, or False (nothing moved) when F is not finite; ``rows`` (a
    ``graph.MovingRows``, or None: all) limits it to the rows F may be nonzero on. Rows
    off the list keep Y and a stale ``step``."""
    parallel = Y.shape[0] >= PARALLEL_MIN_ROWS
    listed = (None, None, 0) if rows is None else (rows.rows, rows.counts, rows.chunk)
    if not _FINITE[parallel](F, *listed):
        return False
    _MOVE[parallel](Y, F, step, lr, max_norm, *listed)
    return True


def _momentum_move(Y, F, step, gains, lr, mu, min_gain, max_norm):
    """``optimize._momentum_step`` row by row: gains +0.2 where F keeps the sign of the
    step, x0.8 where it flips (floor ``min_gain``); step = mu * step + lr * gains * F,
    capped at ``max_norm`` (<= 0: no cap); Y += step."""
    for i in numba.prange(F.shape[0]):
        dim = F.shape[1]
        norm2 = 0.0
        for d in range(dim):
            g = gains[i, d] + 0.2 if np.sign(F[i, d]) == np.sign(step[i, d]) else gains[i, d] * 0.8
            g = max(g, min_gain)
            gains[i, d] = g
            s = step[i, d] * mu + lr * (g * F[i, d])
            step[i, d] = s
            norm2 += s * s
        _cap_and_move(Y, step, i, norm2, max_norm)


_MOMENTUM_MOVE = serial_and_parallel(_momentum_move)
# one pass per iteration (not UMAP's 32 per epoch): a parallel launch pays from here
MOMENTUM_PARALLEL_MIN_ROWS = 50_000


def momentum_step(Y, F, step, gains, lr, mu, min_gain, max_norm):
    """tSNE's move, or False (nothing moved) when F is not finite."""
    parallel = Y.shape[0] >= MOMENTUM_PARALLEL_MIN_ROWS
    if not _FINITE[parallel](F, None, None, 0):
        return False
    _MOMENTUM_MOVE[parallel](Y, F, step, gains, lr, mu, min_gain, max_norm)
    return True

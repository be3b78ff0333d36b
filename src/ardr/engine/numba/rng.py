"""Counter-based random numbers: the value depends only on (seed, epoch, point, draw).

A parallel loop over points then draws the same numbers whatever thread runs a point,
so the same seed gives the same bytes on 1 thread and on many. The mixer is
SplitMix64's finalizer applied to a combined key.
"""

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@numba.njit(inline="always", cache=True)
def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always", cache=True)
def stream_key(seed, epoch, point):
    """A 64-bit key for the stream of draws of one point in one epoch."""
    k = mix64(np.uint64(seed) + _GOLDEN)
    k = mix64(k ^ (np.uint64(epoch) * _GOLDEN + np.uint64(0x632BE59BD9B4E019)))
    return mix64(k ^ (np.uint64(point) * _M1 + _GOLDEN))


@numba.njit(inline="always", cache=True)
def draw_index(key, counter, n):
    """The counter-th integer in [0, n) of the stream: the top 32 random bits scaled to
    [0, n) by a multiply and a shift (Lemire), no division; bias below n / 2^32."""
    h = mix64(key + np.uint64(counter) * _GOLDEN)
    if n < 4294967296:
        return np.int64(((h >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))
    return np.int64(h % np.uint64(n))


@numba.njit(inline="always", cache=True)
def draw_uniform(key, counter):
    """The counter-th float in [0, 1) of the stream (53 random bits)."""
    return (mix64(key + np.uint64(counter) * _GOLDEN) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(parallel=True, cache=True)
def _fold_rows(words):
    n, m = words.shape
    out = np.empty(n, dtype=np.uint64)
    for i in numba.prange(n):
        h = np.uint64(m) * _GOLDEN
        for j in range(m):
            h = mix64(h ^ (np.uint64(words[i, j]) + _M2))
        out[i] = h
    return out


def row_keys(X):
    """A 64-bit key per row from its bytes: equal rows get equal keys, so a point's
    random stream can follow the point itself, not its position in a batch."""
    X = np.ascontiguousarray(X)
    words = X.view(np.uint8).reshape(X.shape[0], -1)
    if words.shape[1] % 4 == 0:
        words = words.view(np.uint32)
    return _fold_rows(words)

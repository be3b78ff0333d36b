"""Neighbour-of-neighbour refinement of an approximate kNN graph (deterministic
NN-descent rounds), in any metric of ``distances.metric_distance``.

A neighbour of a neighbour is likely a neighbour (Dong, Charikar & Li 2011). One round
offers each point i the forward and reverse neighbours of its forward and reverse
neighbours (the first ``fan`` of each list) and keeps the k nearest it has seen.
Only pairs that can be new are offered: through an edge (i, u) that entered the graph
in the previous round every neighbour of u; through an older edge only u's new
neighbours.

Race-free and so deterministic on any thread count: a round reads the previous graph
and writes a new one, each point writing only its own row. Reverse lists keep, for
each point, the first ``fan`` points that list it, taken by rank, then by index.
"""

import numba
import numpy as np

from .distances import metric_distance
from ._heaps import before, replace_top, sort_one_row


@numba.njit(cache=True)
def reverse_lists(indices, fan):
    """For each point, up to ``fan`` points that list it among their first ``fan``
    neighbours, nearest rank first, then lowest index: (lists n x fan, -1 padded;
    the rank at which each lists it)."""
    n, k = indices.shape
    reverse = np.full((n, fan), -1, dtype=np.int32)
    rank = np.zeros((n, fan), dtype=np.int32)
    count = np.zeros(n, dtype=np.int32)
    for s in range(min(k, fan)):
        for i in range(n):
            j = indices[i, s]
            c = count[j]
            if c < fan:
                reverse[j, c] = i
                rank[j, c] = s
                count[j] = c + 1
    return reverse, rank


# rows per block of a round: its offers take 4 fan^2 int32 + float32 per row
_BLOCK_ROWS = 8192


@numba.njit(parallel=True, cache=True)
def _offers(indices, is_new, reverse, reverse_rank, fan, first, stop):
    """The pairs a round offers rows first..stop-1: for each row, the sorted distinct
    candidates (not the row itself, not already its neighbours), -1 padded."""
    n, k = indices.shape
    out = np.full((stop - first, 4 * fan * fan), -1, dtype=np.int32)
    for r in numba.prange(stop - first):
        i = first + r
        buf = np.empty(4 * fan * fan, dtype=np.int32)
        m = 0
        for side in range(2):
            for a in range(fan):
                if side == 0:
                    u = indices[i, a]
                    u_new = is_new[i, a]
                else:
                    u = reverse[i, a]
                    if u < 0:
                        break
                    u_new = is_new[u, reverse_rank[i, a]]
                for b in range(fan):
                    v = indices[u, b]
                    if u_new or is_new[u, b]:
                        buf[m] = v
                        m += 1
                for b in range(fan):
                    v = reverse[u, b]
                    if v < 0:
                        break
                    if u_new or is_new[v, reverse_rank[u, b]]:
                        buf[m] = v
                        m += 1
        cand = np.sort(buf[:m])
        mine = np.sort(indices[i])
        mine_at = 0
        last = -1
        kept = 0
        for c in range(m):
            v = cand[c]
            if v == last or v == i:
                continue
            last = v
            while mine_at < k and mine[mine_at] < v:
                mine_at += 1
            if mine_at < k and mine[mine_at] == v:
                continue
            out[r, kept] = v
            kept += 1
    return out


@numba.njit(parallel=True, cache=True)
def offer_distances(X, offers, first, code, p):
    """The metric from row first + r to each of its offers (the round's only use of the
    metric: a user's function is compiled into this small kernel alone)."""
    keys = np.full(offers.shape, np.inf, dtype=np.float32)
    for r in numba.prange(offers.shape[0]):
        for c in range(offers.shape[1]):
            v = offers[r, c]
            if v < 0:
                break
            keys[r, c] = metric_distance(X[first + r], X[v], code, p)
    return keys


@numba.njit(parallel=True, cache=True)
def _merge(indices, keys, offers, offer_keys, first, out_idx, out_key, out_new, changes):
    """Rows first..: the k nearest of the old row and its offers (offered in ascending
    index order, as a heap), written ascending by (key, index)."""
    k = indices.shape[1]
    for r in numba.prange(offers.shape[0]):
        i = first + r
        # the row as a max-heap: ascending order reversed
        h_key = keys[i, ::-1].copy()
        h_idx = indices[i, ::-1].copy()
        mine = np.sort(indices[i])
        top_key, top_idx = h_key[0], h_idx[0]
        for c in range(offers.shape[1]):
            v = offers[r, c]
            if v < 0:
                break
            key = offer_keys[r, c]
            if before(key, v, top_key, top_idx):
                replace_top(h_key, h_idx, key, v)
                top_key, top_idx = h_key[0], h_idx[0]
                changes[i] += 1
        sort_one_row(h_key, h_idx)  # back to ascending (key, index) order
        for s in range(k):
            out_idx[i, s] = h_idx[s]
            out_key[i, s] = h_key[s]
            # new: not in the old row (the candidates offered excluded its members)
            at = np.searchsorted(mine, out_idx[i, s])
            out_new[i, s] = at >= k or mine[at] != out_idx[i, s]


def refine_round(X, indices, keys, is_new, fan, code, p, distances=offer_distances):
    """One round on the graph (indices, distances ``keys`` in the metric ``code``, rows
    sorted ascending; ``is_new`` marks entries added by the previous round). Returns the
    new (indices, keys, is_new), rows sorted by (key, index), and the number of changes.
    Offers, their distances (``distances``: the kernel that evaluates the metric) and the
    merge run by blocks of rows."""
    n, k = indices.shape
    fan = min(fan, k)
    reverse, reverse_rank = reverse_lists(indices, fan)
    out_idx = np.empty_like(indices)
    out_key = np.empty_like(keys)
    out_new = np.zeros((n, k), dtype=np.bool_)
    changes = np.zeros(n, dtype=np.int64)
    for first in range(0, n, _BLOCK_ROWS):
        stop = min(n, first + _BLOCK_ROWS)
        offers = _offers(indices, is_new, reverse, reverse_rank, fan, first, stop)
        offer_keys = distances(X, offers, first, code, p)
        _merge(indices, keys, offers, offer_keys, first, out_idx, out_key, out_new, changes)
    return out_idx, out_key, out_new, int(changes.sum())


def refine(X, indices, keys, *, code, p, fan, rounds, min_changes=0.0, distances=offer_distances):
    """Up to ``rounds`` rounds (fewer once a round changes at most ``min_changes`` x n x k
    entries); ``distances``: ``offer_distances``, or its copy compiled around a user's metric."""
    is_new = np.ones(indices.shape, dtype=np.bool_)
    for _ in range(rounds):
        indices, keys, is_new, changed = refine_round(X, indices, keys, is_new, fan, code, p, distances)
        if changed <= min_changes * indices.size:
            break
    return indices, keys

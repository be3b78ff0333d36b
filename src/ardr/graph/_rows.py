"""Row-wise ordering shared by the neighbour searches."""

import numpy as np


def sort_rows(values, ids):
    """Row-wise order by value, ties broken by index, so results are reproducible."""
    order = np.argsort(ids, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    return np.take_along_axis(order, np.argsort(v, axis=1, kind="stable"), axis=1)


def smallest(key, k):
    """The k smallest entries of each row of a dense block: (columns int32, keys), sorted by
    (key, column); where entries tie with the k-th, the lowest columns, so the k smallest
    are always a prefix of the k + 1 smallest."""
    part = np.argpartition(key, k - 1, axis=1)[:, :k]
    part_key = np.take_along_axis(key, part, axis=1)
    kth = part_key.max(axis=1)
    for r in np.flatnonzero((key <= kth[:, None]).sum(axis=1) > k):
        candidates = np.flatnonzero(key[r] <= kth[r])
        keep = candidates[np.lexsort((candidates, key[r, candidates]))][:k]
        part[r] = keep
        part_key[r] = key[r, keep]
    order = sort_rows(part_key, part)
    return np.take_along_axis(part, order, axis=1).astype(np.int32), np.take_along_axis(part_key, order, axis=1)

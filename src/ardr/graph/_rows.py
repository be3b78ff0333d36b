"""Row-wise ordering shared by the neighbour searches."""

import numpy as np


def sort_rows(values, ids):
    """Row-wise order by value, ties broken by index, so results are reproducible."""
    order = np.argsort(ids, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    return np.take_along_axis(order, np.argsort(v, axis=1, kind="stable"), axis=1)

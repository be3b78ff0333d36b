"""Row-wise ordering on tensors, as ``graph/_rows.py``: ties broken by index."""

from ...engine.torch.device import import_torch

#: selections keep this many more than k before ordering by (value, index), so that
#: points tied with the k-th go to the lowest indices (as the numba backend's searches)
#: unless more than TIE_MARGIN of them tie
TIE_MARGIN = 8


def sort_rows(values, ids):
    """Row-wise order by value, ties broken by index (two stable sorts)."""
    torch = import_torch()
    order = torch.argsort(ids, dim=-1, stable=True)
    v = values.gather(-1, order)
    return order.gather(-1, torch.argsort(v, dim=-1, stable=True))


def take_sorted(values, ids):
    """(ids, values) of each row in (value, id) order."""
    order = sort_rows(values, ids)
    return ids.gather(-1, order), values.gather(-1, order)

"""Sums whose bytes do not depend on the order of additions.

Float addition is not associative: atomics (``index_add_``, ``scatter_add_`` on CUDA)
add in whatever order threads arrive, and torch's CPU reductions to one number split
the work by thread count (measured: a float32 sum of 3,000,000 values differs between 1
and 8 threads). Two tools avoid both:

- ``segment_sum``: rows of values summed per segment as 64-bit fixed-point integers.
  Integer addition is associative, so atomics may add in any order and the result is
  the same; the scale 2^s is the largest that cannot overflow (s from the largest
  |value| and the number of rows, both exact), which leaves a resolution of
  rows x max|value| / 2^62 (1e-10 relative for 10^8 rows).
- ``total``: one float64 number, summed in fixed blocks of ``BLOCK`` values (each block
  summed by one thread), then over the block sums, recursively.
"""

import math

from .device import import_torch

BLOCK = 4096


def segment_sum(values, segment, n_segments):
    """out[s] = sum of values[i] over i with segment[i] == s; values (m, c) or (m,),
    returned in float64."""
    torch = import_torch()
    flat = values.reshape(values.shape[0], -1).double()
    out_shape = (n_segments,) + tuple(values.shape[1:])
    if flat.numel() == 0:
        return torch.zeros(out_shape, dtype=torch.float64, device=values.device)
    biggest = float(flat.abs().max())
    if not math.isfinite(biggest):
        raise FloatingPointError("segment_sum of non-finite values")
    if biggest == 0.0:
        return torch.zeros(out_shape, dtype=torch.float64, device=values.device)
    # |any partial sum| <= rows x biggest x 2^s < 2^62
    exponent = 62 - math.frexp(flat.shape[0] * biggest)[1]
    scale = math.ldexp(1.0, exponent)
    fixed = torch.round(flat * scale).to(torch.int64)
    acc = torch.zeros((n_segments, flat.shape[1]), dtype=torch.int64, device=values.device)
    acc.index_add_(0, segment.to(torch.int64), fixed)
    return (acc.double() / scale).reshape(out_shape)


def total(x):
    """The sum of all entries of x as a Python float (float64), in a fixed order."""
    torch = import_torch()
    x = x.reshape(-1).double()
    while x.numel() > BLOCK:
        pad = (-x.numel()) % BLOCK
        if pad:
            x = torch.cat([x, x.new_zeros(pad)])
        x = x.view(-1, BLOCK).sum(dim=1)
    return float(x.sum())

"""Points the picture flings out, and the frame a figure should show.

A point is **flung out** when it lies beyond ``FLUNG`` times the picture's 99th-percentile
radius from the picture's median centre while it is *not* such an outlier in the input
(same rule there): the picture put it far from everything although the input keeps it
with the others. A point that is far out in both is drawn faithfully and not counted.
"""

import numpy as np

FLUNG = 3.0
QUANTILE = 99.0


def _far_out(A, factor=FLUNG, block=16384):
    centre = np.median(A, axis=0).astype(np.float64)
    radius = np.empty(A.shape[0])
    for s in range(0, A.shape[0], block):
        diff = np.asarray(A[s:s + block], dtype=np.float64) - centre
        radius[s:s + block] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    limit = factor * np.percentile(radius, QUANTILE)
    return radius > limit, radius / max(np.percentile(radius, QUANTILE), np.finfo(float).tiny)


def flung_out(X, Y):
    """(mask of flung-out points, their distance from the centre in 99th-percentile radii)."""
    far_y, scaled = _far_out(Y)
    far_x, _ = _far_out(X)
    return far_y & ~far_x, scaled


def frame(Y, margin=0.05, quantiles=(0.5, 99.5)):
    """Axis limits ((x0, x1), (y0, y1)) that hold the body of the picture: the 0.5-99.5%
    quantiles of each coordinate plus a margin, so a few flung points do not shrink it
    to a dot. Returns the limits and the number of points outside them."""
    Y2 = Y[:, :2] if Y.shape[1] >= 2 else np.hstack([Y, np.zeros_like(Y)])
    lo, hi = np.percentile(Y2, quantiles, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    outside = int(np.sum(((Y2 < lo) | (Y2 > hi)).any(axis=1)))
    return ((lo[0], hi[0]), (lo[1], hi[1])), outside

"""Output kernels q(d) and the force coefficients they induce.

All methods of the graph family use q(d) = 1 / (1 + a d^{2b}): UMAP fits a, b to
``min_dist`` and ``spread``; tSNE's Student-t kernel is a = b = 1. The normalized
objective also takes the heavy-tailed family q = (1 + a d^{2b} / dof)^(-dof) (Kobak
et al. 2019; openTSNE's ``dof``): dof = 1 is the kernel above, dof < 1 has heavier
tails, dof -> infinity tends to exp(-a d^{2b}). Coefficients are written in terms of
the squared distance t = d^2 and multiply (y_j - y_i).

The coefficients are branch-free (a select, not an ``if``, guards t = 0) and use
``fast_pow``, so the loops that call them vectorize; compile callers with
``error_model="numpy"``.
"""

import numba
import numpy as np

from .fastmath import fast_pow

REPULSION_EPS = 0.001  # UMAP's guard against division by zero in the repulsion


def fit_ab(spread=1.0, min_dist=0.1):
    """Least-squares a, b with 1/(1 + a d^{2b}) ~ 1 below min_dist, exp(-(d - min_dist)/spread) beyond."""
    from scipy.optimize import curve_fit

    if spread <= 0:
        raise ValueError(f"spread must be > 0, got {spread}")
    if not 0 <= min_dist <= spread:
        raise ValueError(f"min_dist must lie in [0, spread={spread}], got {min_dist}")
    x = np.linspace(0, spread * 3, 300)
    y = np.where(x < min_dist, 1.0, np.exp(-(x - min_dist) / spread))
    (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), x, y)
    return float(a), float(b)


@numba.njit(inline="always", cache=True, error_model="numpy")
def q_of_t(t, a, b):
    """Output similarity from squared distance."""
    return 1.0 / (1.0 + a * fast_pow(t, b))


@numba.njit(inline="always", cache=True, error_model="numpy")
def attraction_coefficient(t, a, b):
    """-d/dt' of log q at t = d^2, times 2: the pull along (y_j - y_i) per unit input weight."""
    tb = fast_pow(t, b)  # one power per pair: t^(b-1) = t^b / t
    c = 2.0 * a * b * tb / (t * (1.0 + a * tb))
    return c if t > 0.0 else 0.0


@numba.njit(inline="always", cache=True, error_model="numpy")
def student_t_attraction_coefficient(t):
    """attraction_coefficient for a = b = 1 (tSNE's kernel), without a power: 2 / (1 + t)."""
    return 2.0 / (1.0 + t)


@numba.njit(inline="always", cache=True, error_model="numpy")
def umap_repulsion_coefficient(t, a, b, gamma=1.0):
    """d/dy of -log(1 - q), times gamma (umap-learn's repulsion_strength): UMAP's push
    away from a negative sample (with its eps guard)."""
    c = 2.0 * gamma * b / ((REPULSION_EPS + t) * (1.0 + a * fast_pow(t, b)))
    return c if t > 0.0 else 0.0


@numba.njit(inline="always", cache=True, error_model="numpy")
def normalized_repulsion_coefficient(t, a, b):
    """-dq/dt times 2 (unnormalized): the push of one pair in the normalized (tSNE) objective,
    to be divided by Z = sum q. Equals 2 q^2 for the Student-t kernel a = b = 1."""
    tb = fast_pow(t, b)
    q = 1.0 / (1.0 + a * tb)
    c = 2.0 * a * b * (tb / t) * q * q
    at_zero = 2.0 * a * b if b == 1.0 else 0.0
    return c if t > 0.0 else at_zero


@numba.njit(inline="always", cache=True, error_model="numpy")
def heavy_tailed_q(t, a, b, dof):
    """q = (1 + a t^b / dof)^(-dof); equals q_of_t at dof = 1."""
    return fast_pow(1.0 + a * fast_pow(t, b) / dof, -dof)


@numba.njit(inline="always", cache=True, error_model="numpy")
def heavy_tailed_attraction_coefficient(t, a, b, dof):
    """-d log q / dt times 2 = 2 a b t^(b-1) / (1 + a t^b / dof); attraction_coefficient at dof = 1.
    For a = b = 1 it is 2 / (1 + t / dof), no power needed."""
    if a == 1.0 and b == 1.0:
        return 2.0 / (1.0 + t / dof)
    tb = fast_pow(t, b)
    c = 2.0 * a * b * tb / (t * (1.0 + a * tb / dof))
    return c if t > 0.0 else 0.0


@numba.njit(inline="always", cache=True, error_model="numpy")
def heavy_tailed_repulsion_coefficient(t, a, b, dof):
    """-dq/dt times 2 = 2 a b t^(b-1) (1 + a t^b / dof)^(-dof-1), to be divided by Z;
    normalized_repulsion_coefficient at dof = 1 (2 q^2 for a = b = 1)."""
    tb = fast_pow(t, b)
    w = fast_pow(1.0 + a * tb / dof, -dof - 1.0)
    c = 2.0 * a * b * (tb / t) * w
    at_zero = 2.0 * a * b if b == 1.0 else 0.0
    return c if t > 0.0 else at_zero


@numba.njit(inline="always", cache=True)
def squared_distance(A, i, B, j):
    """|A[i] - B[j]|^2 for two rows."""
    t = 0.0
    for d in range(A.shape[1]):
        diff = A[i, d] - B[j, d]
        t += diff * diff
    return t


@numba.njit(inline="always", cache=True)
def clip(value, limit):
    return min(max(value, -limit), limit)

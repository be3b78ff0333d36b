"""The output kernel q(t) = 1 / (1 + a t^b) on squared distances t, its heavy-tailed
family (1 + a t^b / dof)^-dof for the normalized objective, and their force
coefficients, as ``engine/numba/kernels.py`` defines them (same formulas, elementwise on
tensors). Every coefficient is 0 where t = 0 (a pair at one place has no direction).

Powers are exp(b log t): torch's float32 ``pow`` on the CPU gives different last bits in
its vectorized and scalar code paths, whose split moves with the thread count
(measured), while its exp and log agree in both.
"""

from ..numba.kernels import REPULSION_EPS  # noqa: F401  (one constant, both backends)

from .device import import_torch


def power(t, b):
    """t^b for t >= 0 (0^b = 0 for b > 0)."""
    torch = import_torch()
    return t if b == 1.0 else torch.exp(b * torch.log(t))


def attraction_coefficient(t, a, b, dof=1.0):
    """-2 d/dt log q: the pull along (y_j - y_i) per unit input weight
    (2 a b t^(b-1) / (1 + a t^b / dof))."""
    torch = import_torch()
    if a == 1.0 and b == 1.0:
        return 2.0 / (1.0 + t) if dof == 1.0 else 2.0 / (1.0 + t / dof)
    tb = power(t, b)
    return torch.where(t > 0, 2.0 * a * b * tb / (t * (1.0 + a * tb / dof)), 0.0)


def umap_repulsion_coefficient(t, a, b):
    """UMAP's push away from a negative sample (with its eps guard)."""
    torch = import_torch()
    return torch.where(t > 0, 2.0 * b / ((REPULSION_EPS + t) * (1.0 + a * power(t, b))), 0.0)


def push_and_q(t, a, b, dof=1.0):
    """The normalized objective's push coefficient -2 dq/dt (to be divided by Z; 2 q^2 for
    the Student-t kernel) and q itself, for the kernel (1 + a t^b / dof)^-dof."""
    torch = import_torch()
    at_zero = 2.0 * a * b if b == 1.0 else 0.0
    if dof == 1.0:
        tb = power(t, b)
        q = 1.0 / (1.0 + a * tb)
        if a == 1.0 and b == 1.0:
            return 2.0 * q * q, q
        return torch.where(t > 0, 2.0 * a * b * (tb / t) * q * q, at_zero), q
    if a == 1.0 and b == 1.0:  # one power: w = q / (1 + t / dof)
        base = 1.0 + t / dof
        q = torch.exp(-dof * torch.log(base))
        return 2.0 * q / base, q
    tb = power(t, b)
    base = 1.0 + a * tb / dof
    q = torch.exp(-dof * torch.log(base))
    return torch.where(t > 0, 2.0 * a * b * (tb / t) * q / base, at_zero), q

"""The engine: force laws and the one optimizer that moves every embedding.

- ``optimize``: the optimizer (learning-rate schedule, momentum, gains, step caps).
- ``numba``: the CPU backend, where each force law is a compiled, race-free kernel.

Nothing here imports from ``graph``, ``methods``, ``explain`` or ``cli``.
"""

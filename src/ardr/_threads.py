"""Run numba kernels (and torch's CPU kernels, when torch is loaded) on a chosen number
of threads, restoring the previous settings.

torch is never imported here: only a process that already uses it (the torch backend)
has its thread count set. On a busy machine this matters: torch's CPU kernels with more
threads than free cores waited on each other (measured: digits UMAP's optimization took
8 s on one thread and 200 s on two, on a 2-core machine running 15 other processes).
"""

import contextlib
import sys


@contextlib.contextmanager
def numba_threads(n_jobs):
    import numba

    previous = numba.get_num_threads()
    available = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None or n_jobs == -1:
        wanted = available
    elif n_jobs < -1:
        wanted = max(1, available + 1 + n_jobs)
    else:
        wanted = min(int(n_jobs), available)
    wanted = max(1, wanted)
    numba.set_num_threads(wanted)
    torch = sys.modules.get("torch")
    previous_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
        if torch is not None:
            torch.set_num_threads(previous_torch)

"""Run numba kernels on a chosen number of threads, restoring the previous setting."""

import contextlib


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
    numba.set_num_threads(max(1, wanted))
    try:
        yield
    finally:
        numba.set_num_threads(previous)

"""A kernel compiled twice, serial and parallel, each with its own cache entry.

Small inputs take the serial kernel: a parallel region launched every step costs more
than it saves there, above all on a busy machine. Numba's on-disk cache names an entry
by the function's qualified name and first line and keys it by signature, not by the
compile options, so two compilations of one Python function share an entry: whichever
compiled first was loaded for both (measured: once the tests had compiled UMAP's serial
step, the "parallel" step ran on one thread in every later process). Each variant here
is a copy of the function under its own name.
"""

import types

import numba


def serial_and_parallel(func, **options):
    """``numba.njit(cache=True, **options)`` compilations of ``func`` keyed by ``parallel``:
    {False: serial, True: parallel}, so a caller picks one with its size test."""
    return {parallel: _compile_as(func, "parallel" if parallel else "serial", parallel=parallel, **options)
            for parallel in (False, True)}


def _compile_as(func, suffix, **options):
    clone = types.FunctionType(func.__code__, func.__globals__, f"{func.__name__}_{suffix}",
                               func.__defaults__, func.__closure__)
    clone.__qualname__ = f"{func.__qualname__}_{suffix}"
    clone.__doc__ = func.__doc__
    clone.__module__ = func.__module__
    return numba.njit(cache=True, **options)(clone)

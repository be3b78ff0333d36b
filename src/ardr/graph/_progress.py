"""One way to take an optional progress bar: stages get a tqdm-like factory
``progress(total, desc)`` or None, and use the bar as a context manager either way."""

from contextlib import nullcontext
from types import SimpleNamespace


def progress_bar(progress, total, desc):
    """A bar from the factory (closed on leaving the ``with``), or a silent one."""
    if progress is not None:
        return progress(total, desc)
    return nullcontext(SimpleNamespace(update=lambda n=1: None))

"""A pause of the cyclic garbage collector around bulk work that makes no cycles."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector for a bulk build, then restores its state.

    Clearing (and building every explanation) allocates a few long-lived objects per order and
    creates no reference cycles, so a collection in between can free nothing; it would only
    walk the caller's whole heap again (measured: 0.4-0.6 s of 1.3 s when clearing 100,000
    orders). Reference counting still frees as usual.

    The switch is process-wide: meanwhile other threads run without the collector too, and a
    thread that switches it in between may find its change undone.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

"""The cyclic garbage collector paused around bulk work that makes no reference cycles.

CPython's collector runs after every 700 net allocations, and each run of its oldest generation
walks every object the process holds. Recording a batch of a thousand hops (statements, envelopes,
rows: trees of dicts, lists and tuples, with no cycles) or filing a million entries in the lineage
index allocates millions of objects: the collector then ran hundreds of times, found nothing, and
cost a tenth of the work, more in a process holding much else. Reference counting frees all of it
while the collector is paused. Pauses nest, in one thread or several: the collector runs again,
if it ran before the first, once the last pause ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection for the length of the block (see the module's doc)."""
    global _depth, _resume  # noqa: PLW0603 -- one collector per process, so one count of pauses
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()

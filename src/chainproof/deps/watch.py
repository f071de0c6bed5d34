"""How long work in the dependency guard shows its progress without printing anything itself.

The caller (the CLI) passes a `Watch`; the library hands it the items of each long task as it works
through them, and goes on with whatever the watch yields. A watch must yield every item, unchanged
and in order; it may draw a progress bar meanwhile. The log's export and audit take the same kind of
hook (`chainproof.log.service.Watch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Watch(Protocol):
    def __call__(self, items: Iterable[T], total: int, label: str) -> Iterable[T]:
        """`items`, as they are worked through: `total` of them, `label` naming what they are in
        (a site-packages directory, an advisory zip)."""
        ...


def unwatched(items: Iterable[T], total: int, label: str) -> Iterable[T]:
    """The watch that shows nothing."""
    return items

"""Per-actor rate limits: a token bucket for each signer (or, unsigned, each client address)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """`rate` requests a second on average and `burst` at once, for each key.

    Buckets are kept for the keys seen lately only: a full bucket carries no state, so one idle for
    long enough to refill is dropped, and a flood of new addresses costs memory for a moment only.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()
        self._swept = clock()

    def allow(self, key: str) -> bool:
        """Take one token from `key`'s bucket; False when it is empty."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - then) * self._rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            self._sweep(now)
        return allowed

    def retry_after(self) -> int:
        """Whole seconds until an empty bucket holds a token again."""
        return max(1, int(1.0 / self._rate + 0.999))

    def _sweep(self, now: float) -> None:
        refill = self._burst / self._rate
        if now - self._swept < refill:
            return
        self._swept = now
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}

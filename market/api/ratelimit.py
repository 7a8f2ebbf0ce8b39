"""A token bucket per participant (wallet address, or client host when anonymous).

The table is bounded: buckets are kept in least-recently-used order, a bucket idle long
enough to have refilled to full is dropped (a new one starts full, so nothing changes for
its owner), and beyond ``max_keys`` the least recently used bucket goes. Each request does
O(1) work on average: it drops idle buckets from the old end only.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from market.errors import RateLimitedError
from market.platform import RateLimit

#: Buckets kept at most; about 100 bytes each, so ~10 MB for the whole table.
DEFAULT_MAX_KEYS: Final = 100_000


class RateLimiter:
    def __init__(
        self,
        limit: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if max_keys < 1:
            raise ValueError("a rate limiter keeps at least one bucket")
        self._limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._refill_s = limit.burst / limit.per_second  # empty to full
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one token of ``key``'s bucket or raise :class:`RateLimitedError`."""
        now = self._clock()
        with self._lock:
            self._drop_refilled(now)
            tokens, at = self._buckets.pop(key, (float(self._limit.burst), now))
            tokens = min(float(self._limit.burst), tokens + (now - at) * self._limit.per_second)
            spent = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if spent else tokens, now)  # most recent last
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        if not spent:
            raise RateLimitedError((1.0 - tokens) / self._limit.per_second)

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _drop_refilled(self, now: float) -> None:
        """Drop the least recently used buckets that have refilled to full since."""
        while self._buckets:
            oldest = next(iter(self._buckets))
            _, at = self._buckets[oldest]
            if now - at < self._refill_s:
                return
            del self._buckets[oldest]

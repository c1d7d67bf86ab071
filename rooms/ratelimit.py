"""A token bucket per connection: ``burst`` messages at once, then ``per_second`` on average."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    __slots__ = ("capacity", "clock", "enabled", "rate", "tokens", "updated")  # one or two per open socket

    def __init__(self, burst: float, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        # Either value 0 switches the limit off (ROOMS_RATE_BURST=0 / ROOMS_RATE_PER_SEC=0).
        self.enabled = burst > 0 and per_second > 0
        self.capacity = burst
        self.rate = per_second
        self.tokens = burst
        self.clock = clock
        self.updated = clock()

    def allow(self) -> bool:
        if not self.enabled:
            return True
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

"""How often one session may search: ``ROOMS_SEARCH_RATE`` per ``ROOMS_SEARCH_RATE_SECONDS``, and
one client address ``ROOMS_SEARCH_ADDRESS_FACTOR`` times that (a script that drops its cookies gets
a new guest session with every request; the address still counts it. Behind nginx the address is
the client's: daphne runs with ``--proxy-headers``, deploy/).

A fixed window counted in Django's cache (an atomic ``incr``): per process with the default
local-memory cache, shared by every process when ``CACHES`` names a shared one (Redis,
memcached). A window boundary can let up to twice the rate through in one window's length;
what matters is that a script cannot make searching cost the server without bound.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache


def allow(key: str, address: str) -> bool:
    """Count one search for ``key`` (an author key: the account or the session's guest) and for
    the client ``address``, and say whether both are within their rates. A rate of 0 switches the
    limit off."""
    rate, seconds = settings.ROOMS_SEARCH_RATE, settings.ROOMS_SEARCH_RATE_SECONDS
    if rate <= 0 or seconds <= 0:
        return True
    by_key = _count(f"key:{key}", seconds) <= rate
    by_address = _count(f"addr:{address}", seconds) <= rate * settings.ROOMS_SEARCH_ADDRESS_FACTOR
    return by_key and by_address


def _count(key: str, seconds: float) -> int:
    window = int(time.time() // seconds)
    name = f"madang:search:{key}:{window}"
    cache.add(name, 0, timeout=int(seconds) + 1)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr: this search opens a new window
        cache.set(name, 1, timeout=int(seconds) + 1)
        count = 1
    return count

"""How often one session may search: ``ROOMS_SEARCH_RATE`` per ``ROOMS_SEARCH_RATE_SECONDS``.

A fixed window counted in Django's cache (an atomic ``incr``): per process with the default
local-memory cache, shared by every process when ``CACHES`` names a shared one (Redis,
memcached). A window boundary can let up to twice the rate through in one window's length;
what matters is that a script cannot make searching cost the server without bound.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache


def allow(key: str) -> bool:
    """Count one search for ``key`` (an author key: the account or the session's guest) and say
    whether it is within the rate. A rate of 0 switches the limit off."""
    rate, seconds = settings.ROOMS_SEARCH_RATE, settings.ROOMS_SEARCH_RATE_SECONDS
    if rate <= 0 or seconds <= 0:
        return True
    window = int(time.time() // seconds)
    name = f"madang:search:{key}:{window}"
    cache.add(name, 0, timeout=int(seconds) + 1)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr: this search opens a new window
        cache.set(name, 1, timeout=int(seconds) + 1)
        count = 1
    return count <= rate

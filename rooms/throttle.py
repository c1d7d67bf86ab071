"""How often one session, and one client address, may do what costs everyone something: search
(a query over every message), post without JavaScript (a form; the composer's socket has its own
limit, rooms.ratelimit), change messages (edit, delete, react: each a broadcast to every page of
the room), take a new name (a broadcast to every process), create rooms (a row in every lobby), and log in or
sign up (password guessing, account spam).

Each kind allows ``RATE`` actions per ``RATE_SECONDS`` to one session (its author key: the account
or the session's guest), and ``ROOMS_RATE_ADDRESS_FACTOR`` times that to one client address: a
script that drops its cookies gets a new guest session with every request, and its address still
counts it. An IPv6 client counts by its /64. Behind nginx the address is the client's (daphne
runs with ``--proxy-headers``, deploy/); a process told no address counts sessions only.

A fixed window counted in Django's cache (an atomic ``incr``): in Redis with ``REDIS_URL``
(project/settings.py), so every process counts together; per process without it. A window
boundary can let up to twice the rate through in one window's length; what matters is that a
script cannot make the server work, or a room's pages churn, without bound.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Literal

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from rooms import identity

Kind = Literal["search", "post", "change", "name", "room", "account"]

# Each kind's settings: actions per window, the window in seconds. A rate of 0 switches it off.
RATES: dict[Kind, tuple[str, str]] = {
    "search": ("ROOMS_SEARCH_RATE", "ROOMS_SEARCH_RATE_SECONDS"),
    "post": ("ROOMS_POST_RATE", "ROOMS_POST_RATE_SECONDS"),
    "change": ("ROOMS_CHANGE_RATE", "ROOMS_CHANGE_RATE_SECONDS"),
    "name": ("ROOMS_NAME_RATE", "ROOMS_NAME_RATE_SECONDS"),
    "room": ("ROOMS_NEW_ROOM_RATE", "ROOMS_NEW_ROOM_RATE_SECONDS"),
    "account": ("ROOMS_ACCOUNT_RATE", "ROOMS_ACCOUNT_RATE_SECONDS"),
}


# What a refused person reads (code "rate_limited"), in their page's language.
REFUSALS: dict[Kind, str] = {
    "search": _("Too many searches: wait a few seconds and try again."),
    "post": _("You are sending messages too quickly. Wait a moment and try again."),
    "change": _("Too many changes at once: wait a few seconds and try again."),
    "name": _("You changed your name too often: wait a little and try again."),
    "room": _("Too many new rooms: wait a while, or enter one that exists."),
    "account": _("Too many attempts: wait a few minutes and try again."),
}


def allow_request(kind: Kind, request: HttpRequest) -> bool:
    """``allow`` for the person and the client address behind ``request``."""
    return allow(kind, identity.author_for_request(request).key, request.META.get("REMOTE_ADDR", ""))


def allow(kind: Kind, key: str, address: str) -> bool:
    """Count one action of ``kind`` for ``key`` (an author key) and for the client ``address``,
    and say whether both are within their rates."""
    rate_setting, seconds_setting = RATES[kind]
    rate, seconds = getattr(settings, rate_setting), getattr(settings, seconds_setting)
    if rate <= 0 or seconds <= 0:
        return True
    by_key = _count(f"{kind}:key:{key}", seconds) <= rate
    client = _client(address)
    if client is None:  # daphne was not told the address (no --proxy-headers): the session alone
        return by_key
    return _count(f"{kind}:addr:{client}", seconds) <= rate * settings.ROOMS_RATE_ADDRESS_FACTOR and by_key


def _client(address: str) -> str | None:
    """The client as counted: an IPv4 address, or the /64 of an IPv6 one (one home or host
    usually holds a whole /64 and could rotate through it); None for no address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped or ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _count(key: str, seconds: float) -> int:
    window = int(time.time() // seconds)
    name = f"rate:{key}:{window}"  # the cache's KEY_PREFIX keeps sites sharing a Redis apart
    cache.add(name, 0, timeout=int(seconds) + 1)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr: this action opens a new window
        cache.set(name, 1, timeout=int(seconds) + 1)
        count = 1
    return count

"""Who reads a fragment: a (language, time zone) variant, never a person.

Fragments for everyone (a new message, a changed one, a lobby row) differ between readers only
in their words and their times, so they are rendered once per variant that the room's open
sockets use, never once per recipient:

- the writer renders its event in the variant that is active where it writes (the request's or
  the posting socket's: the variant of the person who acted, the usual one in a room where
  everyone reads alike), and ships with it a snapshot of what it rendered (rooms.snapshots);
- each process's hub (rooms.live.fanout) renders, from that snapshot and once per event, any
  other variant its own sockets use (``html_for``), without a database read.

A room whose readers all share the writer's variant costs exactly one render per event.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, wraps
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.utils import timezone, translation

P = ParamSpec("P")
R = TypeVar("R")

# How many shared fragments were rendered, per (kind of event, variant key): tests read it to
# prove "once per variant".
renders: Counter[tuple[str, str]] = Counter()


@dataclass(frozen=True)
class Variant:
    language: str
    zone: str

    @property
    def key(self) -> str:
        # Computed once: every delivery to a socket looks its frame up by it.
        key = self.__dict__.get("_key")
        if key is None:
            key = self.__dict__["_key"] = f"{self.language} {self.zone}"
        return key

    @contextmanager
    def active(self) -> Iterator[None]:
        """Render in this variant (only around the rendering: activating stores state in the
        running task or thread)."""
        with translation.override(self.language), timezone.override(zone_info(self.zone)):
            yield

    def wrap(self, function: Callable[P, R]) -> Callable[P, R]:
        """``function``, run in this variant: for work handed to the database thread."""

        @wraps(function)
        def in_variant(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.active():
                return function(*args, **kwargs)

        return in_variant


@cache
def zone_info(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_zone(name: object) -> bool:
    return isinstance(name, str) and name in known_zones()


def default_zone(language: str) -> str:
    """The zone for a reader who chose none: the obvious one for their language, where there is
    one (``ROOMS_LANGUAGE_ZONES``: ko is Asia/Seoul), else the site's."""
    return settings.ROOMS_LANGUAGE_ZONES.get(language, settings.TIME_ZONE)


def current() -> Variant:
    """The variant active here (what LocaleMiddleware and rooms.middleware activated for a
    request, or what a socket wrapped around its work)."""
    return Variant(translation.get_language() or settings.LANGUAGE_CODE, timezone.get_current_timezone_name())


def render(kind: str, variant_key: str, build: Callable[[], str]) -> str:
    renders[kind, variant_key] += 1
    return build()


def html_for(event: dict[str, Any], variant: Variant) -> str:
    """An event's fragment in ``variant``: the one the writer rendered, or rendered here from the
    event's snapshot and kept in the event (one dict shared by the process's sockets)."""
    html: dict[str, str] = event["html"]
    found = html.get(variant.key)
    if found is None:
        from rooms import broadcast  # broadcast imports the fan-out, which imports this

        with variant.active():
            snapshot = event["snapshot"]
            found = html[variant.key] = render(
                snapshot["kind"], variant.key, lambda: broadcast.render_snapshot(snapshot)
            )
    return found

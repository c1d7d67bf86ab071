"""A reader's own settings: their time zone and their colour theme.

The time zone is chosen once and kept for the account or the guest's session.

The session holds the zone for everyone (a socket reads only its session, never the database, to
know how to render for its page); an account also keeps it in ``Preference`` so it follows the
person to their next sign-in (copied into the new session by ``rooms.signals``). A reader who chose
none gets the obvious zone for their language, else the site's (rooms.variants.default_zone).

The theme lives in the session: the page renders ``<html data-theme="light|dark">`` for a choice,
or nothing for "auto" (the system's ``prefers-color-scheme`` decides, static/css/madang.css).
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from rooms import variants
from rooms.models import Preference

ZONE_KEY = "madang_zone"
THEME_KEY = "madang_theme"
THEMES = ("light", "dark")  # and "auto": no choice, the system's


def chosen_zone(session: SessionBase | None) -> str:
    """The zone the reader chose ("" for none, or one this server no longer knows)."""
    zone = session.get(ZONE_KEY, "") if session is not None else ""
    return zone if variants.is_zone(zone) else ""


def zone_for(session: SessionBase | None, language: str) -> str:
    return chosen_zone(session) or variants.default_zone(language)


def variant_for(session: SessionBase | None, language: str) -> variants.Variant:
    return variants.Variant(language, zone_for(session, language))


def set_zone(session: SessionBase, user: Any, zone: str) -> None:
    """Remember ``zone`` ("" for automatic) for this session, and for the account if signed in."""
    if zone:
        session[ZONE_KEY] = zone
    else:
        session.pop(ZONE_KEY, None)
    if user is not None and user.is_authenticated:
        Preference.objects.update_or_create(user=user, defaults={"time_zone": zone})


def restore_zone(session: SessionBase, user: Any) -> None:
    """At sign-in: the account's zone, if it chose one, becomes the session's."""
    zone = Preference.objects.filter(user=user).values_list("time_zone", flat=True).first()
    if zone and variants.is_zone(zone):
        session[ZONE_KEY] = zone


def current_theme(request: HttpRequest) -> str:
    """The chosen theme, or "" when the system's should be followed."""
    session = getattr(request, "session", None)
    value = session.get(THEME_KEY, "") if session is not None else ""
    return value if value in THEMES else ""


def set_theme(session: SessionBase, choice: str) -> None:
    """``choice`` is "light", "dark" or "auto" (forget the choice)."""
    if choice in THEMES:
        session[THEME_KEY] = choice
    else:
        session.pop(THEME_KEY, None)

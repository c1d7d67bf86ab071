"""Who is talking: an account, or a guest whose name lives in the session.

The author of a message always comes from here (the request's user or session, or the socket's
scope), never from a field in the posted payload.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils.translation import gettext

GUEST_ID_KEY = "madang_guest_id"
GUEST_NAME_KEY = "madang_guest_name"


@dataclass(frozen=True)
class Author:
    # "u-<pk>", "g-<hex>", or "b-<pk>" for a bot (rooms.models.Bot): safe for a data attribute, never user text
    key: str
    name: str
    user_id: int | None = None


def new_guest_name() -> str:
    return gettext("Guest %(number)s") % {"number": f"{secrets.randbelow(10000):04d}"}


def ensure_guest(session: SessionBase) -> Author:
    """The session's guest identity, created (and stored in the session) on first use."""
    if GUEST_ID_KEY not in session:
        session[GUEST_ID_KEY] = secrets.token_hex(8)
    if GUEST_NAME_KEY not in session:
        session[GUEST_NAME_KEY] = new_guest_name()
    return Author(key=f"g-{session[GUEST_ID_KEY]}", name=session[GUEST_NAME_KEY])


def set_guest_name(session: SessionBase, name: str) -> None:
    ensure_guest(session)
    session[GUEST_NAME_KEY] = name


def author_for_user(user: Any) -> Author:
    return Author(key=f"u-{user.pk}", name=user.get_full_name() or user.get_username(), user_id=user.pk)


def author_for_request(request: HttpRequest) -> Author:
    """The account if signed in, else the session's guest (created on first visit)."""
    if request.user.is_authenticated:
        return author_for_user(request.user)
    return ensure_guest(request.session)


def author_for_socket(user: Any, session: SessionBase | None) -> Author:
    """The account if signed in, else the guest in the socket's session cookie.

    A socket that arrives without a session (a script, or cookies off) chats as a guest for the
    life of the connection: it cannot be given a cookie, so nothing is stored for it.
    """
    if user is not None and user.is_authenticated:
        return author_for_user(user)
    if session is not None and session.session_key and GUEST_ID_KEY in session:
        return Author(key=f"g-{session[GUEST_ID_KEY]}", name=session.get(GUEST_NAME_KEY) or new_guest_name())
    return Author(key=f"g-{secrets.token_hex(8)}", name=new_guest_name())


def is_banned(session: SessionBase | None) -> bool:
    """True when the session belongs to an account an operator has deactivated.

    Django's auth quietly treats such a session as anonymous; without this check a banned user
    would simply carry on as a guest.
    """
    from django.contrib.auth import SESSION_KEY, get_user_model

    if session is None or SESSION_KEY not in session:
        return False
    user_model = get_user_model()
    try:
        return not user_model._default_manager.get(pk=session[SESSION_KEY]).is_active
    except (user_model.DoesNotExist, ValueError):
        return False

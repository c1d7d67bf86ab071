"""Rendering of every HTML fragment that travels over a WebSocket, each from its template.

Fragments for everyone (a new message, a lobby row) are rendered with no viewer in the context,
once per event and variant (rooms.variants: the language and time zone active when they are
rendered), so they are byte-identical for every recipient who reads alike. Fragments for one
socket (the resume reply, an error, the send acknowledgement) are rendered for that socket alone,
in its variant. Nothing here builds HTML in Python.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

from rooms.identity import Author
from rooms.models import Message, Room

MESSAGE_EVENT_TEMPLATE = "rooms/_message_event.html"
HISTORY_RESET_TEMPLATE = "rooms/_history_reset.html"
ERROR_TEMPLATE = "rooms/_error.html"
REFUSED_TEMPLATE = "rooms/_refused.html"
SENT_TEMPLATE = "rooms/_sent.html"
IDENTITY_TEMPLATE = "_identity.html"
LOBBY_ROW_EVENT_TEMPLATE = "rooms/_lobby_row_event.html"
LOBBY_LIST_TEMPLATE = "rooms/_lobby_list_event.html"
PRESENCE_TEMPLATE = "rooms/_presence.html"
TYPING_TEMPLATE = "rooms/_typing.html"
HERE_TEMPLATE = "rooms/_here_event.html"
UNREAD_TEMPLATE = "rooms/_unread_event.html"


def _shared(template: str, context: dict[str, object]) -> str:
    return render_to_string(template, context)


def new_nonce() -> str:
    """A one-time token for one composer render: it makes that send idempotent."""
    return secrets.token_urlsafe(16)


def message_event(message: Message) -> str:
    """The frame every socket in the room receives for a new message."""
    return _shared(MESSAGE_EVENT_TEMPLATE, {"room": message.room, "messages": [message], "cursor": message.event})


def message_changed(message: Message) -> str:
    """The frame every socket in the room receives when a message on the page changed: its
    content and reactions replaced in place (never the whole element, so an edit form someone
    has open in it survives)."""
    return _shared(MESSAGE_EVENT_TEMPLATE, {"room": message.room, "changed": [message], "cursor": message.event})


def catch_up(
    room: Room, changed: Sequence[Message], new: Sequence[Message], cursor: int | None, *, status: bool = False
) -> str:
    """What a socket missed: messages already on its page in their current state, new ones
    appended after what it has; the new cursor (None: not yet, more frames follow) and
    optionally the live status too."""
    return _shared(
        MESSAGE_EVENT_TEMPLATE,
        {
            "room": room,
            "changed": changed,
            "messages": new,
            "cursor": cursor,
            "status": status,
            "socket_id": uuid.uuid4().hex,
        },
    )


def history_reset(
    room: Room, messages: Sequence[Message], has_older: bool, cursor: int, *, status: bool = False
) -> str:
    """The latest page, replacing what a socket shows, when it missed more than can be replayed."""
    return _shared(
        HISTORY_RESET_TEMPLATE,
        {
            "room": room,
            "messages": messages,
            "has_older": has_older,
            "cursor": cursor,
            "status": status,
            "socket_id": uuid.uuid4().hex,
        },
    )


def error(code: str, text: str, failed: str | None = None) -> str:
    """The error shown to the sender only, next to the composer. ``failed``: the nonce of the
    refused send ("" if the frame could not be read, None if it was no post), so the page puts
    that send's text back in the composer."""
    context = {"error_code": code, "error_text": text, "failed": failed, "oob": True}
    return render_to_string(REFUSED_TEMPLATE, context)


def sent(acknowledged: str = "") -> str:
    """The sender's acknowledgement: a new nonce, no error, and which send (its nonce) was stored.
    The text field is not part of it: the person may have typed on since."""
    return render_to_string(SENT_TEMPLATE, {"nonce": new_nonce(), "sent": acknowledged, "oob": True})


def identity(viewer: Author, next_path: str, csrf_secret: str | None) -> str:
    """The header's identity area for one socket's page, out of band, after a rename. Its form's
    CSRF token is made from the secret in the socket's CSRF cookie, as the page's own was."""
    context = {"viewer": viewer, "user": AnonymousUser(), "page_path": next_path, "oob": True}
    return render_to_string(IDENTITY_TEMPLATE, {**context, "csrf_token": _csrf_token(csrf_secret)})


def _csrf_token(secret: str | None) -> str:
    if not secret:
        return "NOTPROVIDED"  # the page had no token either: the tag renders nothing
    request = HttpRequest()
    request.META["CSRF_COOKIE"] = secret
    return get_token(request)


def lobby_row_event(room: Room, *, created: bool = False) -> str:
    """Moves (or adds) a room's row to the top of every open lobby."""
    return _shared(LOBBY_ROW_EVENT_TEMPLATE, {"room": room, "created": created})


def lobby_list(rooms: Sequence[Room]) -> str:
    """The whole room list, sent when a lobby socket opens (so a reconnect repairs everything)."""
    return _shared(LOBBY_LIST_TEMPLATE, {"rooms": rooms})


def presence(people: Sequence[tuple[str, str]]) -> str:
    """Who is in the room now, (key, name) in name order: the whole list, for everyone in it."""
    shown = [{"key": key, "name": name} for key, name in people[: settings.ROOMS_PRESENCE_MAX_NAMES]]
    context = {"oob": True, "people": shown, "total": len(people), "more": len(people) - len(shown)}
    return _shared(PRESENCE_TEMPLATE, context)


def typing(typists: Sequence[tuple[str, str, int]]) -> str:
    """Who is typing, (key, name, seconds left): a line for everyone and one without each typist."""
    from rooms.live.typing import SEVERAL, lines

    return _shared(TYPING_TEMPLATE, {"oob": True, "lines": lines(list(typists)), "several": SEVERAL})


def here(counts: Sequence[tuple[int, int]]) -> str:
    """How many people are in each of these rooms now (lobby rows)."""
    return _shared(HERE_TEMPLATE, {"counts": counts})


def unread(rooms: Sequence[tuple[int, object]]) -> str:
    """For one lobby socket: what its person has not read in these rooms, (pk, Unread) pairs."""
    return render_to_string(UNREAD_TEMPLATE, {"rooms": rooms})

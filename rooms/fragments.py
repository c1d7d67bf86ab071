"""Rendering of every HTML fragment that travels over a WebSocket, each from its template.

Fragments for everyone (a new message, a lobby row) are rendered once per event, in the site's
default language and with no viewer in the context, so they are byte-identical for every
recipient. Fragments for one socket (the resume reply, an error, the send acknowledgement) are
rendered for that socket alone. Nothing here builds HTML in Python.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from rooms.models import Message, Room

MESSAGE_EVENT_TEMPLATE = "rooms/_message_event.html"
HISTORY_RESET_TEMPLATE = "rooms/_history_reset.html"
ERROR_TEMPLATE = "rooms/_error.html"
SENT_TEMPLATE = "rooms/_sent.html"
LOBBY_ROW_EVENT_TEMPLATE = "rooms/_lobby_row_event.html"
LOBBY_LIST_TEMPLATE = "rooms/_lobby_list_event.html"


def _shared(template: str, context: dict[str, object]) -> str:
    with translation.override(settings.LANGUAGE_CODE):
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


def error(code: str, text: str) -> str:
    """The error shown to the sender only, next to the composer."""
    return render_to_string(ERROR_TEMPLATE, {"error_code": code, "error_text": text, "oob": True})


def sent() -> str:
    """The sender's acknowledgement: a fresh, empty composer (new nonce) and no error."""
    return render_to_string(SENT_TEMPLATE, {"nonce": new_nonce(), "oob": True})


def lobby_row_event(room: Room, *, created: bool = False) -> str:
    """Moves (or adds) a room's row to the top of every open lobby."""
    return _shared(LOBBY_ROW_EVENT_TEMPLATE, {"room": room, "created": created})


def lobby_list(rooms: Sequence[Room]) -> str:
    """The whole room list, sent when a lobby socket opens (so a reconnect repairs everything)."""
    return _shared(LOBBY_LIST_TEMPLATE, {"rooms": rooms})

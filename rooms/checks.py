"""System checks: template overrides must keep what live updates depend on.

Operators restyle Madang by overriding templates. A template that loses an id, a data attribute
or an out-of-band wrapper would silently break live updates, so at startup each fragment
template is rendered with sample data and its output checked for the contract its comment
lists; page templates (which need a request) are checked on their source.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from rooms.models import Message, Room


def _samples() -> dict[str, Any]:
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    room = Room(pk=7007, name="check", slug="check", last_seq=678, last_activity_at=when)
    message = Message(
        pk=12345, room=room, seq=678, event=679, author_key="g-check", author_name="n", text="t", created_at=when
    ).known_to_have_no_reactions()
    return {
        "room": room,
        "rooms": [room],
        "message": message,
        "messages": [message],
        "changed": [message],
        "cursor": 678,
        "oob": True,
        "message_id": 12345,
    }


# template -> strings its rendered output must contain (fragments), given the sample context.
RENDERED_CONTRACT: dict[str, list[str]] = {
    "rooms/_message.html": [
        *('id="message-12345"', 'data-seq="678"', 'data-author="g-check"', 'id="message-12345-editor"'),
        *('id="message-12345-content"', 'id="message-12345-reactions"', "message-own"),
    ],
    "rooms/_message_content.html": ['id="message-12345-content"', 'hx-swap-oob="outerHTML:#message-12345-content'],
    "rooms/_message_reactions.html": [
        *('id="message-12345-reactions"', 'hx-swap-oob="outerHTML:#message-12345-reactions'),
    ],
    "rooms/_message_event.html": [
        *('id="message-12345-content" hx-swap-oob="outerHTML:', 'id="message-12345-reactions" hx-swap-oob="'),
        *('id="messages-live"', 'hx-swap-oob="beforeend"', 'id="message-12345"', 'id="cursor"'),
    ],
    "rooms/_history_reset.html": [
        *('id="messages"', 'hx-swap-oob="innerHTML"', 'id="message-12345"', 'id="cursor"', 'id="messages-live"'),
    ],
    "rooms/_live_log.html": ['id="messages-live"', 'role="log"'],
    "rooms/_cursor.html": ['id="cursor"', 'name="cursor"', 'value="678"', 'hx-swap-oob="true"'],
    "rooms/_composer_fields.html": ['id="composer-text"', 'name="message"', 'id="composer-nonce"', 'name="nonce"'],
    "rooms/_sent.html": ['id="composer-nonce"', 'id="chat-error"', 'id="composer-sending"', 'hx-swap-oob="true"'],
    "rooms/_room_row.html": ['id="room-7007"', 'href="/rooms/check/"'],
    "rooms/_lobby_row_event.html": ['id="room-7007" hx-swap-oob="delete"', 'id="room-list" hx-swap-oob="afterbegin"'],
    "rooms/_lobby_list_event.html": ['id="room-list" hx-swap-oob="innerHTML"', 'id="room-7007"'],
}
ERROR_CONTRACT = ['id="chat-error"', 'data-error="sample_code"', 'hx-swap-oob="true"']

# template -> strings its source must contain (pages, rendered only with a request).
SOURCE_CONTRACT: dict[str, list[str]] = {
    "rooms/room.html": [
        'id="oob-sink"',
        *('id="presence-count"', 'id="presence-list"', 'id="typing"', "rooms/_typing_form.html"),
        *('hx-ext="ws"', "ws-connect=", 'id="resume"', "htmx:wsOpen", 'id="messages"', "rooms/_live_log.html"),
    ],
    "rooms/_composer.html": [
        *('id="composer"', "ws-send", "rooms/_composer_fields.html", "rooms/_error.html", "rooms/_sending.html"),
    ],
    "rooms/lobby.html": ['hx-ext="ws"', 'ws-connect="/ws/lobby/"', 'id="room-list"'],
    "rooms/_viewer_style.html": [
        *("data-author=", "data-reactors~=", ".message-own", "--label-edit", "csp_nonce"),
        *("data-mentions~=", "data-without=", 'data-for="all"', "presence-list", "--label-you"),
    ],
    "rooms/_presence.html": ['id="presence-count"', 'id="presence-list"', "data-key="],
    "rooms/_typing.html": ['id="typing"', 'data-for="all"', "data-without=", "typing-left-"],
    "rooms/_typing_form.html": ['id="typing-form"', "ws-send", "from:#composer-text", 'name="typing"'],
    "rooms/_here.html": ['id="here-'],
    "rooms/_unread.html": ['id="unread-', "unread-messages", "unread-mentions"],
    "rooms/_message_content.html": ["data-mentions=", 'class="mention"'],
    "rooms/_room_row.html": ["rooms/_here.html", "rooms/_unread.html"],
    "_base.html": ["htmx_script", '"allowScriptTags": false', '"allowEval": false', "X-CSRFToken"],
}


def _problem(name: str, needle: str, origin: str) -> Error:
    return Error(
        f"Template {name} ({origin}) no longer produces {needle!r}, which live updates rely on.",
        hint="Keep the ids, data-* attributes and out-of-band wrappers its comment lists.",
        id="rooms.E002",
    )


def _check(name: str, produce: Callable[[Any], str], required: list[str]) -> list[CheckMessage]:
    try:
        template = get_template(name)
    except TemplateDoesNotExist:
        return [Error(f"Template {name} is missing.", id="rooms.E001")]
    origin = template.origin.name  # type: ignore[attr-defined]
    try:
        output = produce(template)
    except Exception as exc:  # an override that cannot render breaks live updates too
        return [Error(f"Template {name} ({origin}) failed to render: {exc!r}", id="rooms.E003")]
    return [_problem(name, needle, origin) for needle in required if needle not in output]


@register(Tags.templates)
def check_template_contract(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for name, required in RENDERED_CONTRACT.items():
        problems += _check(name, lambda t: t.render(_samples()), required)
    error_context = {**_samples(), "error_code": "sample_code", "error_text": "x"}
    problems += _check("rooms/_error.html", lambda t: t.render(error_context), ERROR_CONTRACT)
    for name, required in SOURCE_CONTRACT.items():
        problems += _check(name, lambda t: t.template.source, required)
    return problems


@register(Tags.security)
def check_allowed_hosts_not_wildcard(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """ALLOWED_HOSTS is also the WebSocket Origin allow-list: "*" would let any site's page open
    sockets with a visitor's cookies (cross-site WebSocket hijacking)."""
    if not settings.DEBUG and "*" in settings.ALLOWED_HOSTS:
        return [
            Error(
                'ALLOWED_HOSTS contains "*" in production.',
                hint="List the site's host names in DJANGO_ALLOWED_HOSTS; it also decides which "
                "origins may open WebSockets.",
                id="rooms.E010",
            )
        ]
    return []

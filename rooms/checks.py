"""System checks: template overrides must keep what live updates depend on.

Operators restyle Madang by overriding templates. A template that loses an id, a data attribute
or an out-of-band wrapper would silently break live updates, so each template's contract (the
same list the comments in the templates and the README give) is checked at startup.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

# template -> substrings its *source* must contain (kept deliberately literal and simple).
TEMPLATE_CONTRACT: dict[str, list[str]] = {
    "rooms/_message.html": ['id="message-{{ message.pk }}"', 'data-seq="{{ message.seq }}"', "data-author="],
    "rooms/_message_event.html": ['id="messages"', 'hx-swap-oob="beforeend"', "rooms/_cursor.html"],
    "rooms/_history_reset.html": ['id="messages"', 'hx-swap-oob="innerHTML"', "rooms/_cursor.html"],
    "rooms/_cursor.html": ['id="cursor"', 'name="cursor"', "hx-swap-oob"],
    "rooms/_error.html": ['id="chat-error"', "data-error=", "hx-swap-oob"],
    "rooms/_composer_fields.html": ['id="composer-text"', 'name="message"', 'id="composer-nonce"', 'name="nonce"'],
    "rooms/_composer.html": ['id="composer"', "ws-send", "rooms/_composer_fields.html", "rooms/_error.html"],
    "rooms/room.html": ['hx-ext="ws"', "ws-connect=", 'id="resume"', "htmx:wsOpen", 'id="messages"'],
    "rooms/_room_row.html": ['id="room-{{ room.pk }}"'],
    "rooms/_lobby_row_event.html": ['hx-swap-oob="delete"', 'id="room-list"', 'hx-swap-oob="afterbegin"'],
    "rooms/_lobby_list_event.html": ['id="room-list"', 'hx-swap-oob="innerHTML"'],
    "rooms/lobby.html": ['hx-ext="ws"', 'ws-connect="/ws/lobby/"', 'id="room-list"'],
    "_base.html": ["htmx_script", '"allowScriptTags": false', '"allowEval": false'],
}


def _source(template_name: str) -> str | None:
    try:
        template = get_template(template_name)
    except TemplateDoesNotExist:
        return None
    return template.template.source  # type: ignore[attr-defined]


@register(Tags.templates)
def check_template_contract(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for name, required in TEMPLATE_CONTRACT.items():
        source = _source(name)
        if source is None:
            problems.append(Error(f"Template {name} is missing.", id="rooms.E001"))
            continue
        for needle in required:
            if needle not in source:
                origin = get_template(name).origin.name  # type: ignore[attr-defined]
                problems.append(
                    Error(
                        f"Template {name} ({origin}) no longer contains {needle!r}, which live updates rely on.",
                        hint="Keep the ids, data-* attributes and out-of-band wrappers its comment lists.",
                        id="rooms.E002",
                    )
                )
    return problems

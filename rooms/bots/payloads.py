"""What bots see of rooms and messages, as JSON: the API's answers and the webhook's payload.

Addresses are paths (``/rooms/<slug>/messages/<seq>/``, the message's permalink), prefixed with
``ROOMS_SITE_URL`` when it is set (e.g. ``https://chat.example.com``): a webhook delivery has no
request to take the host from.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from rooms.models import Bot, Message, Room


def _absolute(path: str) -> str:
    return settings.ROOMS_SITE_URL.rstrip("/") + path


def room_url(room: Room) -> str:
    return _absolute(room.get_absolute_url())


def message_path(room: Room, seq: int) -> str:
    """The message's permalink: the room's history around it."""
    return reverse("rooms:permalink", kwargs={"slug": room.slug, "seq": seq})


def message_url(room: Room, seq: int) -> str:
    return _absolute(message_path(room, seq))


def posted(message: Message) -> dict[str, Any]:
    """The API's answer to a post."""
    room = message.room
    return {"id": message.pk, "seq": message.seq, "room": room.slug, "url": message_url(room, message.seq)}


def mention(bot: Bot, message: Message, timestamp: str) -> dict[str, Any]:
    """A webhook delivery: which bot was mentioned, where, in what message, and when."""
    room = message.room
    return {
        "bot": {"id": bot.pk, "name": bot.name, "username": bot.user.get_username()},
        "room": {"slug": room.slug, "name": room.name, "url": room_url(room)},
        "message": {
            "id": message.pk,
            "seq": message.seq,
            "text": message.text,
            "author": message.author_name,
            "url": message_url(room, message.seq),
        },
        "timestamp": timestamp,
    }

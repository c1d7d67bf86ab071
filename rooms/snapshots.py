"""What an event's fragment was rendered from, in a form the channel layer can carry (lists of
strings, numbers and None: msgpack on Redis), so another process can render it in another
variant (rooms.variants) without reading the database.

A snapshot is the rows as they were when the writer rendered them: rebuilt here into unsaved-looking
model instances (``Model.from_db``), never saved, only rendered.
"""

from __future__ import annotations

import datetime
from typing import Any, TypeVar

from django.db import models

from rooms.models import Message, Reaction, Room

M = TypeVar("M", bound=models.Model)


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return list(model._meta.concrete_fields)


def pack(instance: models.Model) -> list[Any]:
    values = []
    for field in _fields(type(instance)):
        value = getattr(instance, field.attname)
        values.append(value.isoformat() if isinstance(value, datetime.datetime) else value)
    return values


def unpack(model: type[M], values: list[Any]) -> M:
    fields = _fields(model)
    converted = [
        datetime.datetime.fromisoformat(value)
        if value is not None and isinstance(field, models.DateTimeField)
        else value
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(None, [field.attname for field in fields], converted)


def pack_message(message: Message) -> dict[str, Any]:
    """A message with its room and reactions (prefetched: the fragment has just used them)."""
    return {
        "room": pack(message.room),
        "message": pack(message),
        "reactions": [pack(reaction) for reaction in message.reactions.all()],
        # Whether it starts a day depends on the reader's zone: each variant decides from this.
        "previous_at": _iso(message.previous_at),
    }


def unpack_message(snapshot: dict[str, Any]) -> Message:
    message = unpack(Message, snapshot["message"])
    message.room = unpack(Room, snapshot["room"])
    reactions = Reaction.objects.none()
    reactions._result_cache = [unpack(Reaction, values) for values in snapshot["reactions"]]
    reactions._prefetch_done = True
    message._prefetched_objects_cache = {"reactions": reactions}
    previous = snapshot.get("previous_at", "unknown")
    if previous != "unknown":
        message.previous_at = None if previous is None else datetime.datetime.fromisoformat(previous)
    return message


def _iso(value: Any) -> str | None:
    if value is Message.UNKNOWN:
        return "unknown"
    return None if value is None else value.isoformat()

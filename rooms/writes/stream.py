"""The room's one ordered stream: how a change gets its event number.

Every write takes the room's row lock first (``locked_room``), so two changes to one room
serialise, and the event number given under the lock is also the commit order.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.db import transaction

from rooms import broadcast
from rooms.models import Message, Room


def locked_room(room_id: int) -> Room:
    """The room, locked for the rest of the transaction (SQLite: the write lock is already held
    from BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE)."""
    return Room.objects.select_for_update().get(pk=room_id)


def locked_rooms(room_ids: set[int]) -> dict[int, Room]:
    """Several rooms, locked for the rest of the transaction, by pk (in pk order: two batches
    that share rooms lock them in the same order and cannot deadlock)."""
    return {room.pk: room for room in Room.objects.select_for_update().filter(pk__in=room_ids).order_by("pk")}


def next_event(room: Room) -> int:
    """Take the room's next event number. The caller saves the room (``last_event``)."""
    room.last_event += 1
    return room.last_event


def change_message(message: Message, apply: Callable[[Message], bool]) -> bool:
    """Apply a change to ``message`` under its room's lock, as the room's next event.

    ``apply`` gets the message as it is now (read again under the lock, so two changes never
    overwrite each other) and returns False when there is nothing to change. On a change, the
    message (with its new state and event number) is published after commit, and ``message`` is
    updated in place. Returns whether anything changed.
    """
    with transaction.atomic():
        room = locked_room(message.room_id)
        current = Message.objects.get(pk=message.pk)
        if not apply(current):
            return False
        current.event = next_event(room)
        current.save()
        room.save(update_fields=["last_event"])
        current.room = room
        transaction.on_commit(partial(broadcast.message_changed, current), robust=True)
    for field in Message._meta.concrete_fields:  # the caller's object shows the new state too
        setattr(message, field.attname, getattr(current, field.attname))
    return True

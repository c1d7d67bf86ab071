"""What each person has not read: computed from the stream and their read positions, never kept.

A person (an author key, so accounts and guests alike: a guest's key lives in their session) has
a ``ReadPosition`` per room they have opened. Unread messages are the visible messages after it
that someone else wrote, so a deletion or a hide lowers the count by itself; unread mentions are
those of them that mention the person, and in a room they never opened, every mention of them.
A room they never opened has no unread messages: the lobby is no inbox of every room there is.

Reading moves the position: rendering the room page (not a history page), and being in the room
with a live socket (rooms.live.reads). Each move pings the lobby, whose sockets of that person
count again (rooms.sockets.lobby).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from rooms.models import Message, ReadPosition


@dataclass(frozen=True, slots=True)
class Unread:
    messages: int = 0
    mentions: int = 0


NOTHING = Unread()


def mentioning(key: str) -> Q:
    """Messages whose stored mentions (rooms.mentions) include ``key``."""
    return Q(mentions__startswith=f"{key}:") | Q(mentions__contains=f" {key}:")


def counts(key: str, rooms: Iterable[int]) -> dict[int, Unread]:
    """Unread messages and mentions of ``key`` per room (rooms with none are left out): two queries."""
    rooms = list(rooms)
    if not rooms:
        return {}
    positions = dict(ReadPosition.objects.filter(key=key, room_id__in=rooms).values_list("room_id", "seq"))
    after = Q(pk__isnull=True)  # no row: the start of an OR of one term per opened room
    for room, seq in positions.items():
        after |= Q(room_id=room, seq__gt=seq)
    mine = mentioning(key)
    rows = (
        Message.objects.visible()
        .filter(room_id__in=rooms)
        .exclude(author_key=key)
        .filter(after | (mine & ~Q(room_id__in=list(positions))))
        .values("room_id")
        .annotate(messages=Count("pk", filter=after), mentions=Count("pk", filter=mine))
    )
    return {row["room_id"]: Unread(row["messages"], row["mentions"]) for row in rows}


def mark_read(keys: Iterable[str], room: int, seq: int) -> None:
    """``keys`` have read ``room`` up to ``seq`` (positions only move forward): two queries."""
    keys = list(keys)
    ReadPosition.objects.filter(key__in=keys, room_id=room, seq__lt=seq).update(seq=seq)
    known = set(ReadPosition.objects.filter(key__in=keys, room_id=room).values_list("key", flat=True))
    missing = [ReadPosition(key=key, room_id=room, seq=seq) for key in keys if key not in known]
    if missing:
        try:
            with transaction.atomic():
                ReadPosition.objects.bulk_create(missing, ignore_conflicts=True)
        except IntegrityError:  # made meanwhile by another process: it is there either way
            pass

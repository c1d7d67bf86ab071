"""What a socket missed, read from the database: the repair path behind every resume and gap.

Synchronous (it runs in the database thread); returns the frame to send and the new cursor.
"""

from __future__ import annotations

from django.conf import settings

from rooms import fragments
from rooms.models import Message, Room


def frame_after(room_id: int, cursor: int, *, status: bool = False) -> tuple[str, int]:
    """Everything after ``cursor`` up to the newest committed message.

    Up to ``ROOMS_CATCHUP_LIMIT`` messages are appended; past that (or when the client claims a
    cursor the room never reached) the latest page replaces the history, with "load older".
    Raises ``Room.DoesNotExist`` if the room is gone.
    """
    latest = Room.objects.values_list("last_seq", flat=True).get(pk=room_id)
    messages = Message.objects.in_room(room_id)
    if cursor > latest or latest - cursor > settings.ROOMS_CATCHUP_LIMIT:
        room = Room.objects.get(pk=room_id)
        page, has_older = messages.page_before(latest + 1, settings.ROOMS_PAGE_SIZE)
        return fragments.history_reset(room, page, has_older, latest, status=status), latest
    return fragments.catch_up(list(messages.between(cursor, latest)), latest, status=status), latest

"""What a socket missed, read from the database: the repair path behind every resume and gap.

A cursor is an event number (rooms.models). Everything a page at cursor N lacks is the current
state of each message changed after N: the ones it already shows are replaced in place, the ones
posted after N are appended. That costs what changed, not how many events there were.

Synchronous (it runs in the database thread); returns the frame to send and the new cursor.
"""

from __future__ import annotations

from django.conf import settings

from rooms import fragments
from rooms.models import Message, Room


def frames_after(room_id: int, cursor: int, *, limit: int | None = None, status: bool = False) -> tuple[list[str], int]:
    """Everything after ``cursor`` up to the newest committed event, as the frames to send in
    order, and the new cursor.

    Up to ``limit`` changed messages (default ``ROOMS_CATCHUP_LIMIT``) are replayed; past that
    (or when the client claims a cursor the room never reached) the latest page replaces the
    history, with "load older". A long replay goes out in frames of ``ROOMS_CATCHUP_FRAME_MESSAGES``
    messages (a WebSocket message is capped at 1 MiB by daphne, and a message element is about
    1 KB); only the last one moves the page's cursor and marks it live, so a page whose socket
    drops halfway resumes from where it was. Raises ``Room.DoesNotExist`` if the room is gone.
    """
    room = Room.objects.get(pk=room_id)
    latest = room.last_event
    limit = settings.ROOMS_CATCHUP_LIMIT if limit is None else limit
    messages = Message.objects.in_room(room)
    changed = [] if cursor > latest else list(messages.changed_since(cursor).for_display()[: limit + 1])
    if cursor > latest or len(changed) > limit:
        page, has_older = messages.page_before(room.last_seq + 1, settings.ROOMS_PAGE_SIZE)
        return [fragments.history_reset(room, page, has_older, latest, status=status)], latest
    size = settings.ROOMS_CATCHUP_FRAME_MESSAGES
    chunks = [changed[start : start + size] for start in range(0, len(changed), size)] or [[]]
    frames = []
    for n, chunk in enumerate(chunks, 1):
        shown = [message for message in chunk if message.posted_event <= cursor]
        new = [message for message in chunk if message.posted_event > cursor]
        last = n == len(chunks)
        frames.append(fragments.catch_up(room, shown, new, latest if last else None, status=status and last))
    return frames, latest

"""What a socket missed, read from the database: the repair path behind every resume and gap.

A cursor is an event number (rooms.models). Everything a page at cursor N lacks is the current
state of each message changed after N: the ones it already shows are replaced in place, the ones
posted after N are appended. That costs what changed, not how many events there were.

Synchronous (it runs in the database thread); returns the frame to send and the new cursor.
"""

from __future__ import annotations

from django.conf import settings

from rooms import fragments
from rooms.models import Message, Room, with_previous_times


def frames_after(room_id: int, cursor: int, *, limit: int | None = None, status: bool = False) -> tuple[list[str], int]:
    """Everything after ``cursor`` up to the newest committed event, as the frames to send in
    order, and the new cursor.

    Up to ``limit`` changed messages (default ``ROOMS_CATCHUP_LIMIT``) are replayed; past that
    (or when the client claims a cursor the room never reached) the latest page replaces the
    history, with "load older". Raises ``Room.DoesNotExist`` if the room is gone.

    A long replay goes out in frames of ``ROOMS_CATCHUP_FRAME_MESSAGES`` messages (daphne caps a
    WebSocket message at 1 MiB; a message element is about 1 KB), in an order that leaves the
    page resumable wherever the socket drops: first the in-place replacements (repeating them is
    harmless; they leave the page's cursor where it was), then the new messages in posting order,
    each frame moving the page's cursor to the posting event of its last message (a resume from
    there appends only what did not arrive, and replaces the rest again); the last frame moves
    it to the end and marks the socket live.
    """
    room = Room.objects.get(pk=room_id)
    latest = room.last_event
    limit = settings.ROOMS_CATCHUP_LIMIT if limit is None else limit
    messages = Message.objects.in_room(room)
    # Newest changes last, so [: limit + 1] is cheap on the (room, event) index; then posting order.
    changed = [] if cursor > latest else list(messages.changed_since(cursor).for_display()[: limit + 1])
    if cursor > latest or len(changed) > limit:
        return _latest_page(room, status=status)
    changed.sort(key=lambda message: message.seq)
    # Changes committed after the room was read are in ``changed`` too (commit order is number
    # order, so whatever this read saw is complete up to its newest event): move the cursor past
    # them, or their live events would append a message the replay already appended.
    latest = max([latest, *(message.event for message in changed)])
    size = settings.ROOMS_CATCHUP_FRAME_MESSAGES
    shown = [message for message in changed if message.posted_event <= cursor]
    new = [message for message in changed if message.posted_event > cursor]
    if new:  # every message posted after the cursor changed after it: consecutive seqs
        with_previous_times(new, messages.time_before(new[0].seq))
    if len(changed) <= size:  # the usual case: one frame
        return [fragments.catch_up(room, shown, new, latest, status=status)], latest
    parts: list[tuple[list[Message], list[Message], int | None]] = [
        (shown[start : start + size], [], None) for start in range(0, len(shown), size)
    ]
    parts += [
        ([], new[start : start + size], new[start : start + size][-1].posted_event)
        for start in range(0, len(new), size)
    ]
    parts = parts or [([], [], None)]
    last = len(parts) - 1
    frames = [
        fragments.catch_up(room, replaced, appended, latest if n == last else moved, status=status and n == last)
        for n, (replaced, appended, moved) in enumerate(parts)
    ]
    return frames, latest


def latest_page(room_id: int, *, status: bool = False) -> tuple[list[str], int]:
    """The latest page, replacing whatever the socket's page shows, and its cursor."""
    return _latest_page(Room.objects.get(pk=room_id), status=status)


def _latest_page(room: Room, *, status: bool) -> tuple[list[str], int]:
    messages = Message.objects.in_room(room)
    page, has_older = messages.page_before(room.last_seq + 1, settings.ROOMS_PAGE_SIZE)
    return [fragments.history_reset(room, page, has_older, room.last_event, status=status)], room.last_event


def rechecked(room_id: int, first: int, last: int, since: int) -> list[str]:
    """A "load older" page, read at the room's event ``since``, shows messages ``first`` to
    ``last``: the current state of those changed after ``since``, replaced in place (the cursor
    stays). A change's live event can reach the page before the page it changes does, and finds
    nothing to replace; this brings it. Usually nothing changed: no frame at all. At most
    ``ROOMS_CATCHUP_LIMIT`` messages, those changed last (a real page changed in the moment it
    took to load; a client asking for more is only answered that much)."""
    changed = list(
        Message.objects.in_room(room_id)
        .filter(seq__range=(first, last), event__gt=since)
        .order_by("-event")
        .for_display()[: settings.ROOMS_CATCHUP_LIMIT]
    )
    if not changed:
        return []
    changed.sort(key=lambda message: message.seq)
    return [fragments.catch_up(Room.objects.get(pk=room_id), changed, [], None)]

"""What a room socket shows: its place in the room's stream, and how it keeps it.

A socket keeps one number, its cursor: the room event (rooms.models) its page shows everything
up to. Live events at cursor + 1 are forwarded as they are (rendered once, by broadcast.py);
older ones are duplicates and dropped; a jump means the layer lost something (the room's hub has
already waited out reorderings between processes, rooms.live.fanout), and the socket replays
what it missed from the database (rooms.catchup).

Where the cursor starts: a page's resume frame (``{"cursor": N}``) says where its page stands,
and the socket first sends everything after N. A client that never resumes (a script, a bot, a
client of the Channels tutorial's protocol) is live from its connect time: once its first frame
is something else, or ``ROOMS_RESUME_GRACE_SECONDS`` passed, it starts at the room's event
number read as it connected. Live events that arrive before either are held, not dropped, so
nothing reaches a socket out of order or twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings

from rooms import catchup, fragments, variants
from rooms.live import fanout
from rooms.sockets.db import database_sync_to_async
from rooms.sockets.guards import RetryableClose

logger = logging.getLogger("rooms.sockets")

# Live events held while a socket reads the database or waits for its first frame: at most this
# many (past it they are dropped; the next one applied sees the jump and replays from the database).
PENDING_LIMIT = 1000


class StreamFollower:
    """The cursor rules of a room socket (mixed into ``RoomConsumer``, which provides ``send``,
    ``base_send``, ``send_state``, ``local``, ``label``, ``room_id``, ``variant`` and ``in_variant``)."""

    cursor: int | None = None
    resumed = False  # the page's resume frame was answered
    room_id: int | None
    label: str
    local: Any
    variant: variants.Variant
    in_variant: Any
    variant: variants.Variant

    def follow(self, live_from: int) -> None:
        """Start following from the room's event ``live_from`` (read as the socket connected)."""
        self.live_from = live_from
        self.pending: list[dict[str, Any]] = []
        self.busy = False  # a resume or a repair is reading the database: hold live events
        grace = settings.ROOMS_RESUME_GRACE_SECONDS
        self.grace = asyncio.get_running_loop().call_later(grace, self.local.put_nowait, {"type": "room.grace"})

    def unfollow(self) -> None:
        self.grace.cancel()

    async def resume(self, cursor: int) -> None:
        """The page says it shows everything up to ``cursor``: send what came after, go live."""
        if self.resumed or self.busy:
            return  # one resume per socket; a later one could only duplicate what was sent
        self.resumed = True
        self.grace.cancel()
        late = self.cursor is not None
        if late and cursor == self.cursor:
            await self.send(text_data=self.in_variant(lambda: fragments.catch_up(None, [], [], cursor, status=True)))
            return
        self.busy = True
        try:
            if late:
                # The grace ran out before the page said where it stands, and live events since
                # then already went out: only the latest page, which replaces what the page
                # shows, can bring it to the right state without showing anything twice.
                logger.info("%s: resume after the grace, resetting to the latest page", self.label)
                frames, cursor = await database_sync_to_async(self.variant.wrap(catchup.latest_page))(
                    self.room_id, status=True
                )
            else:
                frames, cursor = await database_sync_to_async(self.variant.wrap(catchup.frames_after))(
                    self.room_id, cursor, status=True
                )
            self.cursor = cursor
            for html in frames:
                await self.send(text_data=html)
        finally:
            self.busy = False
        await self._drain()

    async def recheck(self, first: int, last: int, since: int) -> None:
        """A "load older" page arrived: replace what changed in it since it was read. Only
        replacements, from the database as it is now, so the cursor and the events held or still
        on their way are unaffected: each is at most as new as this read, and the last one to
        arrive for a message is the newest."""
        frames = await database_sync_to_async(self.variant.wrap(catchup.rechecked))(self.room_id, first, last, since)
        for html in frames:
            await self.send(text_data=html)

    async def go_live(self) -> None:
        if self.cursor is None and not self.busy:
            self.grace.cancel()
            self.cursor = self.live_from
            await self._drain()

    async def room_grace(self, event: dict[str, Any]) -> None:
        await self.go_live()

    async def deliver(self, batch: fanout.Batch) -> None:
        """Called by the room's hub (rooms.live.fanout) with the events that arrived, in order."""
        if batch.span is not None and not self.busy and self.cursor == batch.span[0] - 1:
            self.cursor = batch.span[1]
            await self.base_send(batch.frame_for(self.variant))  # shared by the variant's sockets: no per-socket work
            return
        if batch.unnumbered:  # presence and typing: whole states outside the stream, for anyone
            frame = batch.frame_for(self.variant)
            if frame is not None:
                await self.send_state(frame)
            return
        for event in batch.events:  # this socket is elsewhere (resuming, repairing, behind)
            await self._deliver(event)

    async def _deliver(self, event: dict[str, Any]) -> None:
        if "event" not in event:  # not in the stream (presence, typing): it replaces a whole state
            await self.send_state({"type": "websocket.send", "text": variants.html_for(event, self.variant)})
            return
        if self.busy or self.cursor is None:
            if len(self.pending) >= PENDING_LIMIT:
                # Bounded: dropping is safe, the next event applied sees the jump and repairs.
                self.pending.clear()
            self.pending.append(event)  # applied, in order, once the cursor is known
            return
        await self._apply(event)

    async def _apply(self, event: dict[str, Any]) -> None:
        number = event["event"]
        if number <= self.cursor:
            return  # a duplicate, or already in what the resume read
        if number == self.cursor + 1:
            self.cursor = number
            await self.send(text_data=variants.html_for(event, self.variant))
            return
        # A jump the hub could not mend: the layer lost something. Replay from the database in
        # this socket's own task, so the hub never waits on the database for the rest of the room.
        logger.info("%s: gap %s..%s, repairing from the database", self.label, self.cursor, number)
        self.busy = True
        self.pending.append(event)
        self.local.put_nowait({"type": "room.repair"})

    async def room_repair(self, event: dict[str, Any]) -> None:
        # A live socket replays everything it missed (up to ROOMS_REPAIR_LIMIT changed messages)
        # instead of jumping to the latest page: people in a busy room keep their place.
        try:
            frames, self.cursor = await database_sync_to_async(self.variant.wrap(catchup.frames_after))(
                self.room_id, self.cursor, limit=settings.ROOMS_REPAIR_LIMIT
            )
        except Exception:
            logger.exception("%s: gap repair failed", self.label)
            raise RetryableClose("gap repair failed") from None
        for html in frames:
            await self.send(text_data=html)
        self.busy = False
        await self._drain()

    async def _drain(self) -> None:
        while self.pending and not self.busy and self.cursor is not None:
            await self._apply(self.pending.pop(0))

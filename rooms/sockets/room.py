"""WebSocket consumers: authorise, subscribe, forward. No ORM writes of their own.

RoomConsumer keeps one number per socket, the cursor: the seq of the newest message this socket
has shown. Live events at cursor + 1 are forwarded as they are (rendered once, by broadcast.py);
older ones are duplicates and dropped; a jump means the layer lost something, and the socket is
repaired from the database. Until the browser's resume frame says where its page stands, live
events are dropped: the resume reads them from the database anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import translation

from rooms import catchup, fragments, writes
from rooms.forms import MessageForm
from rooms.live import fanout
from rooms.models import Room
from rooms.ratelimit import TokenBucket
from rooms.sockets import frames
from rooms.sockets.base import GuardedConsumer, language_of
from rooms.sockets.db import database_sync_to_async
from rooms.sockets.guards import CLOSE_FLOOD, CLOSE_NO_SUCH_ROOM, RetryableClose

logger = logging.getLogger("rooms.sockets")

# Live events held while a socket reads the database (resume, repair): at most this many.
PENDING_LIMIT = 1000


class RoomConsumer(GuardedConsumer):
    room_id: int | None = None
    messages: TokenBucket | None = None
    cursor: int | None = None
    label = "room socket"

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await self.admit():
            return
        room = await database_sync_to_async(Room.objects.filter(slug=slug).first)()
        if room is None:
            logger.info("refused room socket: no such room addr=%s", self.address)
            await self.close(code=CLOSE_NO_SUCH_ROOM)
            return
        self.room_id = room.pk
        self.label = f"room socket room={room.pk}"
        self.pending: list[dict[str, Any]] = []
        self.busy = False  # a resume or a repair is reading the database: hold live events
        self.hub = fanout.hub_for(self.channel_layer, room.group_name)
        await self.hub.join(self)
        logger.info("%s opened author=%s addr=%s", self.label, self.author_key, self.address)

    async def release(self) -> None:
        if self.room_id is not None:
            self.room_id = None
            await self.hub.leave(self)
        await super().release()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.room_id is None:
            return
        if self.flooding():
            logger.warning("closing %s: flooding author=%s addr=%s", self.label, self.author_key, self.address)
            await self.close(code=CLOSE_FLOOD)
            return
        try:
            data = frames.parse(text_data, bytes_data)
            cursor = frames.cursor_of(data)
            if cursor is not None:
                await self.resume(cursor)
            if "message" in data:
                await self.post(data)
        except frames.FrameError as error:
            await self.send_error(error.code, lambda: error.text)
        except Room.DoesNotExist:
            await self.close(code=CLOSE_NO_SUCH_ROOM)
        except Exception:
            # The sender is told; the socket ends with a code the browser retries, and the
            # reconnect resumes from the database (which may be what just failed).
            logger.exception("%s: error handling a frame author=%s", self.label, self.author_key)
            error = frames.FrameError("unavailable")
            await self.send_error(error.code, lambda: error.text)
            raise RetryableClose("error handling a frame") from None

    async def send_error(self, code: str, text: Callable[[], str]) -> None:
        await self.send(text_data=self.in_language(lambda: fragments.error(code, text())))

    def in_language(self, render: Callable[[], str]) -> str:
        """Render what only this socket sees in its page's language. Only around the rendering:
        activating a language stores a copy of the translation state in the socket's task."""
        with translation.override(language_of(self.scope)):
            return render()

    async def resume(self, cursor: int) -> None:
        """The page says it shows everything up to ``cursor``: send what came after, go live."""
        if self.cursor is not None or self.busy:
            return  # one resume per socket; a later one could only duplicate what was sent
        self.busy = True
        try:
            html, cursor = await database_sync_to_async(catchup.frame_after)(self.room_id, cursor, status=True)
            self.cursor = cursor
            await self.send(text_data=html)
        finally:
            self.busy = False
        await self._drain()

    async def post(self, data: dict[str, Any]) -> None:
        with translation.override(language_of(self.scope)):  # validation formats some of its messages
            form = MessageForm.from_frame(data)
            valid = form.is_valid()
        if not valid:
            await self.send_error(form.error_code(), form.error_text)
            return
        if self.messages is None:  # made on the first post: most sockets only ever read
            self.messages = TokenBucket(settings.ROOMS_RATE_BURST, settings.ROOMS_RATE_PER_SEC)
        if not self.messages.allow():
            raise frames.FrameError("rate_limited")
        await database_sync_to_async(writes.post_message)(
            self.room_id, self.author, form.cleaned_data["message"], form.cleaned_data["nonce"]
        )
        await self.send(text_data=self.in_language(fragments.sent))

    async def deliver(self, batch: fanout.Batch) -> None:
        """Called by the room's hub (rooms.live.fanout) with the events that arrived, in layer order."""
        if batch.seqs is not None and not self.busy and self.cursor == batch.seqs[0] - 1:
            self.cursor = batch.seqs[1]
            await self.base_send(batch.frame)  # the hub's shared message: no per-socket work
            return
        for event in batch.events:  # this socket is elsewhere (resuming, repairing, behind)
            await self._deliver(event)

    async def _deliver(self, event: dict[str, Any]) -> None:
        if self.busy:
            if len(self.pending) >= PENDING_LIMIT:
                # Bounded: dropping is safe, the next event applied sees the jump and repairs.
                self.pending.clear()
            self.pending.append(event)  # applied, in order, once the database read is done
            return
        await self._apply(event)

    async def _apply(self, event: dict[str, Any]) -> None:
        if self.cursor is None:
            return  # not resumed yet: the resume reads this event from the database anyway
        if event["type"] == "room.removal":
            # A moderator hid or deleted a message: remove it (not part of the seq stream).
            await self.send(text_data=event["html"])
            return
        seq = event["seq"]
        if seq <= self.cursor:
            return  # a duplicate
        if seq == self.cursor + 1:
            self.cursor = seq
            await self.send(text_data=event["html"])
            return
        # A jump: the layer lost something. Repair from the database in this socket's own task,
        # so the hub never waits on the database for the rest of the room.
        logger.info("%s: gap %s..%s, repairing from the database", self.label, self.cursor, seq)
        self.busy = True
        self.local.put_nowait({"type": "room.repair"})

    async def room_repair(self, event: dict[str, Any]) -> None:
        try:
            html, self.cursor = await database_sync_to_async(catchup.frame_after)(self.room_id, self.cursor)
        except Exception:
            logger.exception("%s: gap repair failed", self.label)
            raise RetryableClose("gap repair failed") from None
        await self.send(text_data=html)
        self.busy = False
        await self._drain()

    async def _drain(self) -> None:
        while self.pending and not self.busy:
            await self._apply(self.pending.pop(0))

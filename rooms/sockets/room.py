"""The room socket: authorise, subscribe, read frames, post. No ORM writes of its own.

What the socket shows and in which order (its cursor, held events, resume and repair) is
rooms.sockets.stream's ``StreamFollower``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import translation

from rooms import fragments, writes
from rooms.forms import MessageForm
from rooms.live import fanout
from rooms.models import Room
from rooms.ratelimit import TokenBucket
from rooms.sockets import frames
from rooms.sockets.base import GuardedConsumer, language_of
from rooms.sockets.db import database_sync_to_async
from rooms.sockets.guards import CLOSE_FLOOD, CLOSE_NO_SUCH_ROOM, RetryableClose
from rooms.sockets.stream import StreamFollower

logger = logging.getLogger("rooms.sockets")

# The fields a room socket understands; a frame with none of them is answered with bad_schema.
KNOWN_FIELDS = ("cursor", "message")


class RoomConsumer(StreamFollower, GuardedConsumer):
    room_id: int | None = None
    messages: TokenBucket | None = None
    label = "room socket"

    def look_up(self) -> Room | None:
        return Room.objects.filter(slug=self.scope["url_route"]["kwargs"]["slug"]).only("pk", "last_event").first()

    async def subscribe(self) -> None:
        room = self.found
        if room is None:
            return
        self.room_id = room.pk
        self.label = f"room socket room={room.pk}"
        # Where a socket that never resumes starts: the stream as it stood when it connected.
        self.follow(room.last_event)
        self.hub = fanout.hub_for(self.channel_layer, room.group_name)
        await self.hub.join(self, after=room.last_event)

    async def connect(self) -> None:
        if not await self.admit():
            return
        if self.room_id is None:
            logger.info("refused room socket: no such room addr=%s", self.address)
            await self.close(code=CLOSE_NO_SUCH_ROOM)
            return
        logger.info("%s opened author=%s addr=%s", self.label, self.author_key, self.address)

    async def release(self) -> None:
        if self.room_id is not None:
            self.room_id = None
            self.unfollow()
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
            if not any(field in data for field in KNOWN_FIELDS):
                raise frames.FrameError("bad_schema")
            cursor = frames.cursor_of(data)
            if cursor is not None:
                await self.resume(cursor)
            else:
                await self.go_live()  # its first frame was no resume: live from its connect time
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

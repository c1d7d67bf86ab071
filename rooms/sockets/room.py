"""The room socket: authorise, subscribe, read frames, post. No ORM writes of its own.

What the socket shows and in which order (its cursor, held events, resume and repair) is
rooms.sockets.stream's ``StreamFollower``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import translation

from rooms import fragments, writes
from rooms.forms import MessageForm, TypingForm
from rooms.live import per_loop, presence, reads
from rooms.models import Room
from rooms.ratelimit import TokenBucket
from rooms.sockets import frames, posting
from rooms.sockets.base import GuardedConsumer
from rooms.sockets.guards import CLOSE_FLOOD, CLOSE_NO_SUCH_ROOM, RetryableClose
from rooms.sockets.stream import StreamFollower

logger = logging.getLogger("rooms.sockets")

# The fields a room socket understands; a frame with none of them is answered with bad_schema.
KNOWN_FIELDS = ("cursor", "message", "typing", "recheck")


class RoomConsumer(StreamFollower, GuardedConsumer):
    room_id: int | None = None
    messages: TokenBucket | None = None
    typings: TokenBucket | None = None
    typing_until = 0.0  # event-loop time this socket's last "typing" runs out for everyone
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
        self.hub = per_loop.hub_for(self.channel_layer, room.group_name)
        await self.hub.join(self, after=room.last_event)
        # In the room for everyone (and for this page: the ping reaches its own hub too).
        await presence.presence_for(self.channel_layer).arrive(self, room.pk)
        reads.reads_for(self.channel_layer).start()

    async def connect(self) -> None:
        if not await self.admit():
            return
        if self.room_id is None:
            logger.info("refused room socket: no such room addr=%s", self.address)
            await self.close(code=CLOSE_NO_SUCH_ROOM)
            return
        logger.info("%s opened author=%s addr=%s", self.label, self.author_key, self.address)

    def page_path(self) -> str:
        return f"/rooms/{quote(self.scope['url_route']['kwargs']['slug'])}/"

    async def release(self) -> None:
        if self.room_id is not None:
            room, self.room_id = self.room_id, None
            self.unfollow()
            presence.presence_for(self.channel_layer).depart(self, room)
            asyncio.get_running_loop().create_task(reads.reads_for(self.channel_layer).left(self.author_key, room))
            await self.stop_typing(room)
            await self.hub.leave(self)
        await super().release()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.room_id is None:
            return
        if self.flooding():
            logger.warning("closing %s: flooding author=%s addr=%s", self.label, self.author_key, self.address)
            await self.close(code=CLOSE_FLOOD)
            return
        # Which send an error answers, for the page's composer: "" while the frame is unread (it
        # may have been a post), the post's nonce, or None for a frame that is no post.
        failed: str | None = ""
        try:
            data = frames.parse(text_data, bytes_data)
            failed = _nonce_of(data) if "message" in data else None
            if not any(field in data for field in KNOWN_FIELDS):
                raise frames.FrameError("bad_schema")
            cursor = frames.cursor_of(data)
            recheck = frames.recheck_of(data)
            if cursor is not None:
                await self.resume(cursor)
            elif recheck is None or "message" in data or "typing" in data:
                await self.go_live()  # its first frame was no resume: live from its connect time
            if recheck is not None:  # may come before the resume ("load older" while connecting)
                await self.recheck(*recheck)
            if "typing" in data:
                typing = TypingForm.from_frame(data)
                if not typing.is_valid():
                    raise frames.FrameError("bad_type")
                await self.typing(typing.cleaned_data["typing"])
            if "message" in data:
                await self.post(data)
        except frames.FrameError as error:
            await self.send_error(error.code, lambda: error.text, failed)
        except Room.DoesNotExist:
            await self.close(code=CLOSE_NO_SUCH_ROOM)
        except Exception:
            # The sender is told; the socket ends with a code the browser retries, and the
            # reconnect resumes from the database (which may be what just failed).
            logger.exception("%s: error handling a frame author=%s", self.label, self.author_key)
            error = frames.FrameError("unavailable")
            await self.send_error(error.code, lambda: error.text, failed)
            raise RetryableClose("error handling a frame") from None

    async def send_error(self, code: str, text: Callable[[], str], failed: str | None = None) -> None:
        await self.send(text_data=self.in_variant(lambda: fragments.error(code, text(), failed)))

    async def post(self, data: dict[str, Any]) -> None:
        with translation.override(self.variant.language):  # validation formats some of its messages
            form = MessageForm.from_frame(data)
            valid = form.is_valid()
        if not valid:
            await self.send_error(form.error_code(), form.error_text, _nonce_of(data))
            return
        if self.messages is None:  # made on the first post: most sockets only ever read
            self.messages = TokenBucket(settings.ROOMS_RATE_BURST, settings.ROOMS_RATE_PER_SEC)
        if not self.messages.allow():
            raise frames.FrameError("rate_limited")
        # Rendered for everyone in this socket's variant: the way its author reads.
        text, nonce = form.cleaned_data["message"], form.cleaned_data["nonce"]
        await posting.post_queue(self.channel_layer).post(
            writes.NewPost(self.room_id, self.author, text, nonce, self.variant)
        )
        with translation.override(self.variant.language):  # no times in it: the language is enough
            ack = fragments.sent(form.cleaned_data["nonce"])
        await self.send(text_data=ack)
        await self.stop_typing(self.room_id)  # their message is here: they no longer type it

    async def typing(self, typing: bool) -> None:
        """The page says its person is typing (or stopped). At most about one per 2 s per socket
        goes out (the rest are dropped: the next one that goes out renews it), never stored."""
        if not typing:
            await self.stop_typing(self.room_id)
            return
        if self.typings is None:
            self.typings = TokenBucket(settings.ROOMS_TYPING_BURST, settings.ROOMS_TYPING_PER_SEC)
        if not self.typings.allow():
            return
        self.typing_until = asyncio.get_running_loop().time() + settings.ROOMS_TYPING_SECONDS
        await self._publish_typing(self.room_id, True)

    async def stop_typing(self, room: int | None) -> None:
        if room is None or self.typing_until <= asyncio.get_running_loop().time():
            return  # not typing now, for anyone
        self.typing_until = 0.0
        await self._publish_typing(room, False)

    async def _publish_typing(self, room: int | None, typing: bool) -> None:
        name = self.author.name if self.author else ""
        event = {"type": "room.typing", "key": self.author_key, "name": name, "typing": typing}
        try:
            await self.channel_layer.group_send(presence.room_group(room), event)
        except Exception:  # ephemeral: a lost "typing" runs out by itself
            logger.warning("%s: could not publish typing", self.label, exc_info=True)

    async def author_renamed(self, event: dict[str, Any]) -> None:
        await super().author_renamed(event)
        if self.room_id is not None:
            await presence.presence_for(self.channel_layer).renamed(self, self.room_id)


def _nonce_of(data: dict[str, Any]) -> str:
    """The frame's nonce as the page sent it, to name the send an answer is for ("" if it has none
    a page could have sent)."""
    nonce = data.get("nonce")
    return nonce if isinstance(nonce, str) and len(nonce) <= MessageForm.base_fields["nonce"].max_length else ""

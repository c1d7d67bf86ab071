"""WebSocket consumers: authorise, subscribe, forward. No ORM writes of their own.

RoomConsumer keeps one number per socket, the cursor: the seq of the newest message this socket
has shown. Live events at cursor + 1 are forwarded as they are (rendered once, by broadcast.py);
older ones are duplicates and dropped; a jump means the layer lost something, and the socket is
repaired from the database. Until the browser's resume frame says where its page stands, live
events are dropped: the resume reads them from the database anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from rooms import broadcast, catchup, fragments, frames, identity, writes
from rooms.forms import MessageForm
from rooms.models import Room
from rooms.ratelimit import TokenBucket

logger = logging.getLogger(__name__)

CLOSE_NO_SUCH_ROOM = 4404


def _language(scope: dict[str, Any]) -> str:
    """The socket's language, as LocaleMiddleware would pick it for a page (cookie, then header)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
    accepted = translation.trans_real.parse_accept_lang_header(headers.get("accept-language", ""))
    for candidate in [cookie, *(lang for lang, _q in accepted)]:
        if not candidate:
            continue
        try:
            return translation.get_supported_language_variant(candidate)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class FastDispatchMixin:
    """Skip Channels' per-event ``aclose_old_connections()`` thread hop.

    Channels runs it before every handler so that handlers touching the ORM on the event loop do
    not keep stale connections. Ours never do: all database work goes through
    ``database_sync_to_async``, which closes old connections in the database thread itself. The
    hop would cost one thread round trip per delivered message per socket (see bench/README.md).
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class RoomConsumer(FastDispatchMixin, AsyncWebsocketConsumer):
    room_id: int | None = None
    cursor: int | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        room = await database_sync_to_async(Room.objects.filter(slug=slug).first)()
        # Accept first, then close with a 4xxx code: a refusal before accept looks like a network
        # error (1006) to the browser, and the htmx extension would retry it forever.
        await self.accept()
        if room is None:
            await self.close(code=CLOSE_NO_SUCH_ROOM)
            return
        self.room_id = room.pk
        self.group = room.group_name
        self.language = _language(self.scope)
        self.author = await database_sync_to_async(identity.author_for_socket)(
            self.scope.get("user"), self.scope.get("session")
        )
        self.limiter = TokenBucket(settings.ROOMS_RATE_BURST, settings.ROOMS_RATE_PER_SEC)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.room_id is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.room_id is None:
            return
        with translation.override(self.language):
            try:
                data = frames.parse(text_data, bytes_data)
                cursor = frames.cursor_of(data)
                if cursor is not None:
                    await self.resume(cursor)
                if "message" in data:
                    await self.post(data)
            except frames.FrameError as error:
                await self.send(text_data=fragments.error(error.code, error.text))
            except Room.DoesNotExist:
                await self.close(code=CLOSE_NO_SUCH_ROOM)
            except Exception:
                logger.exception("room %s: error handling a frame from %s", self.room_id, self.author.key)
                error = frames.FrameError("unavailable")
                await self.send(text_data=fragments.error(error.code, error.text))

    async def resume(self, cursor: int) -> None:
        """The page says it shows everything up to ``cursor``: send what came after, go live."""
        if self.cursor is not None:
            return  # one resume per socket; a later one could only duplicate what was sent
        html, self.cursor = await database_sync_to_async(catchup.frame_after)(self.room_id, cursor, status=True)
        await self.send(text_data=html)

    async def post(self, data: dict[str, Any]) -> None:
        form = MessageForm.from_frame(data)
        if not form.is_valid():
            await self.send(text_data=fragments.error(form.error_code(), form.error_text()))
            return
        if not self.limiter.allow():
            raise frames.FrameError("rate_limited")
        await database_sync_to_async(writes.post_message)(
            self.room_id, self.author, form.cleaned_data["message"], form.cleaned_data["nonce"]
        )
        await self.send(text_data=fragments.sent())

    async def room_event(self, event: dict[str, Any]) -> None:
        seq = event["seq"]
        if self.cursor is None or seq <= self.cursor:
            return
        if seq == self.cursor + 1:
            self.cursor = seq
            await self.send(text_data=event["html"])
            return
        logger.info("room %s: gap %s..%s, repairing from the database", self.room_id, self.cursor, seq)
        html, self.cursor = await database_sync_to_async(catchup.frame_after)(self.room_id, self.cursor)
        await self.send(text_data=html)


class LobbyConsumer(FastDispatchMixin, AsyncWebsocketConsumer):
    """The live lobby: the full list on every socket open, then one row per change."""

    async def connect(self) -> None:
        await self.accept()
        await self.channel_layer.group_add(broadcast.LOBBY_GROUP, self.channel_name)
        html = await database_sync_to_async(lambda: fragments.lobby_list(list(Room.objects.listed())))()
        await self.send(text_data=html)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(broadcast.LOBBY_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The lobby socket only listens; anything sent to it is ignored."""

    async def lobby_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])

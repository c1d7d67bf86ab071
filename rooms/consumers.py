"""WebSocket consumers: authorise, subscribe, forward. No ORM writes of their own.

RoomConsumer keeps one number per socket, the cursor: the seq of the newest message this socket
has shown. Live events at cursor + 1 are forwarded as they are (rendered once, by broadcast.py);
older ones are duplicates and dropped; a jump means the layer lost something, and the socket is
repaired from the database. Until the browser's resume frame says where its page stands, live
events are dropped: the resume reads them from the database anyway.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.conf import settings
from django.utils import translation

from rooms import broadcast, catchup, fanout, fragments, frames, identity, layerwatch, writes
from rooms.db import database_sync_to_async
from rooms.forms import MessageForm
from rooms.guards import CLOSE_FLOOD, CLOSE_NO_SUCH_ROOM, CLOSE_REFUSED, RetryableClose, client_address, limits
from rooms.models import Room
from rooms.ratelimit import TokenBucket

logger = logging.getLogger("rooms.sockets")

# Live events held while a socket reads the database (resume, repair): at most this many.
PENDING_LIMIT = 1000


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


def _receive_queue(receive: Any) -> asyncio.Queue[dict[str, Any]] | None:
    """The queue behind ``receive`` when it is a plain ``asyncio.Queue.get``, as daphne's and
    Channels' test communicator's are; then events for this socket can be put in it. Any other
    server gets a separate in-process inbox and a second wait."""
    queue = getattr(receive, "__self__", None)
    if isinstance(queue, asyncio.Queue) and getattr(receive, "__func__", None) is asyncio.Queue.get:
        return queue
    return None


class GuardedConsumer(AsyncWebsocketConsumer):
    """What every Madang socket shares: connection caps, bans, a maximum age, flood control,
    one-line logs, and dispatch without Channels' per-event database hop."""

    author: identity.Author | None = None
    counted = False
    expires_at: float | None = None  # event-loop time; rooms.fanout.LocalSockets ends the socket then
    label = "socket"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """AsyncConsumer.__call__ without a channel-layer channel per socket: room, lobby and
        control events arrive through this process's hubs (rooms.fanout), and what is meant for
        this socket alone (a repair, a ban, its maximum age, a layer outage) through
        ``self.local``."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        inbox = _receive_queue(receive)
        try:
            if inbox is not None:
                # The server's own queue of ASGI events for this socket carries ours too: one wait
                # per idle socket, no task (bench/README.md: 3 KB less per socket).
                self.local = inbox
                while True:
                    await self.dispatch(await receive())
            else:
                self.local = fanout.Inbox()
                await await_many_dispatch([receive, self.local.get], self.dispatch)
        except StopConsumer:
            pass
        finally:
            # Also when the socket ends by an exception (RetryableClose), which skips disconnect().
            try:
                await self.release()
            except Exception:
                logger.warning("%s: cleanup failed", self.label, exc_info=True)

    async def layer_lost(self, event: dict[str, Any]) -> None:
        logger.info("%s: channel layer had an outage, ending it for a reconnect author=%s", self.label, self.author_key)
        raise RetryableClose("channel layer outage")

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs aclose_old_connections() (a thread round trip) before every handler, so
        # handlers that use the ORM on the event loop do not keep stale connections. Ours never do:
        # all database work goes through database_sync_to_async (rooms.db), which tidies
        # connections in the database thread. Skipping the hop saves one thread round trip per
        # delivered message per socket (bench/README.md).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def admit(self) -> bool:
        """Accept the socket, or accept-then-close it with 4003 (banned, or over a cap)."""
        self.address = client_address(self.scope)
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        await self.accept()
        banned, self.author = await database_sync_to_async(self._identify)()
        if banned:
            logger.warning("refused %s: banned account addr=%s", self.label, self.address)
            await self.close(code=CLOSE_REFUSED)
            return False
        if not limits.acquire(self.session_key, self.address):
            logger.warning("refused %s: connection cap author=%s addr=%s", self.label, self.author.key, self.address)
            await self.close(code=CLOSE_REFUSED)
            return False
        self.counted = True
        self.frames = TokenBucket(settings.ROOMS_FLOOD_BURST, settings.ROOMS_FLOOD_PER_SEC)
        layerwatch.watch_for(self.channel_layer)
        if settings.ROOMS_MAX_SOCKET_AGE > 0:
            # Spread, so sockets opened together (after a restart) do not all reconnect together.
            after = settings.ROOMS_MAX_SOCKET_AGE * random.uniform(0.9, 1.0)
            self.expires_at = asyncio.get_running_loop().time() + after
        await fanout.local_sockets(self.channel_layer).add(self)
        return True

    def _identify(self) -> tuple[bool, identity.Author]:
        session = self.scope.get("session")
        return identity.is_banned(session), identity.author_for_socket(self.scope.get("user"), session)

    async def socket_expire(self, event: dict[str, Any]) -> None:
        logger.info("%s reached its maximum age, ending it for a reconnect author=%s", self.label, self.author_key)
        raise RetryableClose("maximum socket age")

    async def user_banned(self, event: dict[str, Any]) -> None:
        logger.warning("closing %s of banned account author=%s addr=%s", self.label, self.author_key, self.address)
        await self.close(code=CLOSE_REFUSED)

    @property
    def user_id(self) -> int | None:
        return self.author.user_id if self.author else None

    @property
    def author_key(self) -> str:
        return self.author.key if self.author else "-"

    def flooding(self) -> bool:
        return not self.frames.allow()

    async def disconnect(self, code: int) -> None:
        logger.info("%s closed code=%s author=%s addr=%s", self.label, code, self.author_key, self.address)

    async def release(self) -> None:
        """Give back what the socket held (cap counts, subscriptions). Runs once, however the
        socket ended."""
        if self.counted:
            self.counted = False
            limits.release(self.session_key, self.address)
            await fanout.local_sockets(self.channel_layer).remove(self)


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
        with translation.override(_language(self.scope)):
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
        with translation.override(_language(self.scope)):  # validation formats some of its messages
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
        """Called by the room's hub (rooms.fanout) with the events that arrived, in layer order."""
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


class LobbyConsumer(GuardedConsumer):
    """The live lobby: the full list on every socket open, then one row per change."""

    label = "lobby socket"

    async def connect(self) -> None:
        if not await self.admit():
            return
        self.hub = fanout.hub_for(self.channel_layer, broadcast.LOBBY_GROUP)
        await self.hub.join(self)
        self.joined = True
        html = await database_sync_to_async(lambda: fragments.lobby_list(list(Room.objects.listed())))()
        await self.send(text_data=html)

    async def release(self) -> None:
        if getattr(self, "joined", False):
            self.joined = False
            await self.hub.leave(self)
        await super().release()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The lobby socket only listens; a client that keeps sending anyway is flooding."""
        if self.counted and self.flooding():
            await self.close(code=CLOSE_FLOOD)

    async def deliver(self, batch: fanout.Batch) -> None:
        """Called by the lobby hub: rows are whole, so they are forwarded as they are."""
        if batch.frame is not None:
            await self.base_send(batch.frame)

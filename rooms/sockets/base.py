"""What every Madang socket shares: admission (caps, bans), a maximum age, flood control,
one-line logs, its page's language and time zone, and dispatch without Channels' per-event database hop.

Sockets have no channel-layer channel: room, lobby and control events arrive through this
process's hubs (rooms.live.fanout), and what is meant for one socket alone (a repair, a ban, its
maximum age, a layer outage) through its own in-process queue, ``self.local``.
"""

from __future__ import annotations

import asyncio
import dataclasses
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

from rooms import fragments, identity, preferences
from rooms.live import layerwatch, local, per_loop
from rooms.ratelimit import TokenBucket
from rooms.sockets.db import database_sync_to_async
from rooms.sockets.guards import CLOSE_REFUSED, RetryableClose, client_address, limits
from rooms.variants import Variant

logger = logging.getLogger("rooms.sockets")


def language_of(scope: dict[str, Any]) -> str:
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
    expires_at: float | None = None  # event-loop time; rooms.live.local.LocalSockets ends the socket then
    label = "socket"
    # Until the handshake completes nothing can be sent: whole states (presence, typing) that
    # reach it before are held here and sent right after (rooms.sockets.stream).
    early: list[dict[str, str]] | None = None
    # Its page's language and time zone: what it is sent is rendered in these (rooms.variants).
    variant: Variant

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """AsyncConsumer.__call__ without a channel-layer channel per socket: room, lobby and
        control events arrive through this process's hubs (rooms.live.fanout), and what is meant for
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
                self.local = local.Inbox()
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
        # all database work goes through database_sync_to_async (rooms.sockets.db), which tidies
        # connections in the database thread. Skipping the hop saves one thread round trip per
        # delivered message per socket (bench/README.md).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def admit(self) -> bool:
        """Accept the socket, or accept-then-close it with 4003 (banned, or over a cap).

        What the socket needs from the database (who it is, and ``look_up()``'s answer, kept in
        ``self.found``) is read in one hop, and ``subscribe()`` runs before the handshake
        completes: an event published after the client sees its socket open is never missed."""
        self.address = client_address(self.scope)
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        banned, self.author, self.found = await database_sync_to_async(self._identify)()
        self.counted = not banned and limits.acquire(self.session_key, self.address)
        unsubscribed = None
        if self.counted:
            self.early = []
            try:
                await self.subscribe()
            except Exception as exc:  # the channel layer is down: answer the handshake all the same
                unsubscribed = exc
        await self.accept()
        early, self.early = self.early or [], None
        for frame in early:
            await self.base_send(frame)
        if banned:
            logger.warning("refused %s: banned account addr=%s", self.label, self.address)
            await self.close(code=CLOSE_REFUSED)
            return False
        if not self.counted:
            logger.warning("refused %s: connection cap author=%s addr=%s", self.label, self.author.key, self.address)
            await self.close(code=CLOSE_REFUSED)
            return False
        if unsubscribed is not None:
            # A code the browser retries (a failed handshake would be a 500 to a script).
            logger.warning("%s: could not subscribe (%s), ending it for a reconnect", self.label, unsubscribed)
            raise RetryableClose("channel layer unavailable")
        self.frames = TokenBucket(settings.ROOMS_FLOOD_BURST, settings.ROOMS_FLOOD_PER_SEC)
        layerwatch.watch_for(self.channel_layer)
        if settings.ROOMS_MAX_SOCKET_AGE > 0:
            # Spread, so sockets opened together (after a restart) do not all reconnect together.
            after = settings.ROOMS_MAX_SOCKET_AGE * random.uniform(0.9, 1.0)
            self.expires_at = asyncio.get_running_loop().time() + after
        await per_loop.local_sockets(self.channel_layer).add(self)
        return True

    async def send_state(self, frame: dict[str, str]) -> None:
        """A whole state (presence, typing): held until the handshake completes (the latest few)."""
        if self.early is not None:
            self.early = [*self.early[-3:], frame]
            return
        await self.base_send(frame)

    def _identify(self) -> tuple[bool, identity.Author, Any]:
        session = self.scope.get("session")
        author = identity.author_for_socket(self.scope.get("user"), session)
        self.variant = preferences.variant_for(session, language_of(self.scope))
        return identity.is_banned(session), author, self.look_up()

    def in_variant(self, render: Callable[[], str]) -> str:
        """Render what only this socket sees in its page's language and time zone."""
        with self.variant.active():
            return render()

    def look_up(self) -> Any:
        """What this kind of socket reads from the database as it opens (in the database thread)."""
        return None

    async def subscribe(self) -> None:
        """Join this socket's hubs; runs before the handshake completes (``admit``)."""

    async def socket_expire(self, event: dict[str, Any]) -> None:
        logger.info("%s reached its maximum age, ending it for a reconnect author=%s", self.label, self.author_key)
        raise RetryableClose("maximum socket age")

    async def author_renamed(self, event: dict[str, Any]) -> None:
        """This person took a new name (in this tab or another): post under it from now on, and
        show it in this page's header (its identity area, rendered for this socket)."""
        if self.author is None:
            return
        self.author = dataclasses.replace(self.author, name=event["name"])
        author = self.author
        csrf_secret = self.scope.get("cookies", {}).get(settings.CSRF_COOKIE_NAME)
        html = self.in_variant(lambda: fragments.identity(author, self.page_path(), csrf_secret))
        await self.send(text_data=html)

    def page_path(self) -> str:
        """The path of the page this socket belongs to (where the header's forms lead back to)."""
        return "/"

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
            await per_loop.local_sockets(self.channel_layer).remove(self)

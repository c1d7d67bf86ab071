"""This process's sockets, outside any group: what reaches one socket alone (a ban, a rename, the
end of its maximum age, a layer outage) goes into its own in-process queue (``Inbox``, or the
server's receive queue), one sweep ends every socket's maximum age, and control events (bans,
renames) arrive through one hub for all of them (rooms.live.fanout)."""

from __future__ import annotations

import asyncio
import random
from typing import Any, Protocol

from channels.layers import BaseChannelLayer
from django.conf import settings

from rooms.live import fanout, per_loop
from rooms.live.batch import Batch


class Inbox:
    """Events for one socket from inside this process (a ban, its maximum age, a layer outage,
    a gap to repair): what an ``asyncio.Queue`` does here, in a fraction of its memory (a queue
    costs about 2.5 KB with its deques and event; there is one per open socket)."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.waiter: asyncio.Future[dict[str, Any]] | None = None

    def put_nowait(self, event: dict[str, Any]) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(event)
        else:
            self.items.append(event)

    async def get(self) -> dict[str, Any]:
        if self.items:
            return self.items.pop(0)
        self.waiter = asyncio.get_running_loop().create_future()
        return await self.waiter


class LocalQueue(Protocol):
    def put_nowait(self, event: dict[str, Any]) -> None: ...


class Socket(Protocol):
    local: LocalQueue  # an Inbox, or the server's own receive queue (rooms.sockets.base)
    expires_at: float | None
    user_id: int | None
    author_key: str


class LocalSockets:
    """This process's open sockets (on one event loop), for events addressed to some or all, and
    the end of each one's maximum age (``socket.expires_at``, event-loop time): one sweep for all
    of them instead of a timer per socket."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.sockets: dict[int, Socket] = {}
        self.sweeper: asyncio.Task[None] | None = None

    async def add(self, socket: Socket) -> None:
        self.sockets[id(socket)] = socket
        if socket.expires_at is not None and (self.sweeper is None or self.sweeper.done()):
            self.sweeper = asyncio.get_running_loop().create_task(self._expire())
        await per_loop.hub_for(self.layer, fanout.CONTROL_GROUP).join(self)

    async def _expire(self) -> None:
        # A twentieth of the maximum age between sweeps (at most 30 s): late by that much at
        # worst, which the ages' own spread (rooms.sockets.base) dwarfs.
        interval = min(30.0, max(0.05, settings.ROOMS_MAX_SOCKET_AGE / 20))
        loop = asyncio.get_running_loop()
        while self.sockets:
            await asyncio.sleep(interval)
            now = loop.time()
            for socket in list(self.sockets.values()):
                if socket.expires_at is not None and socket.expires_at <= now:
                    socket.expires_at = None
                    socket.local.put_nowait({"type": "socket.expire"})

    async def remove(self, socket: Socket) -> None:
        self.sockets.pop(id(socket), None)
        if not self.sockets:
            await per_loop.hub_for(self.layer, fanout.CONTROL_GROUP).leave(self)

    async def deliver(self, batch: Batch) -> None:
        """Control events: ``user.banned`` closes every socket of that account; ``author.renamed``
        gives every socket of that author key its new name."""
        for event in batch.events:
            if event["type"] == "user.banned":
                for socket in list(self.sockets.values()):
                    if socket.user_id == event["user_id"]:
                        socket.local.put_nowait({"type": "user.banned"})
            elif event["type"] == "author.renamed":
                for socket in list(self.sockets.values()):
                    if socket.author_key == event["author_key"]:
                        socket.local.put_nowait({"type": "author.renamed", "name": event["name"]})

    def tell_all(self, event: dict[str, Any], spread: float = 0.0) -> None:
        """Hand ``event`` to every socket open now: at once, or each at a random moment within
        ``spread`` seconds (one timer handle per socket, no task), skipping those closed by then."""
        if spread <= 0:
            for socket in list(self.sockets.values()):
                socket.local.put_nowait(event)
            return
        loop = asyncio.get_running_loop()
        for socket in list(self.sockets.values()):
            loop.call_later(random.uniform(0, spread), self._tell, socket, event)

    def _tell(self, socket: Socket, event: dict[str, Any]) -> None:
        if self.sockets.get(id(socket)) is socket:
            socket.local.put_nowait(event)

"""Process-local fan-out: one channel-layer subscription per group per process.

Channels' usual shape gives every socket its own layer channel and its own subscription to each
group: each event is then queued, deserialised and dispatched once per socket, through a new
asyncio task per socket per event, and with the Redis pub/sub layer every socket costs a
SUBSCRIBE. Here a hub subscribes once per process to a group (a room, the lobby, the control
group) and hands each event, already rendered once for everyone by broadcast.py, to the
process's sockets in a plain loop; each socket applies its own rules (``deliver``). Sockets have
no layer channel at all: what else reaches one socket (a ban, the end of its maximum age, a layer
outage) arrives through ``LocalSockets`` and the socket's own in-process queue.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

logger = logging.getLogger("rooms.fanout")

CONTROL_GROUP = "madang-control"


class Member(Protocol):
    async def deliver(self, event: dict[str, Any]) -> None: ...


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


class Socket(Protocol):
    local: Inbox
    user_id: int | None


class Hub:
    def __init__(self, layer: BaseChannelLayer, group: str) -> None:
        self.layer = layer
        self.group = group
        self.members: dict[int, Member] = {}  # insertion-ordered; keyed by id() for O(1) leave
        self.channel: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def join(self, member: Member) -> None:
        async with self.lock:
            if self.task is None or self.task.done():
                # The default prefix: channels_redis's core layer reads all of a process's channels
                # through one Redis key per prefix, and two prefixes would starve each other.
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self.channel)
                self.task = asyncio.get_running_loop().create_task(self._run(self.channel))
            self.members[id(member)] = member

    async def leave(self, member: Member) -> None:
        async with self.lock:
            self.members.pop(id(member), None)
            if self.members or self.task is None:
                return
            task, channel, self.task, self.channel = self.task, self.channel, None, None
            task.cancel()
            try:
                await self.layer.group_discard(self.group, channel)
            except Exception:
                logger.debug("group_discard for %s failed", self.group, exc_info=True)

    def forget_subscription(self) -> None:
        """The layer lost it in an outage: the next join subscribes afresh."""
        if self.task is not None:
            self.task.cancel()
            self.task = self.channel = None

    async def _run(self, channel: str) -> None:
        while True:
            event = await self.layer.receive(channel)
            if "html" in event:
                # The ASGI message, built once: daphne does not modify what it is given to send.
                event["frame"] = {"type": "websocket.send", "text": event["html"]}
            # A plain loop: daphne's send does not suspend, so one event reaches every local
            # socket without a task switch per socket.
            for member in list(self.members.values()):
                try:
                    await member.deliver(event)
                except Exception:
                    logger.exception("delivering %s to a socket failed", event.get("type"))


class LocalSockets:
    """This process's open sockets (on one event loop), for events addressed to some or all."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.sockets: dict[int, Socket] = {}

    async def add(self, socket: Socket) -> None:
        self.sockets[id(socket)] = socket
        await hub_for(self.layer, CONTROL_GROUP).join(self)

    async def remove(self, socket: Socket) -> None:
        self.sockets.pop(id(socket), None)
        if not self.sockets:
            await hub_for(self.layer, CONTROL_GROUP).leave(self)

    async def deliver(self, event: dict[str, Any]) -> None:
        """Control events: ``user.banned`` closes every socket of that account."""
        if event["type"] == "user.banned":
            for socket in list(self.sockets.values()):
                if socket.user_id == event["user_id"]:
                    socket.local.put_nowait({"type": "user.banned"})

    def tell_all(self, event: dict[str, Any]) -> None:
        for socket in list(self.sockets.values()):
            socket.local.put_nowait(event)


class _LoopState:
    def __init__(self) -> None:
        self.hubs: dict[str, Hub] = {}
        self.sockets: LocalSockets | None = None


_state: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()


def _loop_state() -> _LoopState:
    # Per event loop: a process runs one (daphne), tests run one per test.
    return _state.setdefault(asyncio.get_running_loop(), _LoopState())


def hub_for(layer: BaseChannelLayer, group: str) -> Hub:
    hubs = _loop_state().hubs
    hub = hubs.get(group)
    if hub is None or hub.layer is not layer:
        hub = hubs[group] = Hub(layer, group)
    return hub


def local_sockets(layer: BaseChannelLayer) -> LocalSockets:
    state = _loop_state()
    if state.sockets is None or state.sockets.layer is not layer:
        state.sockets = LocalSockets(layer)
    return state.sockets


def layer_recovered() -> None:
    """After a channel-layer outage: resubscribe on next use, and end every open socket for a
    reconnect (each may have missed events; its reconnect resumes from the database)."""
    state = _loop_state()
    for hub in state.hubs.values():
        hub.forget_subscription()
    if state.sockets is not None:
        state.sockets.tell_all({"type": "layer.lost"})

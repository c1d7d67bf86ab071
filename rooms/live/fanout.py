"""Process-local fan-out: one channel-layer subscription per group per process.

Channels' usual shape gives every socket its own layer channel and its own subscription to each
group: each event is then queued, deserialised and dispatched once per socket, through a new
asyncio task per socket per event, and with the Redis pub/sub layer every socket costs a
SUBSCRIBE. Here a hub subscribes once per process to a group (a room, the lobby, the control
group) and hands each event, already rendered once for everyone by broadcast.py, to the
process's sockets in a plain loop; each socket applies its own rules (``deliver``). Sockets have
no layer channel at all: what else reaches one socket (a ban, the end of its maximum age, a layer
outage) arrives through ``LocalSockets`` and the socket's own in-process queue.

Under load, events arrive faster than one can be written to every socket. A hub then hands its
sockets everything that is waiting as one ``Batch``: one WebSocket frame with the fragments one
after the other (each is a self-contained set of out-of-band swaps, so htmx applies a batch
exactly as it would the frames in turn). A fan-out yields to the event loop every few sockets,
so posts made while it writes reach the backlog. Nothing waits to fill a batch: a quiet room's
events go out one by one as they come; only a backlog is coalesced, so the cost of a send is
shared by more messages exactly when the room is busiest (bench/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from typing import Any, Protocol

from channels.layers import BaseChannelLayer
from django.conf import settings

from rooms.live.order import StreamOrder

logger = logging.getLogger("rooms.fanout")

CONTROL_GROUP = "madang-control"

# Events per batch at most: bounds a frame's size (a message fragment is about 1 KB).
MAX_BATCH = 100

# Sockets written between two yields to the event loop during one fan-out. daphne's send never
# suspends, so without a yield a fan-out to a big room holds the loop for its whole length (about
# 50 ms for 1,000 sockets here): posts arriving meanwhile could not reach the layer until it ended,
# and every event went out in a frame of its own. With a yield every few sockets they land in the
# backlog, and the next batch carries them all. 10 was best of 5, 10, 20 and 50 here; 50 gave
# back half the gain (bench/README.md).
YIELD_EVERY = 10


class Batch:
    """Events a hub hands to its sockets at once, in stream order, and the one ASGI message that
    sends all of their fragments (built once, shared by every socket: daphne does not modify
    what it is given to send)."""

    __slots__ = ("events", "frame", "span")

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        html = [event["html"] for event in events if "html" in event]
        self.frame = {"type": "websocket.send", "text": "".join(html)} if html else None
        # The range of room event numbers, when the batch is nothing but consecutive room events
        # (the usual case): a socket whose cursor is just before it takes the whole frame as it is.
        numbers = [event.get("event") for event in events if event["type"] == "room.event"]
        consecutive = len(numbers) == len(events) and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        self.span = (numbers[0], numbers[-1]) if consecutive else None


class Member(Protocol):
    async def deliver(self, batch: Batch) -> None: ...


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


class Hub:
    """One group's subscription in this process and the sockets it feeds, in stream order
    (rooms.live.order)."""

    def __init__(self, layer: BaseChannelLayer, group: str) -> None:
        self.layer = layer
        self.group = group
        self.members: dict[int, Member] = {}  # insertion-ordered; keyed by id() for O(1) leave
        self.channel: str | None = None
        self.tasks: tuple[asyncio.Task[None], ...] = ()
        self.lock = asyncio.Lock()
        self.backlog: list[dict[str, Any]] = []
        self.waiter: asyncio.Future[None] | None = None
        self.order = StreamOrder(group, self._hand_out)

    @property
    def subscribed(self) -> bool:
        return bool(self.tasks) and not any(task.done() for task in self.tasks)

    async def join(self, member: Member, after: int | None = None) -> None:
        """Add a socket. ``after``: the room's newest event when the socket looked (where the
        stream stands, if this hub has not seen an event yet)."""
        async with self.lock:
            if not self.subscribed:
                self._stop()
                # The default prefix: channels_redis's core layer reads all of a process's channels
                # through one Redis key per prefix, and two prefixes would starve each other.
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self.channel)
                loop = asyncio.get_running_loop()
                self.tasks = (loop.create_task(self._receive(self.channel)), loop.create_task(self._fan_out()))
            if after is not None:
                self.order.start_after(after)
            self.members[id(member)] = member

    async def leave(self, member: Member) -> None:
        async with self.lock:
            self.members.pop(id(member), None)
            if self.members or not self.tasks:
                return
            channel = self.channel
            self._stop()
            try:
                await self.layer.group_discard(self.group, channel)
            except Exception:
                logger.debug("group_discard for %s failed", self.group, exc_info=True)

    def forget_subscription(self) -> None:
        """The layer lost it in an outage: the next join subscribes afresh."""
        self._stop()

    def _stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks, self.channel, self.backlog = (), None, []
        self.order.reset()

    async def _receive(self, channel: str) -> None:
        # While the fan-out task writes to sockets, events pile up in the layer's queue; this
        # takes all of them in one go (a receive from a non-empty queue does not suspend).
        while True:
            self.order.arrive(await self.layer.receive(channel))

    def _hand_out(self, event: dict[str, Any]) -> None:
        self.backlog.append(event)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def _fan_out(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.backlog:
                self.waiter = loop.create_future()
                await self.waiter
            batch = Batch(self.backlog[:MAX_BATCH])
            del self.backlog[:MAX_BATCH]
            # A plain loop, no task per socket (daphne's send does not suspend), with a yield every
            # YIELD_EVERY sockets so posts can reach the backlog meanwhile.
            for n, member in enumerate(list(self.members.values()), 1):
                try:
                    await member.deliver(batch)
                except Exception:
                    logger.exception("delivering %d events to a socket failed", len(batch.events))
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)


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
        await hub_for(self.layer, CONTROL_GROUP).join(self)

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
            await hub_for(self.layer, CONTROL_GROUP).leave(self)

    async def deliver(self, batch: Batch) -> None:
        """Control events: ``user.banned`` closes every socket of that account."""
        for event in batch.events:
            if event["type"] == "user.banned":
                for socket in list(self.sockets.values()):
                    if socket.user_id == event["user_id"]:
                        socket.local.put_nowait({"type": "user.banned"})

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
    reconnect (each may have missed events; its reconnect resumes from the database). The ends
    are spread over ``ROOMS_RECOVERY_SPREAD_SECONDS``: all at once, every page of the process
    would reconnect at once, a crowd as big as a restart's."""
    state = _loop_state()
    for hub in state.hubs.values():
        hub.forget_subscription()
    if state.sockets is not None:
        state.sockets.tell_all({"type": "layer.lost"}, spread=settings.ROOMS_RECOVERY_SPREAD_SECONDS)

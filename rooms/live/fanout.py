"""Process-local fan-out: one channel-layer subscription per group per process.

Channels' usual shape gives every socket its own layer channel and its own subscription to each
group: each event is then queued, deserialised and dispatched once per socket, through a new
asyncio task per socket per event, and with the Redis pub/sub layer every socket costs a
SUBSCRIBE. Here a hub subscribes once per process to a group (a room, the lobby, the control
group) and hands each event, already rendered once for everyone by broadcast.py, to the
process's sockets in a plain loop; each socket applies its own rules (``deliver``). Sockets have
no layer channel at all: what else reaches one socket (a ban, the end of its maximum age, a layer
outage) arrives through ``LocalSockets`` (rooms.live.local) and the socket's own in-process queue.

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
from collections.abc import Callable
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from rooms.live.batch import Batch
from rooms.live.order import RowStates, StreamOrder

__all__ = [
    "CONTROL_GROUP",
    "Batch",
    "Hub",
    "side_event",
]

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

# What else a hub does with some events, by type (``side_event``; registered as the app loads,
# rooms.apps): presence and typing pings (rooms.live.presence_lists, rooms.live.typing) carry no
# fragment, and the handlers keep this process's view of them and hand its sockets whole
# fragments (``Hub.hand_out``); an event that has its fragment (a lobby row) goes out first, then
# the handlers add to it (its count, unread counts: rooms.live.lobby_unread).
SIDE_EVENTS: dict[str, list[Callable[[Hub, dict[str, Any]], None]]] = {}


def side_event(kind: str, handler: Callable[[Hub, dict[str, Any]], None]) -> None:
    SIDE_EVENTS.setdefault(kind, []).append(handler)


class Member(Protocol):
    async def deliver(self, batch: Batch) -> None: ...


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
        self.order = StreamOrder(group, self.hand_out)
        self.rows = RowStates()  # lobby rows: whole states, never an older after a newer
        self.side: dict[str, Any] = {}  # what SIDE_EVENTS' handlers keep for this group

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
        for state in self.side.values():
            state.close()  # a side's timers and reads end with the subscription
        self.side = {}

    async def _receive(self, channel: str) -> None:
        # While the fan-out task writes to sockets, events pile up in the layer's queue; this
        # takes all of them in one go (a receive from a non-empty queue does not suspend).
        while True:
            event = await self.layer.receive(channel)
            if self.rows.stale(event):
                continue
            side = SIDE_EVENTS.get(event["type"], ())
            if not side or "html" in event:
                self.order.arrive(event)
            for handler in side:
                handler(self, event)

    def hand_out(self, event: dict[str, Any]) -> None:
        """Queue an event (with its "html" by variant, or a "snapshot" to render it from) for
        this hub's sockets."""
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

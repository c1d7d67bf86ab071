"""Process-local fan-out: one channel-layer subscription per room per process.

Channels' usual shape gives every socket its own layer subscription to the room's group: each
event is then queued, deserialised and dispatched once per socket, through a new asyncio task per
socket per event. A room hub subscribes once per process and hands each event (already rendered,
by broadcast.py, once for everyone) to the room's local sockets in a plain loop; each socket
applies its own cursor rules (``RoomConsumer.deliver``). What the layer carries, and what a
socket sends, are unchanged: only the per-socket plumbing in between is gone.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

logger = logging.getLogger("rooms.fanout")


class Member(Protocol):
    async def deliver(self, event: dict[str, Any]) -> None: ...


class RoomHub:
    def __init__(self, layer: BaseChannelLayer, group: str) -> None:
        self.layer = layer
        self.group = group
        self.members: dict[int, Member] = {}  # insertion-ordered; keyed by id() for O(1) leave
        self.channel: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def join(self, member: Member) -> None:
        async with self.lock:
            self.members[id(member)] = member
            if self.task is None or self.task.done():
                self.channel = await self.layer.new_channel("hub.")
                await self.layer.group_add(self.group, self.channel)
                self.task = asyncio.get_running_loop().create_task(self._run(self.channel))

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

    async def _run(self, channel: str) -> None:
        while True:
            event = await self.layer.receive(channel)
            # A plain loop: daphne's send does not suspend, so one event reaches every local
            # socket without a task switch per socket.
            for member in list(self.members.values()):
                try:
                    await member.deliver(event)
                except Exception:
                    logger.exception("delivering %s to a socket failed", event.get("type"))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RoomHub]] = weakref.WeakKeyDictionary()


def hub_for(layer: BaseChannelLayer, group: str) -> RoomHub:
    """This event loop's hub for ``group`` (hubs are per loop: tests run one loop per test)."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    hub = hubs.get(group)
    if hub is None or hub.layer is not layer:
        hub = hubs[group] = RoomHub(layer, group)
    return hub


def reset() -> None:
    """Forget this loop's subscriptions (the channel layer lost them in an outage): the hubs'
    sockets are being ended for a reconnect, and the next join subscribes afresh."""
    for hub in _hubs.get(asyncio.get_running_loop(), {}).values():
        if hub.task is not None:
            hub.task.cancel()
            hub.task = hub.channel = None

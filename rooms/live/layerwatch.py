"""Notice when the channel layer lost messages, and make every socket that may have missed
something reconnect.

The Redis layers are at-most-once: while Redis restarts, or a process's subscription connection
is re-established, messages published meanwhile are gone, and a Redis restart also forgets the
core layer's group memberships. A socket cannot tell a quiet room from a deaf one, so each
process probes its layer once a second by sending a message to itself through Redis. When a
probe fails and a later one succeeds again, every socket of this process that was open across
the outage is ended with a retryable close: the browser reconnects at once and resumes from the
database, which has everything.

An outage shorter than the probe interval can slip between two probes, but not past a broadcast:
when broadcast.py cannot hand an event to the layer, the watch counts that as an outage too, and
once the layer is back it sends the event again for the other processes' sockets (they drop what
they already have by its seq), besides ending this process's sockets as above.

The in-memory layer lives in the process and cannot lose a connection; it is not watched.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from rooms.live import fanout

logger = logging.getLogger("rooms.layer")

_watches: dict[tuple[int, int], LayerWatch] = {}

# Events kept for sending again after an outage: more than this and the oldest are dropped (the
# sockets that missed them repair from the database on the room's next message or reconnect).
UNSENT_LIMIT = 1000


class LayerWatch:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.group = f"probe-{uuid.uuid4().hex}"
        self.task: asyncio.Task[None] | None = None
        self.healthy = True
        self.unsent: list[tuple[str, dict[str, Any]]] = []

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        interval = settings.ROOMS_LAYER_PROBE_SECONDS
        channel: str | None = None
        n = 0
        while True:
            n += 1
            try:
                if channel is None:
                    channel = await self.layer.new_channel()
                await asyncio.wait_for(self.layer.group_add(self.group, channel), interval)
                await asyncio.wait_for(self.layer.group_send(self.group, {"type": "probe", "n": n}), interval)
                while (await asyncio.wait_for(self.layer.receive(channel), interval)).get("n") != n:
                    pass  # an older, late probe
                ok = True
            except Exception as exc:
                ok = False
                if self.healthy:
                    logger.warning("channel layer probe failed (%s); sockets will reconnect once it is back", exc)
                await self._reset()
                channel = None  # subscribe a fresh probe channel next time
            if ok and not self.healthy:
                logger.warning("channel layer is back; ending this process's sockets so they reconnect and resume")
                fanout.layer_recovered()
                ok = await self._send_again()
            self.healthy = ok
            await asyncio.sleep(interval)

    def broadcast_failed(self, group: str, event: dict[str, Any]) -> None:
        if self.healthy:
            logger.warning("a broadcast failed; sockets will reconnect once the channel layer is back")
        self.healthy = False
        if event.get("type") == "lobby.event":
            # A row is the room's whole state when it was rendered: sent late, it could overwrite
            # a newer one. This process's lobby sockets reload the list when they reconnect.
            return
        self.unsent.append((group, event))
        del self.unsent[:-UNSENT_LIMIT]

    async def _send_again(self) -> bool:
        """Send what broadcasts could not, in order. False if the layer failed again."""
        while self.unsent:
            group, event = self.unsent[0]
            try:
                await asyncio.wait_for(self.layer.group_send(group, event), settings.ROOMS_LAYER_PROBE_SECONDS)
            except Exception as exc:
                logger.warning("sending a missed broadcast again failed (%s); will retry", exc)
                return False
            self.unsent.pop(0)
        return True

    async def _reset(self) -> None:
        """Drop the pub/sub layer's connections so the next probe starts from scratch.

        channels_redis's pub/sub receiver stops reading once its subscription connection has
        failed (it only polls while subscribed, and it remembers the old subscriptions), so the
        process would stay deaf after Redis comes back. ``flush()`` on that layer only resets this
        process's own connections and maps; the sockets that held the old maps are all ended at
        recovery anyway. (The core layer reconnects per call, and its flush() would delete every
        process's queues in Redis, so it is left alone.)
        """
        if isinstance(self.layer, RedisPubSubChannelLayer):
            try:
                await self.layer.flush()
            except Exception:
                logger.debug("flush after a failed probe failed too", exc_info=True)


def broadcast_failed(layer: BaseChannelLayer, group: str, event: dict[str, Any]) -> None:
    """broadcast.py could not send ``event``: remember it for the running watch, if any (a watch
    lives on a server's event loop; a broadcast from elsewhere, such as a management command,
    has no sockets to repair)."""
    watch = _watches.get((id(layer), id(asyncio.get_running_loop())))
    if watch is not None and watch.task is not None and not watch.task.done():
        watch.broadcast_failed(group, event)


def watch_for(layer: BaseChannelLayer | None) -> LayerWatch | None:
    """The running watch of ``layer`` on this event loop (None for the in-memory layer)."""
    if layer is None or isinstance(layer, InMemoryChannelLayer) or settings.ROOMS_LAYER_PROBE_SECONDS <= 0:
        return None
    key = (id(layer), id(asyncio.get_running_loop()))
    watch = _watches.get(key)
    if watch is None:
        watch = _watches[key] = LayerWatch(layer)
    watch.start()
    return watch

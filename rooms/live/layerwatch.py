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

A slow layer is not a lost one. Under a crowd of sockets arriving at once (what a restart or a
deploy brings back) the event loop falls behind (by over a second on a loaded 2-core machine),
and the pub/sub layer queues all of a process's subscribes and publishes behind one lock per
shard, so a probe can take longer than the interval with Redis perfectly well. Ending every
socket then would bring the same crowd straight back. So
a probe that is late is not yet a failure: the watch asks Redis directly, on a connection of its
own outside the layer's lock, whether it is there and still holds this process's subscription,
and if it is, waits for the probe up to ``ROOMS_LAYER_PROBE_DEADLINE_SECONDS`` and counts a late
reply as healthy. Only an error from the layer, no answer from Redis, a subscription Redis no
longer holds, or no reply by the deadline is an outage. A recovery that does end sockets spreads
their ends over ``ROOMS_RECOVERY_SPREAD_SECONDS`` (``per_loop.layer_recovered``), so their
reconnects do not arrive as one crowd either.

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

from rooms.live import per_loop
from rooms.live.redis_check import LayerLost, RedisCheck

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
        self.channel: str | None = None  # the probe's layer channel, kept from one probe to the next
        self.confirmed = False  # a probe came back through it since it was subscribed
        self.redis = RedisCheck(layer, self.group)  # a direct look behind a Redis layer when it is slow

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        interval = settings.ROOMS_LAYER_PROBE_SECONDS
        n = 0
        try:
            while True:
                n += 1
                try:
                    await self._probe(n)
                    ok = True
                except Exception as exc:
                    ok = False
                    if self.healthy:
                        logger.warning("channel layer probe failed (%s); sockets will reconnect once it is back", exc)
                    await self._reset()
                if ok and not self.healthy:
                    logger.warning("channel layer is back; ending this process's sockets so they reconnect and resume")
                    per_loop.layer_recovered()
                    ok = await self._send_again()
                self.healthy = ok
                await asyncio.sleep(interval)
        finally:
            await self.redis.close()

    async def _probe(self, n: int) -> None:
        """Send probe ``n`` to this process through the layer and wait for it. Returns when it came
        back, however late; raises when the layer is lost."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + max(settings.ROOMS_LAYER_PROBE_DEADLINE_SECONDS, settings.ROOMS_LAYER_PROBE_SECONDS)
        # A task of its own, waited for and never cancelled while it may still succeed: cancelling
        # the layer's receive also unsubscribes the probe channel.
        trip = loop.create_task(self._round_trip(n))
        try:
            done, _ = await asyncio.wait({trip}, timeout=settings.ROOMS_LAYER_PROBE_SECONDS)
            if not done:
                answered = await self.redis.ask(deadline, confirmed=self.confirmed)
                done, _ = await asyncio.wait({trip}, timeout=max(0.0, deadline - loop.time()))
                if not done:
                    raise LayerLost(f"no probe reply within {deadline - started:g} s although Redis answers")
                logger.info(
                    "channel layer probe took %.2f s (Redis answered directly in %.2f s): slow, not lost",
                    loop.time() - started,
                    answered,
                )
            trip.result()  # the layer's own error, if it raised one
        finally:
            if not trip.done():
                trip.cancel()
                trip.add_done_callback(_retrieve)

    async def _round_trip(self, n: int) -> None:
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            self.confirmed = False
        await self.layer.group_add(self.group, self.channel)
        await self.layer.group_send(self.group, {"type": "probe", "n": n})
        while (await self.layer.receive(self.channel)).get("n") != n:
            pass  # an older, late probe
        self.confirmed = True

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
        """Send what broadcasts could not, in order. False if the layer failed again (a slow send
        is waited for up to the probe's deadline: right after a recovery the layer is busiest)."""
        deadline = max(settings.ROOMS_LAYER_PROBE_DEADLINE_SECONDS, settings.ROOMS_LAYER_PROBE_SECONDS)
        while self.unsent:
            group, event = self.unsent[0]
            try:
                await asyncio.wait_for(self.layer.group_send(group, event), deadline)
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
        self.channel = None  # subscribe a fresh probe channel next time
        if isinstance(self.layer, RedisPubSubChannelLayer):
            try:
                await self.layer.flush()
            except Exception:
                logger.debug("flush after a failed probe failed too", exc_info=True)


def _retrieve(task: asyncio.Task[None]) -> None:
    """A probe given up on: its late error is part of the outage already reported."""
    if not task.cancelled():
        task.exception()


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

"""A direct look behind a Redis channel layer, for the layer watch (rooms.live.layerwatch): when a
probe through the layer is slow, ask Redis itself whether it is there, on a connection of the
watch's own (outside the layer's lock and its queue of subscribes and publishes)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.layers import BaseChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import create_pool
from redis import asyncio as aioredis


class LayerLost(Exception):
    """The probe's verdict: the layer is gone, not merely slow."""


class RedisCheck:
    def __init__(self, layer: BaseChannelLayer, group: str) -> None:
        self.layer = layer
        self.group = group  # the probe's group
        self.redis: aioredis.Redis | None = None  # made when first needed

    async def ask(self, deadline: float, *, confirmed: bool) -> float:
        """Whether Redis is there; with the pub/sub layer and a ``confirmed`` probe subscription,
        also whether Redis still holds it (a restarted Redis forgets it, and then no reply can
        ever come). Returns how long the answer took; raises ``LayerLost``."""
        target = self._target()
        if target is None:
            return 0.0  # a layer this check cannot look behind: the deadline alone decides
        host, subscription = target
        if self.redis is None:
            self.redis = aioredis.Redis.from_pool(create_pool(host))
        loop = asyncio.get_running_loop()
        asked = loop.time()
        try:
            async with asyncio.timeout(max(0.0, deadline - asked)):
                if subscription is None or not confirmed:
                    await self.redis.ping()
                    subscribers = None
                else:
                    [(_name, subscribers)] = await self.redis.pubsub_numsub(subscription)
        except TimeoutError:
            raise LayerLost(f"Redis did not answer within {deadline - asked:.1f} s") from None
        except Exception as exc:
            raise LayerLost(f"Redis did not answer ({exc})") from exc
        if subscribers == 0:
            raise LayerLost("Redis no longer holds this process's subscription")
        return loop.time() - asked

    def _target(self) -> tuple[dict[str, Any], str | None] | None:
        """The connection settings of the Redis server the probe goes through (channels_redis's
        own, per shard), and the pub/sub channel of the probe's group on it (pub/sub layer only)."""
        if isinstance(self.layer, RedisPubSubChannelLayer):
            loop_layer = self.layer._get_layer()
            channel = loop_layer._get_group_channel_name(self.group)
            return loop_layer._get_shard(channel).host, channel
        if isinstance(self.layer, RedisChannelLayer):
            return self.layer.hosts[self.layer.consistent_hash(self.group)], None
        return None

    async def close(self) -> None:
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
            self.redis = None

"""Where presence is kept: who has a live room socket open, in every process.

Each open room socket is one *member* of its room: a string naming the process, the socket and
the person (key and display name), with an expiry. The process that holds the socket refreshes
the expiry while the socket is open (rooms.live.presence), so a process that dies (SIGKILL, a
lost machine) stops refreshing and its members lapse; nobody else has to notice the death.

With Redis (the Redis channel layers), a room's members are a sorted set scored by expiry
(``madang:presence:<room pk>``) and the rooms with members a set (``madang:presence:rooms``), on
the layer's own Redis server. With the in-memory layer everything is in one process, and so is
this store. Both answer the same questions; neither is ever a count kept on the side.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from channels.layers import BaseChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import create_pool
from django.conf import settings
from redis import asyncio as aioredis


def rooms_key() -> str:
    """The set of rooms with members, under the site's prefix (``ROOMS_REDIS_PREFIX``)."""
    return f"{settings.ROOMS_REDIS_PREFIX}:presence:rooms"


def member(process: str, socket: int, key: str, name: str) -> str:
    return json.dumps([process, socket, key, name], ensure_ascii=False)


def person_of(member: str) -> tuple[str, str]:
    """(author key, display name) of a member."""
    _process, _socket, key, name = json.loads(member)
    return key, name


class Store(Protocol):
    async def add(self, room: int, members: list[str], expires: float) -> int:
        """Add members or extend their expiry; returns how many were not there (a Redis that
        restarted forgot them)."""

    async def remove(self, room: int, members: list[str]) -> int: ...

    async def members(self, room: int) -> list[str]:
        """The room's members that have not expired."""

    async def sweep(self) -> list[int]:
        """Drop every expired member; returns the rooms that lost some (each is reported to
        exactly one caller, however many processes sweep at once)."""

    async def counts(self, rooms: list[int]) -> dict[int, int]:
        """How many people (distinct keys) each room has now."""


class LocalStore:
    """One process's presence (the in-memory channel layer)."""

    def __init__(self) -> None:
        self.rooms: dict[int, dict[str, float]] = {}

    async def add(self, room: int, members: list[str], expires: float) -> int:
        held = self.rooms.setdefault(room, {})
        new = sum(1 for m in members if m not in held)
        held.update(dict.fromkeys(members, expires))
        return new

    async def remove(self, room: int, members: list[str]) -> int:
        held = self.rooms.get(room, {})
        return sum(1 for m in members if held.pop(m, None) is not None)

    async def members(self, room: int) -> list[str]:
        now = time.time()
        return [m for m, expires in self.rooms.get(room, {}).items() if expires > now]

    async def sweep(self) -> list[int]:
        now, swept = time.time(), []
        for room, held in list(self.rooms.items()):
            expired = [m for m, expires in held.items() if expires <= now]
            for m in expired:
                del held[m]
            if expired:
                swept.append(room)
            if not held:
                del self.rooms[room]
        return swept

    async def counts(self, rooms: list[int]) -> dict[int, int]:
        return {room: len({person_of(m)[0] for m in await self.members(room)}) for room in rooms}


class RedisStore:
    """Presence on the channel layer's Redis server, shared by every process."""

    def __init__(self, host: dict[str, Any]) -> None:
        self.redis = aioredis.Redis.from_pool(create_pool(host))

    @staticmethod
    def _key(room: int) -> str:
        return f"{settings.ROOMS_REDIS_PREFIX}:presence:{room}"

    async def add(self, room: int, members: list[str], expires: float) -> int:
        if not members:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._key(room), dict.fromkeys(members, expires))
            pipe.sadd(rooms_key(), room)
            added, _ = await pipe.execute()
        return int(added)

    async def remove(self, room: int, members: list[str]) -> int:
        return int(await self.redis.zrem(self._key(room), *members)) if members else 0

    async def members(self, room: int) -> list[str]:
        found = await self.redis.zrangebyscore(self._key(room), f"({time.time()}", "+inf")
        return [m.decode() for m in found]

    async def sweep(self) -> list[int]:
        now, swept = time.time(), []
        for raw in await self.redis.smembers(rooms_key()):
            room = int(raw)
            # ZREMRANGEBYSCORE is atomic: of several processes sweeping at once, one removes.
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(self._key(room), "-inf", now)
                pipe.zcard(self._key(room))
                removed, left = await pipe.execute()
            if removed:
                swept.append(room)
            if not left:
                await self.redis.srem(rooms_key(), room)  # a member added meanwhile adds it back
        return swept

    async def counts(self, rooms: list[int]) -> dict[int, int]:
        if not rooms:
            return {}
        since = f"({time.time()}"
        async with self.redis.pipeline(transaction=False) as pipe:
            for room in rooms:
                pipe.zrangebyscore(self._key(room), since, "+inf")
            found = await pipe.execute()
        return {room: len({person_of(m.decode())[0] for m in ms}) for room, ms in zip(rooms, found, strict=True)}


def for_layer(layer: BaseChannelLayer) -> Store:
    """The store that goes with the channel layer: its Redis server, or this process."""
    if isinstance(layer, RedisPubSubChannelLayer):
        loop_layer = layer._get_layer()
        return RedisStore(loop_layer._get_shard(rooms_key()).host)
    if isinstance(layer, RedisChannelLayer):
        return RedisStore(layer.hosts[0])
    return LocalStore()

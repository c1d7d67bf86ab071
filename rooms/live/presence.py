"""Who is in each room now: kept by the processes that hold the sockets, shown as whole lists.

Liveness belongs to the server, not to the page (a background tab's timers run once a minute):
each process adds a member to the store (rooms.live.presence_store) for every room socket it
opens, re-adds all of them every ``ROOMS_PRESENCE_REFRESH_SECONDS`` with an expiry
``ROOMS_PRESENCE_TTL_SECONDS`` ahead, and removes a socket's member when it closes (after
``ROOMS_PRESENCE_LEAVE_GRACE_SECONDS``, so a reload's close-then-open shows nobody leaving). A
SIGKILLed process stops refreshing: its people lapse within the TTL, and every
``ROOMS_PRESENCE_SWEEP_SECONDS`` some process sweeps them out. A Redis restart forgets everyone;
the next refresh puts back everyone still there. The page sends nothing for any of this.

A change is announced as a ping (the room's pk, no list) to the room's group and the lobby;
what each process's hubs then show is rooms.live.presence_lists.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from typing import Any

from channels.layers import BaseChannelLayer
from django.conf import settings

from rooms.live import per_loop, presence_store
from rooms.live.presence_store import Store

logger = logging.getLogger("rooms.presence")

LOBBY_GROUP = "lobby"  # rooms.broadcast.LOBBY_GROUP (which imports this module's neighbours)


def room_group(room: int) -> str:
    return f"room-{room}"  # rooms.models.Room.group_name


class Presence:
    """This process's room sockets, as members of the store (one per event loop)."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.store: Store = presence_store.for_layer(layer)
        self.process = uuid.uuid4().hex[:12]
        self.serials = itertools.count(1)
        self.rooms: dict[int, dict[int, str]] = {}  # room pk -> {id(socket): member}
        self.task: asyncio.Task[None] | None = None

    async def arrive(self, socket: Any, room: int) -> None:
        """A room socket opened: it is in the room from now on, for everyone."""
        held = self.rooms.setdefault(room, {})
        held[id(socket)] = self._member(socket)
        await self.store.add(room, [held[id(socket)]], time.time() + settings.ROOMS_PRESENCE_TTL_SECONDS)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._keep())
        await self.announce(room)

    def depart(self, socket: Any, room: int) -> None:
        """A room socket closed: its member goes after the grace (a reload's new socket is in by then)."""
        member = self.rooms.get(room, {}).pop(id(socket), None)
        if not self.rooms.get(room):
            self.rooms.pop(room, None)
        if member is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(settings.ROOMS_PRESENCE_LEAVE_GRACE_SECONDS, self._start_removing, room, member)

    async def renamed(self, socket: Any, room: int) -> None:
        """The socket's person took a new name: their member says it from now on."""
        held = self.rooms.get(room, {})
        old = held.get(id(socket))
        if old is None:
            return
        held[id(socket)] = self._member(socket)
        await self.store.add(room, [held[id(socket)]], time.time() + settings.ROOMS_PRESENCE_TTL_SECONDS)
        await self.store.remove(room, [old])
        await self.announce(room)

    def _member(self, socket: Any) -> str:
        return presence_store.member(self.process, next(self.serials), socket.author.key, socket.author.name)

    def _start_removing(self, room: int, member: str) -> None:
        asyncio.get_running_loop().create_task(self._remove(room, member))

    async def _remove(self, room: int, member: str) -> None:
        try:
            if await self.store.remove(room, [member]):
                await self.announce(room)
        except Exception:
            logger.warning("could not remove a presence member of room %s (it lapses by itself)", room, exc_info=True)

    async def announce(self, room: int) -> None:
        """Tell every process that room's people changed (each reads the list itself)."""
        try:
            await self.layer.group_send(room_group(room), {"type": "room.presence", "room": room})
            await self.layer.group_send(LOBBY_GROUP, {"type": "lobby.presence", "room": room})
        except Exception:
            logger.warning("could not announce presence in room %s", room, exc_info=True)

    async def _keep(self) -> None:
        """Refresh this process's members and sweep everyone's expired ones, while it has any."""
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        while self.rooms:
            await asyncio.sleep(settings.ROOMS_PRESENCE_SWEEP_SECONDS)
            try:
                if loop.time() - refreshed >= settings.ROOMS_PRESENCE_REFRESH_SECONDS - 0.01:
                    refreshed = loop.time()
                    expires = time.time() + settings.ROOMS_PRESENCE_TTL_SECONDS
                    for room, held in list(self.rooms.items()):
                        if await self.store.add(room, list(held.values()), expires):
                            await self.announce(room)  # the store had forgotten them (a Redis restart)
                for room in await self.store.sweep():
                    await self.announce(room)
            except Exception:
                logger.warning("presence refresh failed; trying again", exc_info=True)


def presence_for(layer: BaseChannelLayer) -> Presence:
    return per_loop.for_this_loop("presence", layer, Presence)

"""What hubs show of presence: after each ping (rooms.live.presence), each process's room hub
reads the room's list itself, once for all its sockets, a moment later
(``ROOMS_PRESENCE_SETTLE_SECONDS``, so a burst of joins is one read), and hands out one fragment
(rooms/_presence.html); the lobby hub reads counts (rooms/_here.html). A later ping always means
a later read, so no process can show an older list after a newer one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings

from rooms.live import fanout, presence_store
from rooms.live.presence import presence_for

logger = logging.getLogger("rooms.presence")


def people(members: list[str]) -> list[tuple[str, str]]:
    """(key, name) per person, several tabs once, in name order."""
    by_key: dict[str, str] = {}
    for member in members:
        key, name = presence_store.person_of(member)
        by_key.setdefault(key, name)
    return sorted(((key, name) for key, name in by_key.items()), key=lambda p: (p[1].casefold(), p[0]))


class Reader:
    """A hub's reads of the store after pings: at most one at a time; pings during a read make
    one more read after it."""

    def __init__(self, hub: fanout.Hub, read: Any) -> None:
        self.hub = hub
        self.read = read  # async (set of room pks) -> event to hand out
        self.dirty: set[int] = set()
        self.task: asyncio.Task[None] | None = None

    def poke(self, room: int) -> None:
        self.dirty.add(room)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self.dirty:
            await asyncio.sleep(settings.ROOMS_PRESENCE_SETTLE_SECONDS)
            rooms, self.dirty = self.dirty, set()
            try:
                self.hub.hand_out(await self.read(rooms))
            except Exception:
                logger.warning("reading presence for %s failed", self.hub.group, exc_info=True)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


def _room_pinged(hub: fanout.Hub, event: dict[str, Any]) -> None:
    if "presence" not in hub.side:
        store = presence_for(hub.layer).store

        async def read(rooms: set[int]) -> dict[str, Any]:
            (room,) = rooms
            return room_state(people(await store.members(room)))

        hub.side["presence"] = Reader(hub, read)
    hub.side["presence"].poke(event["room"])


def room_state(found: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "room.state", "html": {}, "snapshot": {"kind": "presence", "people": found}}


class LobbyCounts(Reader):
    """The lobby hub's reader, which also remembers each room's count, for the rows it moves."""

    def __init__(self, hub: fanout.Hub) -> None:
        super().__init__(hub, self._read)
        self.store = presence_for(hub.layer).store
        self.counts: dict[int, int] = {}

    async def _read(self, rooms: set[int]) -> dict[str, Any]:
        found = await self.store.counts(sorted(rooms))
        self.counts.update(found)
        return here_state(found)


def lobby_counts(hub: fanout.Hub) -> LobbyCounts:
    if "here" not in hub.side:
        hub.side["here"] = LobbyCounts(hub)
    return hub.side["here"]


def here_state(counts: dict[int, int]) -> dict[str, Any]:
    return {"type": "lobby.state", "html": {}, "snapshot": {"kind": "here", "counts": sorted(counts.items())}}


def _lobby_pinged(hub: fanout.Hub, event: dict[str, Any]) -> None:
    lobby_counts(hub).poke(event["room"])


def _lobby_row(hub: fanout.Hub, event: dict[str, Any]) -> None:
    """A room's row moved: the row is rendered without its count (the writer does not know it),
    so this process's count follows it."""
    room = event.get("room_pk")
    count = lobby_counts(hub).counts.get(room) if room is not None else None
    if count:
        hub.hand_out(here_state({room: count}))


fanout.side_event("room.presence", _room_pinged)
fanout.side_event("lobby.presence", _lobby_pinged)
fanout.side_event("lobby.event", _lobby_row)

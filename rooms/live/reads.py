"""Being in a room reads it: this process writes the read positions (rooms.unread) of the people
whose room sockets it holds, every ``ROOMS_READ_FLUSH_SECONDS`` while the room moves, and once
more for a person as their socket closes; each write pings their lobbies to count again.

An open socket counts as reading even in a tab nobody looks at: knowing whether a page is seen
would take a script of our own (the Page Visibility API), which Madang does not have.
"""

from __future__ import annotations

import asyncio
import logging

from channels.layers import BaseChannelLayer
from django.conf import settings

from rooms import unread
from rooms.live import per_loop, presence, presence_store
from rooms.models import Room
from rooms.sockets.db import database_sync_to_async

logger = logging.getLogger("rooms.presence")


def _last_seqs(rooms: list[int]) -> dict[int, int]:
    return dict(Room.objects.filter(pk__in=rooms).values_list("pk", "last_seq"))


class Reads:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.written: dict[int, tuple[int, frozenset[str]]] = {}  # room -> (seq, keys) last written
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        rooms = presence.presence_for(self.layer).rooms
        while rooms:
            await asyncio.sleep(settings.ROOMS_READ_FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:
                logger.warning("writing read positions failed; trying again", exc_info=True)

    async def flush(self) -> None:
        held = presence.presence_for(self.layer).rooms
        present = {
            room: frozenset(presence_store.person_of(m)[0] for m in members.values()) for room, members in held.items()
        }
        for room in [room for room in self.written if room not in present]:
            del self.written[room]
        if not present:
            return
        seqs = await database_sync_to_async(_last_seqs)(list(present))
        for room, keys in present.items():
            seq = seqs.get(room)
            before = self.written.get(room)
            if seq is None or before == (seq, keys):
                continue
            moved = keys if before is None or before[0] != seq else keys - before[1]
            self.written[room] = (seq, keys)
            if moved:
                await self._write(room, sorted(moved), seq)

    async def left(self, key: str, room: int) -> None:
        """A socket closed: what it was shown (the room up to now) is read."""
        try:
            seq = (await database_sync_to_async(_last_seqs)([room])).get(room)
            if seq is not None:
                await self._write(room, [key], seq)
        except Exception:
            logger.warning("writing a read position failed", exc_info=True)

    async def _write(self, room: int, keys: list[str], seq: int) -> None:
        await database_sync_to_async(unread.mark_read)(keys, room, seq)
        await self.layer.group_send(presence.LOBBY_GROUP, {"type": "lobby.read", "room": room, "keys": keys})


def reads_for(layer: BaseChannelLayer) -> Reads:
    return per_loop.for_this_loop("reads", layer, Reads)

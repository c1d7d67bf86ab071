"""The live lobby socket: the full list on every open, then one row per change."""

from __future__ import annotations

from typing import Any

from rooms import broadcast, fragments, unread
from rooms.live import fanout, per_loop, presence_lists
from rooms.models import Room
from rooms.sockets.base import GuardedConsumer
from rooms.sockets.db import database_sync_to_async
from rooms.sockets.guards import CLOSE_FLOOD


class LobbyConsumer(GuardedConsumer):
    """The live lobby: the full list on every socket open, then one row per change."""

    label = "lobby socket"

    async def connect(self) -> None:
        if not await self.admit():
            return
        self.hub = per_loop.hub_for(self.channel_layer, broadcast.LOBBY_GROUP)
        await self.hub.join(self)
        self.joined = True
        rooms = await database_sync_to_async(lambda: list(Room.objects.listed()))()
        # How many people are in each room now (the hub keeps them for the rows it moves later).
        counts = presence_lists.lobby_counts(self.hub)
        try:
            found = await counts.store.counts([room.pk for room in rooms])
        except Exception:  # the list matters more than the counts; the next change brings them
            found = {}
        counts.counts.update(found)
        key = self.author_key
        unread_by_room = await database_sync_to_async(unread.counts)(key, [room.pk for room in rooms])
        for room in rooms:
            room.here = found.get(room.pk, 0)
            room.unread = unread_by_room.get(room.pk)
        await self.send(text_data=self.in_variant(lambda: fragments.lobby_list(rooms)))

    async def lobby_unread(self, event: dict[str, Any]) -> None:
        """Count this person's unread again in these rooms (a new message, or they read on)."""
        rooms = event["rooms"]
        found = await database_sync_to_async(unread.counts)(self.author_key, rooms)
        await self.send(text_data=self.in_variant(lambda: fragments.unread([(pk, found.get(pk)) for pk in rooms])))

    async def release(self) -> None:
        if getattr(self, "joined", False):
            self.joined = False
            await self.hub.leave(self)
        await super().release()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The lobby socket only listens; a client that keeps sending anyway is flooding."""
        if self.counted and self.flooding():
            await self.close(code=CLOSE_FLOOD)

    async def deliver(self, batch: fanout.Batch) -> None:
        """Called by the lobby hub: rows are whole, so they are forwarded as they are."""
        frame = batch.frame_for(self.variant)
        if frame is not None:
            await self.base_send(frame)

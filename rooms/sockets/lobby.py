"""The live lobby socket: the full list on every open, then one row per change."""

from __future__ import annotations

from rooms import broadcast, fragments
from rooms.live import fanout
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
        self.hub = fanout.hub_for(self.channel_layer, broadcast.LOBBY_GROUP)
        await self.hub.join(self)
        self.joined = True
        html = await database_sync_to_async(lambda: fragments.lobby_list(list(Room.objects.listed())))()
        await self.send(text_data=html)

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
        if batch.frame is not None:
            await self.base_send(batch.frame)

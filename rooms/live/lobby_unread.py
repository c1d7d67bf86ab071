"""When a lobby socket counts its person's unread again (rooms.unread): after a room's row moved
(a new message, at most every ``ROOMS_UNREAD_SETTLE_SECONDS`` per lobby hub, for all its sockets
at once) and after that person read further in some room (in any tab or process).

Counts are per person, so they cannot be one fragment for everyone: each lobby socket is told
which rooms to count, and sends its own small frame (rooms.sockets.lobby).
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings

from rooms.live import fanout


class Recounts:
    """A lobby hub's rooms with new messages since it last told its sockets."""

    def __init__(self, hub: fanout.Hub) -> None:
        self.hub = hub
        self.rooms: set[int] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, room: int) -> None:
        self.rooms.add(room)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(settings.ROOMS_UNREAD_SETTLE_SECONDS, self.tell)

    def tell(self) -> None:
        self.timer = None
        rooms, self.rooms = sorted(self.rooms), set()
        for member in list(self.hub.members.values()):
            member.local.put_nowait({"type": "lobby.unread", "rooms": rooms})

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _row_moved(hub: fanout.Hub, event: dict[str, Any]) -> None:
    room = event.get("room_pk")
    if room is None or event["snapshot"].get("created"):
        return  # a new room has nothing to read
    if "unread" not in hub.side:
        hub.side["unread"] = Recounts(hub)
    hub.side["unread"].add(room)


def _read(hub: fanout.Hub, event: dict[str, Any]) -> None:
    keys = set(event["keys"])
    for member in list(hub.members.values()):
        if member.author_key in keys:
            member.local.put_nowait({"type": "lobby.unread", "rooms": [event["room"]]})


fanout.side_event("lobby.event", _row_moved)
fanout.side_event("lobby.read", _read)

"""Who is typing in a room: never stored, kept by each process's room hub for ``ROOMS_TYPING_SECONDS``.

A socket whose page says its person is typing publishes ``room.typing`` (key, name, typing) to
the room's group; every process's hub keeps the room's typists with an expiry and hands its
sockets the whole list as one fragment on each change (rooms/_typing.html), and again when the
earliest entry expires. The fragment's lines also hide themselves by a CSS animation after the
seconds they have left, so if the server goes quiet (a process died, a socket dropped) no
"is typing…" stays behind. Who reads it is the page's business: the per-viewer style shows each
typist the line without themselves.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from django.conf import settings

from rooms.live import fanout

# Past this many names a line says "several people are typing…".
SEVERAL = 3


class TypingBoard:
    def __init__(self, hub: fanout.Hub) -> None:
        self.hub = hub
        self.typists: dict[str, tuple[str, float]] = {}  # key -> (name, loop time it ends)
        self.timer: asyncio.TimerHandle | None = None

    def arrive(self, event: dict[str, Any]) -> None:
        key, loop = event["key"], asyncio.get_running_loop()
        if event["typing"]:
            self.typists[key] = (event["name"], loop.time() + settings.ROOMS_TYPING_SECONDS)
        elif self.typists.pop(key, None) is None:
            return  # was not typing here: nothing changes
        self.publish()

    def publish(self) -> None:
        now = asyncio.get_running_loop().time()
        self.typists = {key: entry for key, entry in self.typists.items() if entry[1] > now}
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.typists:
            # The next change nobody sends: the earliest entry running out.
            earliest = min(until for _name, until in self.typists.values())
            self.timer = asyncio.get_running_loop().call_at(earliest + 0.01, self.publish)
        typists = sorted(
            ((key, name, max(1, math.ceil(until - now))) for key, (name, until) in self.typists.items()),
            key=lambda t: (t[1].casefold(), t[0]),
        )
        self.hub.hand_out({"type": "room.state", "html": {}, "snapshot": {"kind": "typing", "typists": typists}})

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def lines(typists: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """What rooms/_typing.html shows: one line for everyone (``without`` None), and for each
    typist the line without them (shown to them alone by the per-viewer style). Each line says
    when it hides itself if nothing replaces it: its longest-lasting name's seconds."""
    found = [{"without": None, "names": [t[1] for t in typists], "left": max((t[2] for t in typists), default=0)}]
    if len(typists) > SEVERAL + 1:
        return found  # everyone, typists too, reads "several people are typing…"
    for key, _name, _left in typists:
        others = [t for t in typists if t[0] != key]
        found.append({"without": key, "names": [t[1] for t in others], "left": max((t[2] for t in others), default=0)})
    return found


def _typing(hub: fanout.Hub, event: dict[str, Any]) -> None:
    board = hub.side.get("typing")
    if board is None:
        board = hub.side["typing"] = TypingBoard(hub)
    board.arrive(event)


fanout.side_event("room.typing", _typing)

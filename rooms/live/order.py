"""Putting a room's events back in stream order before a hub hands them out.

Room events carry the room's event number. Two processes publish in their own time, so event 58
(committed in one) can arrive before 57 (committed just before it in the other). ``StreamOrder``
holds an event that arrives early for up to ``ROOMS_REORDER_WAIT_SECONDS`` until the ones before
it arrive, then releases them all in order. Only if they never come (the layer lost them) does it
let the early ones through; each socket then sees the jump and replays what it missed from the
database. A reordering thus costs a few milliseconds of waiting, never a trip to the database for
every socket of the room at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger("rooms.fanout")


class StreamOrder:
    def __init__(self, name: str, release: Callable[[dict[str, Any]], None]) -> None:
        self.name = name
        self.release = release  # called with each event, in order
        self.expected: int | None = None  # the event number released next
        self.early: dict[int, dict[str, Any]] = {}  # events that arrived before their predecessors
        self.give_up: asyncio.TimerHandle | None = None

    def start_after(self, number: int) -> None:
        """Where the stream stands, if no event has been seen yet."""
        if self.expected is None:
            self.expected = number + 1

    def reset(self) -> None:
        if self.give_up is not None:
            self.give_up.cancel()
        self.expected, self.early, self.give_up = None, {}, None

    def arrive(self, event: dict[str, Any]) -> None:
        number = event.get("event")
        if number is None:  # lobby and control events are not numbered
            self.release(event)
            return
        if self.expected is None or number <= self.expected:
            # The next one, the first seen, or a late duplicate (sockets drop those).
            self.release(event)
            if self.expected is None or number == self.expected:
                self.expected = number + 1
            while self.expected in self.early:
                self.release(self.early.pop(self.expected))
                self.expected += 1
            if not self.early and self.give_up is not None:
                self.give_up.cancel()
                self.give_up = None
            return
        self.early[number] = event  # what comes before it is on its way from another process
        if self.give_up is None:
            wait = settings.ROOMS_REORDER_WAIT_SECONDS
            self.give_up = asyncio.get_running_loop().call_later(wait, self._stop_waiting)

    def _stop_waiting(self) -> None:
        """What the early events waited for never came: the layer lost it. Let them through."""
        self.give_up = None
        if not self.early:
            return
        logger.info("%s: events before %d never arrived; sockets repair from the database", self.name, min(self.early))
        for number in sorted(self.early):
            self.release(self.early[number])
        self.expected = max(self.early) + 1
        self.early = {}


class RowStates:
    """Lobby rows are each a room's whole state, so an older one arriving after a newer one would
    show the room going back in time (two processes each throttle their own rows, and a no-JS
    post renders its row at once): a hub drops a row whose state is older than one it handed out."""

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}  # room pk -> the newest state handed out

    def stale(self, event: dict[str, Any]) -> bool:
        room, state = event.get("room_pk"), event.get("state")
        if room is None or state is None:
            return False
        if state < self.seen.get(room, -1):
            return True
        self.seen[room] = state
        return False

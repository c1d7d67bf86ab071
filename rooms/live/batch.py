"""What a hub hands its sockets at once (rooms.live.fanout): events in stream order, and per
variant the one WebSocket message that carries all their fragments."""

from __future__ import annotations

from typing import Any

from rooms import variants
from rooms.variants import Variant


class Batch:
    """Events a hub hands to its sockets at once, in stream order, and per variant (rooms.variants)
    the one ASGI message that sends all of their fragments (built once, shared by every socket of
    that variant: daphne does not modify what it is given to send)."""

    __slots__ = ("events", "frames", "span", "unnumbered")

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.frames: dict[str, dict[str, str] | None] = {}
        # The range of room event numbers, when the batch is nothing but consecutive room events
        # (the usual case): a socket whose cursor is just before it takes the whole frame as it is.
        numbers = [event["event"] for event in events if "event" in event]
        consecutive = bool(numbers) and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        self.span = (numbers[0], numbers[-1]) if consecutive and len(numbers) == len(events) else None
        # Nothing but whole-state fragments (presence, typing, lobby rows): every socket takes it.
        self.unnumbered = not numbers

    def frame_for(self, variant: Variant) -> dict[str, str] | None:
        """The batch as one WebSocket message in ``variant`` (None: nothing to send)."""
        try:
            return self.frames[variant.key]
        except KeyError:
            html = [variants.html_for(event, variant) for event in self.events if "html" in event]
            frame = self.frames[variant.key] = {"type": "websocket.send", "text": "".join(html)} if html else None
            return frame

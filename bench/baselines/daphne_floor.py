"""The floor under anything served by daphne: a bare ASGI broadcast app on daphne, nothing else.

The ceiling (``ceiling.py``) with daphne in place of ``websockets``: every text frame a client
sends is written to every client connected to the same path, in a plain loop, from the sender's
own task. No Django, no database, no rendering, no channel layer. Whatever Madang does, on daphne
it pays at least this per delivery: daphne's and Twisted's receive path, the ASGI send, and
autobahn's framing and write (bench/README.md, "What daphne itself costs").

    .venv/bin/daphne -b 127.0.0.1 -p 8801 bench.baselines.daphne_floor:application
"""

from __future__ import annotations

from typing import Any

ROOMS: dict[str, set[Any]] = {}


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    room = ROOMS.setdefault(scope["path"], set())
    try:
        while True:
            event = await receive()
            if event["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                room.add(send)
            elif event["type"] == "websocket.receive" and event.get("text") is not None:
                frame = {"type": "websocket.send", "text": event["text"]}
                for member in list(room):
                    await member(frame)
            elif event["type"] == "websocket.disconnect":
                return
    finally:
        room.discard(send)

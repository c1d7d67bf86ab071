"""The ceiling: a bare ``websockets`` broadcast server, nothing else.

Every text frame a client sends is broadcast to every client connected to the same path (its
room; ``websockets.broadcast`` writes the same frame to each socket without a task per client).
No database, no rendering, no channel layer: the fastest a Python process on this machine can fan a message out.

    .venv/bin/python bench/baselines/ceiling.py --port 8800
"""

from __future__ import annotations

import argparse
import asyncio

from websockets.asyncio.server import broadcast, serve

ROOMS: dict[str, set] = {}


async def handler(websocket) -> None:
    room = ROOMS.setdefault(websocket.request.path, set())
    room.add(websocket)
    try:
        async for message in websocket:
            broadcast(room, message)
    finally:
        room.discard(websocket)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_size=2**20, ping_interval=None):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8800)
    asyncio.run(main(parser.parse_args().port))

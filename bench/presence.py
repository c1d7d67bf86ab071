"""What presence and typing cost a process with a room of 1,000 sockets, per change.

    .venv/bin/python bench/presence.py [--sockets 1000] [--runs 300]

In one process, one event loop, the in-memory layer: a room hub (rooms.live.fanout) with
``--sockets`` members that take the shared frame as a room socket on the fast path does (no
network: daphne's send is not part of this). Per change, the median wall time (one core) of:

- a typing signal: the hub's board (rooms.live.typing) updates, renders the typing fragment once
  and hands it to every socket;
- a presence change: the hub reads the room's 1,000 members from the store, groups and sorts
  them, renders the list (50 names and "and 950 more") once, and hands it out;
- for scale, a new message's event (already rendered by its writer) handed to the same sockets.

Medians in microseconds per change, and per socket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Member:
    """A socket on the fast path: takes the batch's frame for its variant."""

    def __init__(self, variant) -> None:  # type: ignore[no-untyped-def]
        self.variant = variant
        self.frames = 0

    async def deliver(self, batch) -> None:  # type: ignore[no-untyped-def]
        if batch.frame_for(self.variant) is not None:
            self.frames += 1


async def measure(sockets: int, runs: int) -> dict[str, float]:
    from channels.layers import get_channel_layer

    from rooms import fragments, variants
    from rooms.live import fanout, presence_lists, presence_store
    from rooms.live.typing import TypingBoard

    layer = get_channel_layer()
    hub = fanout.Hub(layer, "room-1")
    variant = variants.Variant("en", "UTC")
    members = [Member(variant) for _ in range(sockets)]
    for member in members:
        hub.members[id(member)] = member
    fan_out = asyncio.get_running_loop().create_task(hub._fan_out())
    store = presence_store.LocalStore()
    await store.add(1, [presence_store.member("p", n, f"g-{n:06d}", f"Guest {n:04d}") for n in range(sockets)], 1e12)

    async def delivered(before: int) -> None:
        while members[-1].frames == before:
            await asyncio.sleep(0)

    async def timed(change) -> float:  # type: ignore[no-untyped-def]
        times = []
        for n in range(runs):
            before = members[-1].frames
            start = time.perf_counter()
            await change(n)
            await delivered(before)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e6

    board = TypingBoard(hub)

    async def typing(n: int) -> None:
        with variant.active():
            board.arrive({"key": f"g-{n % 3}", "name": f"Typist {n % 3}", "typing": True})  # 1-3 typists

    async def presence_change(n: int) -> None:
        with variant.active():
            hub.hand_out(presence_lists.room_state(presence_lists.people(await store.members(1))))

    html = fragments.error("empty", "x" * 900)  # about the size of a message fragment

    async def message(n: int) -> None:
        hub.hand_out({"type": "room.event", "event": n + 1, "html": {variant.key: html}, "snapshot": {}})

    results = {"typing": await timed(typing), "presence": await timed(presence_change), "message": await timed(message)}
    board.close()
    fan_out.cancel()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    results = asyncio.run(measure(args.sockets, args.runs))
    print(f"{'change':<10} {'µs per change':>14} {'µs per socket':>14}   ({args.sockets} sockets, {args.runs} runs)")
    for name, micros in results.items():
        print(f"{name:<10} {micros:>14,.0f} {micros / args.sockets:>14.2f}")


if __name__ == "__main__":
    main()

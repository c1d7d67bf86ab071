"""A room's hub (rooms.live.fanout) on its own: how events reach the sockets of a big room."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from rooms.live import fanout

pytestmark = pytest.mark.asyncio

GROUP = "room-1"


class Member:
    """A socket as the hub sees it: it records the seqs of each batch handed to it."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.first = asyncio.Event()

    async def deliver(self, batch: fanout.Batch) -> None:
        self.batches.append([event["event"] for event in batch.events])
        self.first.set()


def event(seq: int) -> dict[str, object]:
    return {"type": "room.event", "event": seq, "html": {"en UTC": f'<article data-seq="{seq}"></article>'}}


async def test_posts_made_during_a_big_rooms_fan_out_go_out_together_in_the_next_frame():
    layer = InMemoryChannelLayer()
    hub = fanout.Hub(layer, GROUP)
    members = [Member() for _ in range(fanout.YIELD_EVERY * 20)]
    for member in members:
        await hub.join(member)

    async def poster() -> None:
        # Two posts that each take a few turns of the event loop to reach the layer, as a real post
        # does (a database thread, then a hop back), made while seq 1 is being fanned out.
        await members[0].first.wait()
        for seq in (2, 3):
            for _ in range(3):
                await asyncio.sleep(0)
            await layer.group_send(GROUP, event(seq))

    posting = asyncio.create_task(poster())
    await layer.group_send(GROUP, event(1))
    await asyncio.wait_for(posting, 5)
    async with asyncio.timeout(5):
        while members[-1].batches[-1:] != [[2, 3]]:
            await asyncio.sleep(0.01)

    # Both posts landed while seq 1 was still being written, so every socket got them as one frame.
    assert all(member.batches == [[1], [2, 3]] for member in members)
    await asyncio.gather(*(hub.leave(member) for member in members))


async def test_a_quiet_room_gets_each_event_in_a_frame_of_its_own():
    layer = InMemoryChannelLayer()
    hub = fanout.Hub(layer, GROUP)
    members = [Member() for _ in range(3)]
    for member in members:
        await hub.join(member)
    for seq in (1, 2):
        await layer.group_send(GROUP, event(seq))
        async with asyncio.timeout(5):
            while len(members[-1].batches) < seq:
                await asyncio.sleep(0.01)

    assert all(member.batches == [[1], [2]] for member in members)
    await asyncio.gather(*(hub.leave(member) for member in members))

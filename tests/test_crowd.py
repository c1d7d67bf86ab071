"""A crowd arriving is not an outage: a recovery that ends sockets spreads their ends over a
window, so their reconnects are not one crowd again.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer
from django.test import override_settings

from rooms.live import fanout


class FakeSocket:
    """A socket as LocalSockets sees it: it records when each event reached it."""

    expires_at = None
    user_id = None

    def __init__(self, arrivals: list[float], everyone_told: asyncio.Future[None], expected: int) -> None:
        self.local = self
        self.arrivals, self.everyone_told, self.expected = arrivals, everyone_told, expected
        self.events: list[dict[str, object]] = []

    def put_nowait(self, event: dict[str, object]) -> None:
        self.events.append(event)
        self.arrivals.append(asyncio.get_running_loop().time())
        if len(self.arrivals) == self.expected and not self.everyone_told.done():
            self.everyone_told.set_result(None)


@pytest.mark.asyncio
@override_settings(ROOMS_RECOVERY_SPREAD_SECONDS=1)
async def test_a_recovery_spreads_the_ends_of_its_sockets_over_the_window():
    loop = asyncio.get_running_loop()
    count, arrivals, everyone_told = 200, [], loop.create_future()
    local = fanout.local_sockets(InMemoryChannelLayer())
    sockets = [FakeSocket(arrivals, everyone_told, count - 1) for _ in range(count)]
    for socket in sockets:
        await local.add(socket)

    recovered = loop.time()
    fanout.layer_recovered()
    assert arrivals == []  # nobody is told at once
    closed_meanwhile = sockets.pop()
    await local.remove(closed_meanwhile)  # closed before its turn came: told nothing
    await asyncio.wait_for(everyone_told, 10)

    assert all(socket.events == [{"type": "layer.lost"}] for socket in sockets)
    assert closed_meanwhile.events == []
    delays = sorted(at - recovered for at in arrivals)
    assert delays[0] >= 0 and delays[-1] <= 1 + 0.25  # within the window (a timer may fire a little late)
    # Spread out, not one burst: the middle half of the sockets span at least a fifth of the window.
    assert delays[3 * len(delays) // 4] - delays[len(delays) // 4] > 0.2
    for socket in sockets:
        await local.remove(socket)

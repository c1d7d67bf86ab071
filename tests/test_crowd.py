"""A crowd arriving is not an outage.

Two daphne processes on real Redis take 1,000 sockets connecting at once (what a restart or a
deploy brings back) without taking the crowd for a lost layer; a Redis that stalls for a moment is
slow, not lost, and one that stalls past the deadline still ends in reconnects and a complete
catch-up; and a recovery that ends sockets spreads their ends over a window, so their reconnects
are not the same crowd again.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis as redis_lib
from channels.layers import InMemoryChannelLayer
from django.test import override_settings

from rooms import writes
from rooms.live import per_loop
from tests.wsclient import PageSocket

ROOMS, SOCKETS, IN_FLIGHT = 100, 1000, 50


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_thousand_sockets_arriving_together_are_a_crowd_not_an_outage(redis_url, start_daphne):
    """The probe runs ten times a second here, so that the crowd's event-loop lag (0.1-0.2 s on a
    quiet 2-core machine, over 1 s on a loaded one) outlasts the probe interval even on a quiet
    machine, as it does at the default 1 s on a loaded one: a watch that took a late probe for an
    outage ended sockets here in 2 runs of 3."""
    env = {
        "REDIS_URL": redis_url,
        "ROOMS_LAYER_PROBE_SECONDS": "0.1",
        # Every test client comes from 127.0.0.1; a crowd of browsers comes from many addresses.
        "ROOMS_MAX_SOCKETS_PER_ADDRESS": str(SOCKETS),
    }
    servers = [start_daphne(env), start_daphne(env)]
    rooms = [writes.get_or_create_room(f"crowd {n}")[0] for n in range(ROOMS)]
    # Arrivals alternate between the servers, and so do the sockets of each room.
    pages = [PageSocket(servers[(n + n // ROOMS) % 2].url, rooms[n % ROOMS].slug) for n in range(SOCKETS)]

    async def scenario() -> None:
        handshakes = asyncio.Semaphore(IN_FLIGHT)

        async def arrive(page: PageSocket) -> None:
            async with handshakes:  # open, resume, live: at most IN_FLIGHT under way
                await page.start(timeout=60)

        started = time.monotonic()
        await asyncio.gather(*(arrive(page) for page in pages))
        print(f"{SOCKETS} sockets live in {time.monotonic() - started:.1f} s")
        await asyncio.gather(*(pages[n].say(f"hello room {n}") for n in range(ROOMS)))
        await asyncio.gather(*(page.wait_for_seq(1, timeout=60) for page in pages))
        print(f"one message in each room delivered {time.monotonic() - started:.1f} s after the first arrival")
        await asyncio.gather(*(pages[n].wait_until(lambda n=n: pages[n].acks == 1) for n in range(ROOMS)))
        for page in pages:
            await page.stop()

    asyncio.run(scenario())
    for page in pages:
        assert (page.opens, page.closes) == (1, [])  # never closed, never reconnected
        assert page.seqs == [1]  # its room's message, exactly once
    for server in servers:
        assert "probe failed" not in server.log()
        assert "channel layer is back" not in server.log()


def paused(redis_url: str, seconds: float) -> None:
    """Redis stops answering everyone (connections stay open, commands wait) for ``seconds``; returns
    once it answers again (a PING on a fresh connection waits out the pause)."""
    with redis_lib.Redis.from_url(redis_url) as admin:
        admin.client_pause(int(seconds * 1000), all=True)
    with redis_lib.Redis.from_url(redis_url, socket_timeout=seconds + 30) as client:
        client.ping()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_redis_that_stalls_for_a_moment_is_slow_not_lost(redis_url, start_daphne):
    env = {"REDIS_URL": redis_url}
    a, b = start_daphne(env), start_daphne(env)
    room = writes.get_or_create_room("stall")[0]

    async def scenario() -> tuple[PageSocket, PageSocket]:
        on_a, on_b = await PageSocket(a.url, room.slug).start(), await PageSocket(b.url, room.slug).start()
        await asyncio.to_thread(paused, redis_url, 3)  # three probe intervals, well within the deadline
        for server in (a, b):  # each process had a probe out during the stall, and got it back
            await asyncio.to_thread(server.wait_for_log, "slow, not lost", 20)
        await on_a.say("after the stall")
        await on_b.wait_for_seq(1)
        await on_a.wait_for_seq(1)
        await on_a.wait_until(lambda: on_a.acks == 1)
        for page in (on_a, on_b):
            await page.stop()
        return on_a, on_b

    for page in asyncio.run(scenario()):
        assert (page.opens, page.closes, page.seqs) == (1, [], [1])
    for server in (a, b):
        assert "probe failed" not in server.log()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_redis_that_stalls_past_the_deadline_is_lost_and_its_sockets_come_back(redis_url, start_daphne):
    env = {"REDIS_URL": redis_url, "ROOMS_LAYER_PROBE_DEADLINE_SECONDS": "2", "ROOMS_RECOVERY_SPREAD_SECONDS": "1"}
    a, b = start_daphne(env), start_daphne(env)
    room = writes.get_or_create_room("stall")[0]

    async def scenario() -> tuple[PageSocket, PageSocket]:
        on_a, on_b = await PageSocket(a.url, room.slug).start(), await PageSocket(b.url, room.slug).start()
        stall = asyncio.create_task(asyncio.to_thread(paused, redis_url, 6))
        for server in (a, b):
            await asyncio.to_thread(server.wait_for_log, "Redis did not answer within", 20)
        await stall
        for page in (on_a, on_b):  # ended once Redis answered again, reconnected, resumed
            await page.wait_until(lambda page=page: page.opens >= 2 and page.live.is_set(), 30)
        await on_b.say("after the outage")
        await on_a.wait_for_seq(1)
        await on_b.wait_for_seq(1)
        await on_b.wait_until(lambda: on_b.acks == 1)
        for page in (on_a, on_b):
            await page.stop()
        return on_a, on_b

    for page in asyncio.run(scenario()):
        assert page.seqs == [1]
        assert page.closes == [1011]


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
    local = per_loop.local_sockets(InMemoryChannelLayer())
    sockets = [FakeSocket(arrivals, everyone_told, count - 1) for _ in range(count)]
    for socket in sockets:
        await local.add(socket)

    recovered = loop.time()
    per_loop.layer_recovered()
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

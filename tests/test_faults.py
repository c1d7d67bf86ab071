"""Every way a socket dies ends in a reconnect and a complete catch-up: real daphne processes, a
Redis server the test starts and restarts itself, and clients that behave like the htmx page."""

from __future__ import annotations

import asyncio
import shutil
import signal

import pytest
import redis as redis_lib

from rooms import writes
from rooms.identity import Author
from tests.servers import Daphne, RedisServer
from tests.wsclient import PageSocket

pytestmark = [pytest.mark.django_db(transaction=True)]
BOB = Author(key="g-bob", name="Bob")


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def daphnes(request):
    started: list[Daphne] = []

    def start(**kwargs) -> Daphne:
        server = Daphne(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


@pytest.mark.redis
def test_a_redis_restart_ends_in_reconnects_and_a_complete_catch_up(redis_server, daphnes):
    room = writes.get_or_create_room("r")[0]
    env = {"REDIS_URL": redis_server.url}
    a, b = daphnes(env=env), daphnes(env=env)

    async def scenario() -> tuple[PageSocket, PageSocket]:
        on_a = await PageSocket(a.url, room.slug).start()
        on_b = await PageSocket(b.url, room.slug).start()
        redis_server.stop()
        await on_a.say("posted while Redis is down")  # stored; its broadcast is lost
        for server in (a, b):  # both processes noticed the outage
            await asyncio.to_thread(server.wait_for_log, "sockets will reconnect once")
        redis_server.start()  # same port, empty: no subscriptions, no groups
        await on_a.wait_for_seq(1)
        await on_b.wait_for_seq(1)
        await on_b.say("after the outage")
        await on_a.wait_for_seq(2)
        await on_b.wait_for_seq(2)
        for page in (on_a, on_b):
            await page.stop()
        return on_a, on_b

    on_a, on_b = asyncio.run(scenario())
    for page in (on_a, on_b):
        assert page.seqs == [1, 2]  # exactly once, in order
        assert 1011 in page.closes  # ended by the layer watch with a code browsers retry
        assert page.opens >= 2


@pytest.mark.redis
def test_a_failed_broadcast_is_sent_again_to_processes_that_saw_no_outage(redis_server, daphnes):
    """Redis refuses PUBLISH for a moment while every subscription stays up (b probes once a
    minute, so it cannot notice either way): only the failed broadcast knows an event was lost,
    and its process sends it again once publishing works."""
    room = writes.get_or_create_room("r")[0]
    a = daphnes(env={"REDIS_URL": redis_server.url})
    b = daphnes(env={"REDIS_URL": redis_server.url, "ROOMS_LAYER_PROBE_SECONDS": "60"})
    admin = redis_lib.Redis.from_url(redis_server.url)

    async def scenario() -> tuple[PageSocket, PageSocket]:
        on_a = await PageSocket(a.url, room.slug).start()
        on_b = await PageSocket(b.url, room.slug).start()
        admin.acl_setuser("default", commands=["-publish"])
        try:
            await on_a.say("posted while publishing fails")  # stored; its broadcast fails
            await asyncio.to_thread(a.wait_for_log, "a broadcast failed")
        finally:
            admin.acl_setuser("default", commands=["+publish"])
        await on_a.wait_for_seq(1)
        await on_b.wait_for_seq(1)  # nobody posts again: no later event could reveal the gap
        for page in (on_a, on_b):
            await page.stop()
        return on_a, on_b

    on_a, on_b = asyncio.run(scenario())
    assert on_a.seqs == on_b.seqs == [1]
    assert 1011 in on_a.closes  # the sender's process resumes its own sockets
    assert on_b.opens == 1  # b's socket got the event sent again, on the same connection


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_daphne_restart_ends_in_a_reconnect_and_the_missed_message(daphnes, sig):
    room = writes.get_or_create_room("r")[0]
    server = daphnes()

    async def scenario() -> PageSocket:
        page = await PageSocket(server.url, room.slug).start()
        server.stop(sig)
        writes.post_message(room.pk, BOB, "while the server was down")
        server.start()
        await page.wait_for_seq(1)
        await page.stop()
        return page

    page = asyncio.run(scenario())
    assert page.seqs == [1]
    assert page.closes[0] == 1006
    assert page.opens >= 2


def test_a_socket_past_its_maximum_age_is_closed_with_1011_and_comes_back(daphnes):
    room = writes.get_or_create_room("r")[0]
    server = daphnes(env={"ROOMS_MAX_SOCKET_AGE": "1"})

    async def scenario() -> PageSocket:
        page = await PageSocket(server.url, room.slug).start()
        while page.opens < 2 or not page.live.is_set():
            await asyncio.sleep(0.05)
        await page.say("after the rotation")
        await page.wait_for_seq(1)
        await page.wait_until(lambda: page.acks == 1)  # closing before it arrives is an error there
        await page.stop()
        return page

    page = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert page.closes[0] == 1011
    assert "Traceback" not in server.log()  # a planned end, logged in one line


def test_a_client_that_stops_reading_is_dropped_and_does_not_hold_up_the_room(daphnes):
    room = writes.get_or_create_room("r")[0]
    server = daphnes(args=["--ping-interval", "1", "--ping-timeout", "2"])

    async def scenario() -> tuple[PageSocket, PageSocket, float]:
        stalled = await PageSocket(server.url, room.slug).start()
        reader = await PageSocket(server.url, room.slug).start()
        writer = await PageSocket(server.url, room.slug).start()
        stalled.socket.transport.pause_reading()  # a frozen tab: reads nothing, answers no ping
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(1, 6):
            await writer.say(f"message {i} " + "x" * 3000)
            await reader.wait_for_seq(i, timeout=5)
        spread = loop.time() - started
        # daphne's ping timeout bounds what a silent client can cost: it is dropped.
        for _ in range(100):
            if stalled.closes:
                break
            await asyncio.sleep(0.1)
        for page in (stalled, reader, writer):
            await page.stop()
        return stalled, reader, spread

    _stalled, reader, spread = asyncio.run(scenario())
    assert reader.seqs == [1, 2, 3, 4, 5]
    assert spread < 5  # the reader was never held up by the stalled client
    assert "WSDISCONNECT" in server.log()

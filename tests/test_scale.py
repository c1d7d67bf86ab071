"""Scale-out by configuration: two daphne processes on one Redis deliver each other's messages."""

from __future__ import annotations

import asyncio
import os
import socket
from urllib.parse import urlparse

import pytest

from rooms import writes
from rooms.models import Message
from tests.servers import Daphne
from tests.wsclient import PageSocket

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def redis_is_up() -> bool:
    parsed = urlparse(REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def two_servers():
    if not redis_is_up():
        if os.environ.get("MADANG_REQUIRE_SERVICES"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (CI starts it; run `make services`)")
    servers = [Daphne(env={"REDIS_URL": REDIS_URL}) for _ in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            print(server.log()[-3000:])
            server.cleanup()


def test_two_daphne_processes_deliver_each_others_messages_both_ways(two_servers):
    room = writes.get_or_create_room("한국어 방")[0]
    a, b = two_servers

    async def scenario() -> None:
        on_a, on_b = await PageSocket(a.url, room.slug).start(), await PageSocket(b.url, room.slug).start()
        await on_a.say("from A")
        assert await on_b.wait_for_seq(1) == [1]
        await on_b.say("from B")
        assert await on_a.wait_for_seq(2) == [1, 2]
        for page in (on_a, on_b):
            await page.stop()

    asyncio.run(scenario())
    assert list(Message.objects.order_by("seq").values_list("text", flat=True)) == ["from A", "from B"]


def test_concurrent_senders_on_two_processes_all_see_the_same_gap_free_sequence(two_servers):
    room = writes.get_or_create_room("busy")[0]
    per_client, clients_per_server = 5, 3
    total = per_client * clients_per_server * 2

    async def scenario() -> list[list[int]]:
        clients = [PageSocket(server.url, room.slug) for server in two_servers for _ in range(clients_per_server)]
        for client in clients:
            await client.start()
        try:
            await asyncio.gather(
                *(
                    client.say(f"c{n} m{i}", nonce=f"{n}-{i}")
                    for n, client in enumerate(clients)
                    for i in range(per_client)
                )
            )
            return await asyncio.gather(*(client.wait_for_seq(total) for client in clients))
        finally:
            for client in clients:
                await client.stop()

    seen = asyncio.run(scenario())
    history = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
    assert history == list(range(1, total + 1))
    for seqs in seen:
        assert seqs == history


def test_a_quiet_room_stays_connected_for_longer_than_the_redis_read_timeout(two_servers):
    """redis-py's default 5 s socket timeout once dropped idle sockets (channels_redis#422)."""
    room = writes.get_or_create_room("quiet")[0]
    a, b = two_servers

    async def scenario() -> None:
        listener, speaker = await PageSocket(a.url, room.slug).start(), await PageSocket(b.url, room.slug).start()
        await asyncio.sleep(12)  # the point of the test is the silence itself
        await speaker.say("still there?")
        assert await listener.wait_for_seq(1) == [1]
        assert listener.opens == 1  # and the idle socket was never dropped on the way
        for page in (listener, speaker):
            await page.stop()

    asyncio.run(scenario())


def test_debug_off_serves_pages_over_plain_http(db):
    import urllib.request

    server = Daphne(env={"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "t" * 50, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"})
    try:
        server.start()
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as response:
            assert response.status == 200
            assert "Strict-Transport-Security" not in response.headers
        with urllib.request.urlopen(f"{server.url}/static/css/madang.css", timeout=10) as response:
            assert response.status == 200
    finally:
        server.cleanup()

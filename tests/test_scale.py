"""Scale-out by configuration: two daphne processes on one Redis deliver each other's messages."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from urllib.parse import urlparse

import pytest
from websockets.asyncio.client import connect

from rooms import writes
from rooms.models import Message
from tests.servers import Daphne

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


class Client:
    """A page's socket as the htmx ws extension drives it: origin header, resume, ws-send frames."""

    def __init__(self, server: Daphne, slug: str) -> None:
        self.server, self.slug = server, slug
        self.seqs: list[int] = []

    async def __aenter__(self) -> Client:
        self.socket = await connect(
            f"{self.server.ws_url}/ws/rooms/{self.slug}/", origin=self.server.url, open_timeout=10
        )
        await self.socket.send(json.dumps({"cursor": "0", "HEADERS": {"HX-Request": "true"}}))
        reply = await asyncio.wait_for(self.socket.recv(), 10)
        assert 'data-state="live"' in reply
        self.seqs += [int(s) for s in re.findall(r'data-seq="(\d+)"', reply)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.socket.close()

    async def say(self, text: str, nonce: str = "") -> None:
        await self.socket.send(json.dumps({"message": text, "nonce": nonce}))

    async def collect_until(self, last_seq: int, timeout: float = 15) -> list[int]:
        async def run() -> None:
            while not self.seqs or self.seqs[-1] < last_seq:
                frame = await self.socket.recv()
                self.seqs += [int(s) for s in re.findall(r'data-seq="(\d+)"', frame)]

        await asyncio.wait_for(run(), timeout)
        return self.seqs


def test_two_daphne_processes_deliver_each_others_messages_both_ways(two_servers):
    room = writes.get_or_create_room("한국어 방")[0]
    a, b = two_servers

    async def scenario() -> None:
        async with Client(a, room.slug) as on_a, Client(b, room.slug) as on_b:
            await on_a.say("from A")
            assert await on_b.collect_until(1) == [1]
            await on_b.say("from B")
            assert await on_a.collect_until(2) == [1, 2]

    asyncio.run(scenario())
    assert list(Message.objects.order_by("seq").values_list("text", flat=True)) == ["from A", "from B"]


def test_concurrent_senders_on_two_processes_all_see_the_same_gap_free_sequence(two_servers):
    room = writes.get_or_create_room("busy")[0]
    per_client, clients_per_server = 5, 3
    total = per_client * clients_per_server * 2

    async def scenario() -> list[list[int]]:
        clients = [Client(server, room.slug) for server in two_servers for _ in range(clients_per_server)]
        for client in clients:
            await client.__aenter__()
        try:
            await asyncio.gather(
                *(
                    client.say(f"c{n} m{i}", nonce=f"{n}-{i}")
                    for n, client in enumerate(clients)
                    for i in range(per_client)
                )
            )
            return await asyncio.gather(*(client.collect_until(total) for client in clients))
        finally:
            for client in clients:
                await client.__aexit__()

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
        async with Client(a, room.slug) as listener, Client(b, room.slug) as speaker:
            await asyncio.sleep(12)  # the point of the test is the silence itself
            await speaker.say("still there?")
            assert await listener.collect_until(1) == [1]

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

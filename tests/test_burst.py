"""A live socket never jumps: under a burst across processes it receives every message in order,
and never a reset to the latest page.

Run on its own with ``pytest -m burst``. Before the room's hub put events back in stream order
(rooms.live.fanout.Hub) and live repairs replayed instead of resetting, this failed in 15 of 27
runs: one process's event overtook the other's, sockets took the jump for a loss, repaired from
the database behind the posts, found more than ROOMS_CATCHUP_LIMIT events missing and got the
latest page instead of the next messages.
"""

from __future__ import annotations

import asyncio

import pytest

from rooms import writes
from rooms.models import Message
from tests.wsclient import PageSocket

pytestmark = [
    pytest.mark.redis,
    pytest.mark.burst,
    pytest.mark.django_db(transaction=True),
]

SENDERS, PER_SENDER, RECEIVERS_PER_PROCESS = 20, 10, 3
TOTAL = SENDERS * PER_SENDER


def test_a_burst_across_two_processes_reaches_every_live_socket_in_order_without_a_reset(redis_url, start_daphne):
    env = {"REDIS_URL": redis_url, "ROOMS_RATE_BURST": "0", "ROOMS_RATE_PER_SEC": "0"}  # rate limit off
    servers = [start_daphne(env), start_daphne(env)]
    room = writes.get_or_create_room("burst")[0]
    receivers = [PageSocket(server.url, room.slug) for server in servers for _ in range(RECEIVERS_PER_PROCESS)]
    senders = [PageSocket(servers[n % 2].url, room.slug) for n in range(SENDERS)]

    async def send_all(sender: PageSocket, n: int) -> None:
        for i in range(PER_SENDER):  # as fast as the socket takes them: no wait for each answer
            await sender.say(f"sender {n} message {i}", nonce=f"{n}-{i}")

    async def scenario() -> None:
        for page in receivers + senders:
            await page.start()
        await asyncio.gather(*(send_all(sender, n) for n, sender in enumerate(senders)))
        for page in receivers + senders:
            await page.wait_until(lambda page=page: TOTAL in page.seqs, 60)
        for sender in senders:
            await sender.wait_until(lambda sender=sender: sender.acks == PER_SENDER, 60)
        for page in receivers + senders:
            await page.stop()

    asyncio.run(scenario())
    stored = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
    assert stored == list(range(1, TOTAL + 1))
    for page in receivers + senders:
        assert page.opens == 1  # live throughout: no reconnect could hide a jump
        assert page.resets == 0  # never the latest page instead of the next message
        assert page.seqs == stored  # every message, exactly once, in order

"""Unread across two daphne processes on Redis: Bob's lobby in one process counts a message posted
in the other, and clears when Bob reads the room through the other process."""

from __future__ import annotations

import asyncio
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from websockets.asyncio.client import connect

from rooms import writes
from tests.test_faults import daphnes, redis_server  # noqa: F401  (fixtures)
from tests.wsclient import PageSocket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def badge(frames: list[str], room_pk: int) -> str | None:
    """The newest unread badge text the lobby was sent for the room (None: none yet)."""
    for frame in reversed(frames):
        found = re.search(
            rf'<span id="unread-{room_pk}"[^>]*>((?:<span class="unread-[a-z]+">[^<]*</span>)*)</span>', frame
        )
        if found:
            return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())
    return None


def test_read_in_one_process_is_counted_in_the_other(redis_server, daphnes):  # noqa: F811
    env = {"REDIS_URL": redis_server.url, "ROOMS_READ_FLUSH_SECONDS": "0.3", "ROOMS_UNREAD_SETTLE_SECONDS": "0.1"}
    one, two = daphnes(env=env), daphnes(env=env)
    room = writes.get_or_create_room("across")[0]
    bob = User.objects.create_user("bob", password="a-long-pass-phrase")
    client = Client()
    client.force_login(bob)
    client.get(room.get_absolute_url())  # Bob has opened the room before
    cookie = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}

    async def scenario() -> list[str | None]:
        frames: list[str] = []
        seen: list[str | None] = []
        async with connect(one.ws_url + "/ws/lobby/", origin=one.url, additional_headers=cookie) as lobby:

            async def read() -> None:
                async for frame in lobby:
                    frames.append(str(frame))

            reader = asyncio.create_task(read())

            async def until(text: str, timeout: float = 10) -> None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
                while badge(frames, room.pk) != text:
                    assert loop.time() < deadline, (text, badge(frames, room.pk))
                    await asyncio.sleep(0.05)
                seen.append(text)

            await until("")
            alice = await PageSocket(two.url, room.slug).start()
            await alice.say("hello @bob, from the other process")
            await until("1 new 1 mention")
            bob_in_room = await PageSocket(two.url, room.slug, headers=cookie).start()
            await until("")
            await alice.stop()
            await bob_in_room.stop()
            reader.cancel()
        return seen

    assert asyncio.run(scenario()) == ["", "1 new 1 mention", ""]

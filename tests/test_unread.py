"""Unread messages and mentions per person and room: computed, marked read by opening the room or
being in it, counted in the lobby (page and live). Across two processes: tests/test_unread_redis.py."""

from __future__ import annotations

import asyncio
import re

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from rooms import unread, writes
from rooms.identity import Author
from rooms.models import Room
from tests.conftest import ORIGIN
from tests.test_consumers import join, open_socket

ALICE = Author(key="g-alice", name="Alice")


def badge(html: str, room: Room) -> str:
    """The text of a room's unread badge in a lobby page or frame ("" when nothing is unread)."""
    found = re.search(rf'<span id="unread-{room.pk}"[^>]*>(.*?)</span>(?=\s*(<span id=|<time|$))', html, re.S)
    assert found, html
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


@pytest.fixture
def bob(db) -> tuple[User, Client]:
    user = User.objects.create_user("bob", password="a-long-pass-phrase")
    client = Client()
    client.force_login(user)
    return user, client


def test_counts_come_from_the_stream_so_deletions_and_hides_lower_them(bob):
    user, client = bob
    key = f"u-{user.pk}"
    room, other, never = (writes.get_or_create_room(name)[0] for name in ("read", "other", "never"))
    writes.post_message(room.pk, ALICE, "before Bob came")
    client.get(room.get_absolute_url())  # Bob opens the room: read up to here
    assert unread.counts(key, [room.pk]) == {}
    posted = [writes.post_message(room.pk, ALICE, text).message for text in ("one", "two @bob", "three", "four")]
    writes.post_message(room.pk, Author(key=key, name="bob", user_id=user.pk), "my own words")
    assert unread.counts(key, [room.pk]) == {room.pk: unread.Unread(4, 1)}
    writes.delete_messages([posted[0]])
    writes.hide_messages([posted[2]])
    assert unread.counts(key, [room.pk]) == {room.pk: unread.Unread(2, 1)}
    # A room Bob never opened: no unread messages, but a mention of him counts.
    writes.post_message(other.pk, ALICE, "hey @bob, over here")
    writes.post_message(never.pk, ALICE, "nothing for Bob")
    assert unread.counts(key, [room.pk, other.pk, never.pk]) == {
        room.pk: unread.Unread(2, 1),
        other.pk: unread.Unread(0, 1),
    }


def test_the_lobby_shows_them_and_opening_the_room_clears_them_but_history_does_not(bob):
    _user, client = bob
    room = writes.get_or_create_room("news")[0]
    client.get(room.get_absolute_url())
    writes.post_message(room.pk, ALICE, "first")
    writes.post_message(room.pk, ALICE, "@bob second")
    assert badge(client.get("/").content.decode(), room) == "2 new 1 mention"
    client.get(f"{room.messages_url}?before=2")  # a history page reads nothing
    assert badge(client.get("/").content.decode(), room) == "2 new 1 mention"
    client.get(room.get_absolute_url())
    assert badge(client.get("/").content.decode(), room) == ""


def test_a_guest_gets_the_same_through_their_session(db):
    guest = Client()
    room = writes.get_or_create_room("guests")[0]
    guest.get(room.get_absolute_url())
    writes.post_message(room.pk, ALICE, "while the guest was away")
    assert badge(guest.get("/").content.decode(), room) == "1 new"
    assert badge(Client().get("/").content.decode(), room) == ""  # someone else: never opened it


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_lobby_counts_live_and_being_in_the_room_reads_it_in_every_tab(settings):
    settings.ROOMS_UNREAD_SETTLE_SECONDS = 0.05
    settings.ROOMS_READ_FLUSH_SECONDS = 0.2
    user = await database_sync_to_async(User.objects.create_user)("bob", password="a-long-pass-phrase")
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    headers = [(b"origin", ORIGIN.encode()), (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    room = await database_sync_to_async(lambda: writes.get_or_create_room("live")[0])()
    await database_sync_to_async(client.get)(room.get_absolute_url())  # Bob has opened it before
    lobby = await open_socket("/ws/lobby/", headers)
    assert badge(await lobby.receive_from(), room) == ""
    await database_sync_to_async(writes.post_message)(room.pk, ALICE, "hi @bob")
    frame = await _unread_frame(lobby, room)
    assert badge(frame, room) == "1 new 1 mention"

    in_room, _ = await join(room, headers)  # Bob opens the room in another tab, over its socket
    await database_sync_to_async(writes.post_message)(room.pk, ALICE, "are you there?")
    # The lobby counts the new message, then (his room socket read it) clears it.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        frame = await _unread_frame(lobby, room, timeout=max(0.1, deadline - loop.time()))
        if badge(frame, room) == "":
            break
    assert await database_sync_to_async(unread.counts)(f"u-{user.pk}", [room.pk]) == {}
    await in_room.disconnect()
    await lobby.disconnect()


async def _unread_frame(socket, room: Room, timeout: float = 3) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await socket.receive_side(timeout=max(0.05, deadline - loop.time()))
        if f'id="unread-{room.pk}"' in frame and "hx-swap-oob" in frame:
            return frame

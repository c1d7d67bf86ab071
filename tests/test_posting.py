"""Posts written together: one transaction for a batch from many rooms (rooms.writes.posts), and
the process's post queue that forms batches from sockets posting at once (rooms.sockets.posting)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import broadcast, writes
from rooms.identity import Author
from rooms.models import Message, Room
from rooms.sockets import posting
from tests.test_consumers import create_room, join, open_socket

ALICE = Author(key="g-alice", name="Alice")
BOB = Author(key="g-bob", name="Bob")


def stored(room: Room) -> list[tuple[int, str, int]]:
    return list(Message.objects.in_room(room).order_by("seq").values_list("seq", "text", "posted_event"))


@pytest.mark.django_db(transaction=True)
def test_a_batch_from_two_rooms_is_one_transaction_with_a_fixed_number_of_queries(make_room):
    one, two = make_room("one"), make_room("two")
    posts = [writes.NewPost((one, two)[n % 2].pk, (ALICE, BOB)[n % 3 == 0], f"hello {n}", f"n{n}") for n in range(10)]
    with CaptureQueriesContext(connection) as queries, broadcast.collected() as collected:
        results = writes.post_messages(posts)
    # Read the rooms, one insert, one update per room (and the transaction around them).
    statements = [q["sql"].split()[0] for q in queries.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    assert statements == ["SELECT", "INSERT", "UPDATE", "UPDATE"]
    assert all(isinstance(result, writes.Posted) and result.created for result in results)
    assert stored(one) == [(n + 1, f"hello {2 * n}", n + 1) for n in range(5)]
    assert stored(two) == [(n + 1, f"hello {2 * n + 1}", n + 1) for n in range(5)]
    one.refresh_from_db()
    assert (one.last_seq, one.last_event) == (5, 5)
    # Each message once for its room, in order; each room's lobby row is left to the caller, in
    # the room's latest state.
    assert [group for group, _ in collected.sends] == [(one, two)[n % 2].group_name for n in range(10)]
    assert [event["event"] for group, event in collected.sends if group == one.group_name] == [1, 2, 3, 4, 5]
    rows = broadcast.lobby_rows(collected.moved.values())
    assert [group for group, _ in rows] == ["lobby", "lobby"]
    assert all("5 messages" in next(iter(event["html"].values())) for _, event in rows)


@pytest.mark.django_db
def test_a_resend_inside_a_batch_returns_the_earlier_message_and_the_others_are_stored(make_room):
    room = make_room("r")
    first = writes.post_message(room.pk, ALICE, "once", nonce="same")
    results = writes.post_messages(
        [
            writes.NewPost(room.pk, BOB, "before"),
            writes.NewPost(room.pk, ALICE, "once", "same"),  # the page sent it again after a reconnect
            writes.NewPost(room.pk, BOB, "after", "b2"),
            writes.NewPost(room.pk, BOB, "after", "b2"),  # twice in one batch: stored once
        ]
    )
    assert [result.created for result in results] == [True, False, True, False]
    assert results[1].message.pk == first.message.pk
    assert results[3].message.pk == results[2].message.pk
    assert [(seq, text) for seq, text, _ in stored(room)] == [(1, "once"), (2, "before"), (3, "after")]


@pytest.mark.django_db
def test_a_post_to_a_room_that_is_gone_fails_alone(make_room):
    room, gone = make_room("stays"), make_room("goes")
    gone_pk = gone.pk
    gone.delete()
    results = writes.post_messages([writes.NewPost(room.pk, BOB, "one"), writes.NewPost(gone_pk, BOB, "lost")])
    assert isinstance(results[0], writes.Posted) and results[0].message.seq == 1
    assert isinstance(results[1], Room.DoesNotExist)
    with pytest.raises(Room.DoesNotExist):
        writes.post_message(gone_pk, BOB, "raises for a single post")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sockets_posting_at_once_share_batches_and_every_socket_gets_its_room_in_order_once(
    browser_headers, monkeypatch
):
    rooms = [await create_room(f"room {n}") for n in range(4)]
    sockets = {room.pk: [(await join(room, browser_headers()))[0] for _ in range(3)] for room in rooms}
    sizes: list[int] = []
    write_batch = posting._write_batch

    def counted(posts: list[writes.NewPost], *rows: object) -> object:
        sizes.append(len(posts))
        return write_batch(posts, *rows)

    monkeypatch.setattr(posting, "_write_batch", counted)
    sends = [
        socket.send_to(json.dumps({"message": f"{room.pk}-{socket_n}-{n}", "nonce": f"{socket_n}.{n}"}))
        for room in rooms
        for socket_n, socket in enumerate(sockets[room.pk])
        for n in range(3)
    ]
    await asyncio.gather(*sends)
    for room in rooms:
        for socket in sockets[room.pk]:
            shown: list[int] = []
            acks = 0
            while len(shown) < 9 or acks < 3:
                frame = await socket.receive_from(timeout=10)
                shown += [int(seq) for seq in re.findall(r'data-seq="(\d+)"', frame)]
                acks += frame.count('data-sent="')
                assert 'data-error="' not in frame.replace('data-error=""', "")
            assert shown == list(range(1, 10))  # every message of its room, once, in order
            assert await socket.receive_nothing(0.2)
    assert sum(sizes) == 36
    assert max(sizes) > 1, sizes  # posts that arrived together were written together
    counts = await database_sync_to_async(lambda: [Message.objects.in_room(room).count() for room in rooms])()
    assert counts == [9, 9, 9, 9]
    for room in rooms:
        for socket in sockets[room.pk]:
            await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_busy_rooms_lobby_row_moves_at_once_then_at_most_once_a_period_and_ends_on_its_last_state(
    browser_headers, settings
):
    settings.ROOMS_LOBBY_ROW_SECONDS = 0.5
    settings.ROOMS_RATE_BURST = settings.ROOMS_RATE_PER_SEC = 0
    room = await create_room("busy")
    lobby = await open_socket("/ws/lobby/", browser_headers())
    await lobby.receive_from(timeout=5)  # the list
    alice, _ = await join(room, browser_headers())
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(1, 9):
        await alice.send_to(json.dumps({"message": f"m{n}", "nonce": f"a.{n}"}))
        while 'data-sent="' not in await alice.receive_from(timeout=5):
            pass  # its own message; then the acknowledgement
    rows: list[tuple[float, str]] = []
    while not rows or "8 messages" not in rows[-1][1]:
        frame = await lobby.receive_from(timeout=5)
        if f'id="room-{room.pk}" hx-swap-oob="delete"' in frame:
            rows.append((loop.time() - started, frame))
    first = re.search(r"(\d+) messages?<", rows[0][1])
    assert first is not None and first.group(1) == "1"  # the first post moved the row at once
    assert len(rows) < 8  # not one per post
    # Sent at least 0.5 s apart; received with the layer's jitter (Redis) on top.
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(rows)]
    assert all(gap > 0.25 for gap in gaps), gaps
    assert len(rows) <= (rows[-1][0] - rows[0][0]) / 0.5 + 2
    assert await lobby.receive_nothing(0.7)  # nothing stale after the last state
    await asyncio.sleep(0.6)
    await alice.send_to(json.dumps({"message": "after a pause", "nonce": "a.9"}))
    quick = loop.time()
    while f'id="room-{room.pk}" hx-swap-oob="delete"' not in (frame := await lobby.receive_from(timeout=5)):
        pass
    assert "9 messages" in frame and loop.time() - quick < 0.4  # a quiet room's row moves at once
    await alice.disconnect()
    await lobby.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_lobby_row_older_than_one_already_shown_is_dropped(browser_headers):
    """Two processes each send their own rows, so an older state can arrive after a newer one."""
    room = await create_room("raced")
    lobby = await open_socket("/ws/lobby/", browser_headers())
    await lobby.receive_from(timeout=5)  # the list
    older = await database_sync_to_async(Room.objects.get)(pk=room.pk)
    await database_sync_to_async(writes.post_message)(room.pk, BOB, "one")
    await database_sync_to_async(writes.post_message)(room.pk, BOB, "two")
    shown = ""  # each post outside a socket moves the row at once (on Redis both may share a frame)
    while "2 messages" not in shown:
        shown += await lobby.receive_from(timeout=5)
    assert "1 message<" in shown
    older.last_seq, older.last_event = 1, 1  # the row as it was after the first post
    await broadcast.publish(broadcast.lobby_rows([(older, None)]))
    assert await lobby.receive_nothing(0.5)
    await database_sync_to_async(writes.post_message)(room.pk, BOB, "three")
    assert "3 messages" in await lobby.receive_from(timeout=5)
    await lobby.disconnect()

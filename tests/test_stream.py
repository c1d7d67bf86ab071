"""The room's one ordered stream through the real ASGI stack: every change (post, edit, delete,
hide, unhide, react) reaches every socket once and in order, and a socket that resumes from a
cursor gets the current state of exactly what changed after it."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from rooms import writes
from rooms.identity import Author
from rooms.models import Message
from tests.test_consumers import BOB, create_room, hold_room_events, join, open_socket, post, seqs

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ALICE = Author(key="g-alice", name="Alice")

edit = database_sync_to_async(writes.edit_message)
delete = database_sync_to_async(lambda message: writes.delete_messages([message]))
hide = database_sync_to_async(lambda message, hidden=True: writes.hide_messages([message], hidden=hidden))
react = database_sync_to_async(writes.toggle_reaction)


def cursor_of(html: str) -> int:
    return int(re.findall(r'id="cursor" name="cursor" value="(\d+)"', html)[-1])


def appended(html: str) -> list[int]:
    """Seqs of whole messages in the frame (new ones, appended)."""
    return seqs(html)


def replaced(html: str) -> list[int]:
    """Pks of messages whose content is replaced in place by the frame."""
    return [int(pk) for pk in re.findall(r'id="message-(\d+)-content"[^>]*hx-swap-oob="outerHTML:', html)]


async def test_a_resume_after_edits_deletions_and_reactions_gets_exactly_their_final_state(browser_headers):
    room = await create_room("r")
    kept, edited, deleted, liked = [await post(room, text) for text in ("kept", "v1", "doomed", "liked")]
    alice, page = await join(room, browser_headers(), cursor=0)
    stale_cursor = cursor_of(page)
    assert stale_cursor == 4
    await alice.disconnect()  # Alice's page goes away...

    for text in ("v2", "v3", "final text"):
        await edit(edited, text)
    await delete(deleted)
    await react(liked, BOB, "👍")
    await react(liked, ALICE, "👍")
    await react(liked, BOB, "👍")  # Bob changed his mind: only Alice's is left
    newer = await post(room, "posted while away")

    # ...and comes back: one frame, the current state of what changed, nothing else.
    alice, frame = await join(room, browser_headers(), cursor=stale_cursor)
    assert replaced(frame) == [edited.pk, deleted.pk, liked.pk]  # in posting order; `kept` did not change
    assert appended(frame) == [newer.seq]
    assert "final text" in frame and "v2" not in frame and "v3" not in frame
    assert f'id="message-{deleted.pk}-content" data-gone' in frame and "doomed" not in frame
    reactions = re.search(rf'id="message-{liked.pk}-reactions".*?</div>', frame, re.S).group(0)
    assert 'data-reactors="g-alice"' in reactions and "g-bob" not in reactions
    assert cursor_of(frame) == 12  # 4 posts, 3 edits, 1 deletion, 3 reactions, 1 post
    assert kept.pk not in replaced(frame)
    await alice.disconnect()


async def test_ten_edits_of_one_message_replay_as_one_replacement(browser_headers):
    room = await create_room("r")
    message = await post(room, "v0")
    for n in range(1, 11):
        await edit(message, f"v{n}")
    alice, frame = await join(room, browser_headers(), cursor=1)
    assert replaced(frame) == [message.pk]
    assert frame.count("message-text") == 1 and "v10" in frame and "v9<" not in frame
    assert cursor_of(frame) == 11
    await alice.disconnect()


async def test_every_kind_of_change_reaches_live_sockets_once_in_order_and_in_place(browser_headers):
    room = await create_room("r")
    message = await post(room, "hello")
    alice, _ = await join(room, browser_headers(), cursor=1)
    bob, _ = await join(room, browser_headers(), cursor=1)
    await edit(message, "hello, edited")
    await react(message, BOB, "🎉")
    await hide(message)
    await hide(message, hidden=False)
    await delete(message)
    for socket in (alice, bob):
        received = ""
        while 'value="6"' not in received:  # a busy hub may send several events in one frame
            received += await socket.receive_from(timeout=5)
        # Each event's fragments end with its cursor: split the stream there, one part per event.
        events = re.split(r'<input type="hidden" id="cursor"[^>]*value="\d+"[^>]*>', received)[:-1]
        cursors = [int(n) for n in re.findall(r'id="cursor" name="cursor" value="(\d+)"', received)]
        assert cursors == [2, 3, 4, 5, 6]
        assert all(replaced(e) == [message.pk] and appended(e) == [] for e in events)  # never the whole element
        assert "hello, edited" in events[0] and 'data-reactors="g-bob"' in events[1]
        assert "data-gone" in events[2] and "hello, edited" in events[3] and "data-gone" in events[4]
        assert await socket.receive_nothing(timeout=0.2)
    for socket in (alice, bob):
        await socket.disconnect()


async def test_a_socket_that_never_resumes_is_live_from_its_connect_time_its_own_messages_included(browser_headers):
    room = await create_room("r")
    await post(room, "before it connected")
    script = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await post(room, "from someone else")
    await script.send_to(json.dumps({"message": "from the script"}))  # the Channels tutorial's protocol
    frames = ""
    while frames.count("<article") < 2 or 'id="composer-nonce"' not in frames:  # and the acknowledgement
        frames += await script.receive_from(timeout=5)
    assert appended(frames) == [2, 3]  # not seq 1: it is live from its connect time
    assert frames.index("from someone else") < frames.index("from the script")
    assert "before it connected" not in frames
    assert await script.receive_nothing(timeout=0.3)
    await script.disconnect()


async def test_a_quiet_socket_goes_live_after_the_grace_and_gets_changes_to_older_messages(browser_headers, settings):
    settings.ROOMS_RESUME_GRACE_SECONDS = 0.1
    room = await create_room("r")
    old = await post(room, "old")
    listener = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await asyncio.sleep(0.2)  # the grace passing is the behaviour under test
    await edit(old, "old, edited")
    frame = await listener.receive_from(timeout=5)
    assert replaced(frame) == [old.pk] and "old, edited" in frame
    await listener.disconnect()


async def test_a_resume_frame_that_comes_first_takes_precedence_over_live_events(browser_headers):
    room = await create_room("r")
    await post(room, "one")
    page = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await post(room, "two")  # live, held: the socket does not know yet where its page stands
    await page.send_to(json.dumps({"cursor": "0", "HEADERS": {}}))
    frames = await page.receive_from(timeout=5)
    assert appended(frames) == [1, 2]
    assert await page.receive_nothing(timeout=0.3)  # "two" is not sent a second time
    await page.disconnect()


@pytest.mark.parametrize("frame", [{}, {"text": "hi"}, {"HEADERS": {"HX-Request": "true"}}, {"nonce": "x"}])
async def test_a_frame_with_no_field_the_socket_understands_gets_bad_schema_and_the_socket_stays(
    browser_headers, frame
):
    room = await create_room("r")
    socket = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await socket.send_to(json.dumps(frame))
    assert 'data-error="bad_schema"' in await socket.receive_from(timeout=5)
    await socket.send_to(json.dumps({"message": "still works"}))
    reply = ""
    while "still works" not in reply:
        reply += await socket.receive_from(timeout=5)
    await socket.disconnect()


async def test_events_that_arrive_out_of_order_reach_sockets_in_order_without_a_database_trip(
    browser_headers, monkeypatch
):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    deliver, held = hold_room_events(monkeypatch)
    for text in ("one", "two", "three"):
        await post(room, text)
    monkeypatch.setattr("rooms.catchup.frames_after", lambda *a, **k: pytest.fail("a reordering went to the database"))
    for group, message in (held[2], held[0], held[1]):  # as two processes might publish them
        await deliver(group, message)
    got = ""
    while got.count("<article") < 3:
        got += await alice.receive_from(timeout=5)
    assert appended(got) == [1, 2, 3]
    await alice.disconnect()


async def test_a_live_socket_that_lost_more_than_a_page_replays_it_all_instead_of_jumping(
    browser_headers, monkeypatch, settings
):
    settings.ROOMS_CATCHUP_LIMIT = 5
    settings.ROOMS_REORDER_WAIT_SECONDS = 0.1
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    layer = get_channel_layer()
    deliver = layer.group_send

    async def lose_the_first_twenty(group: str, message: dict) -> None:
        if message.get("type") == "room.event" and message["event"] <= 20:
            return
        await deliver(group, message)

    monkeypatch.setattr(layer, "group_send", lose_the_first_twenty)
    for n in range(1, 22):
        await post(room, f"m{n}")
    got = ""
    while 21 not in appended(got):
        got += await alice.receive_from(timeout=5)
    assert 'hx-swap-oob="innerHTML"' not in got  # no reset to the latest page
    assert appended(got) == list(range(1, 22))
    await alice.disconnect()


async def test_a_message_shown_again_comes_back_in_its_place_for_a_page_that_resumes(browser_headers):
    room = await create_room("r")
    first = await post(room, "first")
    await post(room, "second")
    await hide(first)
    alice, page = await join(room, browser_headers(), cursor=0)
    assert seqs(page) == [1, 2] and "first" not in page  # a placeholder keeps its place
    await alice.disconnect()
    await hide(first, hidden=False)
    alice, frame = await join(room, browser_headers(), cursor=cursor_of(page))
    assert replaced(frame) == [first.pk] and "first" in frame and appended(frame) == []
    await alice.disconnect()
    stored = await database_sync_to_async(lambda: Message.objects.get(pk=first.pk).event)()
    assert stored == 4


async def test_a_long_replay_comes_in_frames_each_leaving_the_page_resumable_and_the_last_says_live(
    browser_headers, settings
):
    settings.ROOMS_CATCHUP_FRAME_MESSAGES = 10
    room = await create_room("r")
    old = [await post(room, f"old {n}") for n in range(12)]
    for message in old:
        await edit(message, message.text + ", edited")
    for n in range(15):
        await post(room, f"new {n}")
    page = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await page.send_to(json.dumps({"cursor": "12", "HEADERS": {}}))  # the page shows the 12 old ones
    frames = [await page.receive_from(timeout=5) for _ in range(4)]
    # Replacements first (repeatable; the page's cursor stays), then new messages in posting order.
    assert [len(replaced(f)) for f in frames] == [10, 2, 0, 0]
    assert [appended(f) for f in frames] == [[], [], list(range(13, 23)), list(range(23, 28))]
    # Each frame of new messages moves the cursor to its last message's posting event: a resume
    # from there appends only what has not arrived. Only the last marks the socket live.
    assert ['id="cursor"' in f for f in frames] == [False, False, True, True]
    assert cursor_of(frames[2]) == 34 and cursor_of(frames[3]) == 39
    assert ['data-state="live"' in f for f in frames] == [False, False, False, True]
    assert await page.receive_nothing(timeout=0.2)
    await page.disconnect()
    resumed, again = await join(room, browser_headers(), cursor=34)  # dropped after the third frame
    assert appended(again) == list(range(23, 28))
    await resumed.disconnect()


async def test_a_resume_that_comes_after_the_grace_resets_the_page_instead_of_losing_what_it_missed(
    browser_headers, settings
):
    settings.ROOMS_RESUME_GRACE_SECONDS = 0.05
    room = await create_room("r")
    await post(room, "one")
    await post(room, "two")
    slow = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await asyncio.sleep(0.2)  # a page whose resume frame is slower than the grace
    await post(room, "three")
    live_frame = await slow.receive_from(timeout=5)
    assert appended(live_frame) == [3]
    await slow.send_to(json.dumps({"cursor": "0", "HEADERS": {}}))
    reset = await slow.receive_from(timeout=5)
    assert '<div id="messages" hx-swap-oob="innerHTML">' in reset and seqs(reset) == [1, 2, 3]
    assert 'data-state="live"' in reset and cursor_of(reset) == 3
    await post(room, "four")
    assert appended(await slow.receive_from(timeout=5)) == [4]
    await slow.disconnect()


@database_sync_to_async
def last_event(room) -> int:
    room.refresh_from_db()
    return room.last_event


def recheck(first: int, last: int, since: int) -> str:
    """What a "load older" page's hidden ws-send sends once swapped in (rooms/_history.html)."""
    return json.dumps({"recheck": {"first": first, "last": last, "since": since}, "HEADERS": {"HX-Request": "true"}})


async def test_a_load_older_page_rechecks_what_changed_since_it_was_read(browser_headers):
    room = await create_room("r")
    old = [await post(room, f"old {n}") for n in range(1, 4)]
    alice, _ = await join(room, browser_headers(), cursor=await last_event(room))
    # Alice's "load older" page is read now; before it reaches her page, Bob edits and reacts to
    # two of its messages. Their live events reach her socket while the page is still on its way.
    read_at = await last_event(room)
    await edit(old[0], "old 1, edited")
    await react(old[2], BOB, "👍")
    received = ""
    while f'value="{read_at + 2}"' not in received:  # one frame or two: a busy hub may batch them
        received += await alice.receive_from(timeout=5)
    # The page arrives and asks what changed in it since it was read: both, as they are now.
    await alice.send_to(recheck(1, 3, read_at))
    reply = await alice.receive_from(timeout=5)
    assert replaced(reply) == [old[0].pk, old[2].pk]
    assert "old 1, edited" in reply and "👍" in reply
    assert appended(reply) == [] and 'name="cursor"' not in reply  # nothing added, the cursor stays
    # A page read after the changes, or one whose messages did not change, gets no frame at all.
    await alice.send_to(recheck(1, 3, await last_event(room)))
    await alice.send_to(recheck(2, 2, read_at))
    assert await alice.receive_nothing(timeout=0.3)
    await post(room, "still live")  # and the socket goes on in order
    assert appended(await alice.receive_from(timeout=5)) == [4]
    await alice.disconnect()


async def test_a_recheck_before_the_resume_leaves_the_resume_in_charge(browser_headers):
    """ "Load older" clicked while the socket connects: the recheck may arrive first. It must not
    start the socket live from its connect time (its resume would then reset the page)."""
    room = await create_room("r")
    first = await post(room, "first")
    alice = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await edit(first, "first, edited")
    await alice.send_to(recheck(1, 1, 1))
    assert replaced(await alice.receive_from(timeout=5)) == [first.pk]
    await post(room, "second")
    await alice.send_to(json.dumps({"cursor": "1"}))
    reply = await alice.receive_from(timeout=5)
    assert 'data-state="live"' in reply and 'id="messages" hx-swap-oob="innerHTML"' not in reply  # no reset
    assert appended(reply) == [2] and replaced(reply) == [first.pk]
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()

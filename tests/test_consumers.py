"""The WebSocket contract through the real ASGI stack: origin check, session, router, consumer."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator

from project.asgi import application
from rooms import writes
from rooms.identity import Author
from rooms.models import Message, Room

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

create_room = database_sync_to_async(lambda name: writes.get_or_create_room(name)[0])
BOB = Author(key="g-bob", name="Bob")


@database_sync_to_async
def post(room: Room, text: str, author: Author = BOB, nonce: str = "") -> Message:
    return writes.post_message(room.pk, author, text, nonce).message


@database_sync_to_async
def stored(room: Room) -> list[tuple[int, str]]:
    return list(Message.objects.in_room(room).order_by("seq").values_list("seq", "text"))


async def other_server(scope: dict, receive: Callable, send: Callable) -> None:
    """The app under a server whose ``receive`` is not a bare ``asyncio.Queue.get`` (consumers
    then keep their own inbox for events from inside the process)."""
    await application(scope, lambda: receive(), send)


# The fragments of who is here, who is typing and what a lobby's person has not read
# (rooms/_presence.html, rooms/_typing.html, rooms/_here.html, rooms/_unread.html): whole states
# outside the stream, sent whenever they change.
SIDE_FRAGMENT = re.compile(
    r'\s*(<span id="(presence-count|here-\d+)"[^>]*>.*?</span>'
    r'|<span id="presence-list"[^>]*>(?:<span[^>]*>[^<]*</span>)*</span>'
    r'|<div id="typing".*?</div>|<span id="unread-\d+"[^>]*>(<span class="unread-[a-z]+">[^<]*</span>)*</span>)\s*',
    re.S,
)


def is_side_frame(frame: str) -> bool:
    """Whether a frame holds nothing but presence, typing or lobby-count fragments."""
    return not SIDE_FRAGMENT.sub("", frame).strip()


def _is_side(output: dict) -> bool:
    frame = output.get("text")
    return output["type"] == "websocket.send" and isinstance(frame, str) and is_side_frame(frame)


class Communicator(WebsocketCommunicator):
    """A test's socket that sets presence and typing frames aside (in ``side``), so a test reads
    the frames it is about; tests of presence and typing read ``side`` or ``receive_side``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.side: list[str] = []
        self.others: list[dict] = []

    async def receive_output(self, timeout: float = 1) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            output = await super().receive_output(max(0.01, deadline - loop.time()))
            if not _is_side(output):
                return output
            self.side.append(output["text"])

    async def receive_side(self, timeout: float = 2) -> str:
        """The next presence, typing or count frame; other frames before it go to ``others``."""
        if self.side:
            return self.side.pop(0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            output = await super().receive_output(max(0.01, deadline - loop.time()))
            if _is_side(output):
                return output["text"]
            self.others.append(output)

    async def receive_nothing(self, timeout: float = 0.1, interval: float = 0.01) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await super().receive_nothing(max(0.0, deadline - loop.time()), interval):
            if not _is_side(self.output_queue._queue[0]):  # a peek: it stays for the test to read
                return False
            self.side.append((await super().receive_output())["text"])
            if loop.time() >= deadline:
                return True
        return True


async def open_socket(path: str, headers: list[tuple[bytes, bytes]], app: Callable = application) -> Communicator:
    communicator = Communicator(app, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def join(
    room: Room, headers: list[tuple[bytes, bytes]], cursor: int = 0, app: Callable = application
) -> tuple[WebsocketCommunicator, str]:
    """Open a room socket and send the resume frame exactly as htmx's ws-send does."""
    communicator = await open_socket(f"/ws/rooms/{room.slug}/", headers, app)
    await communicator.send_to(json.dumps({"cursor": str(cursor), "HEADERS": {"HX-Request": "true"}}))
    reply = await communicator.receive_from(timeout=5)
    assert 'data-state="live"' in reply
    return communicator, reply


def hold_room_events(monkeypatch: pytest.MonkeyPatch) -> tuple[Callable, list[tuple[str, dict]]]:
    """Keep room events out of the layer (the list they go to), as a layer that is slow to
    deliver them would; returns the layer's real ``group_send`` to let them through later."""
    layer = get_channel_layer()
    deliver, held = layer.group_send, []

    async def holding(group: str, message: dict) -> None:
        if message.get("type") == "room.event":
            held.append((group, message))
            return
        await deliver(group, message)

    monkeypatch.setattr(layer, "group_send", holding)
    return deliver, held


def seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]


def error_code(html: str) -> str | None:
    match = re.search(r'id="chat-error"[^>]*data-error="([a-z_]+)"', html)
    return match.group(1) if match else None


async def test_cross_origin_and_missing_origin_handshakes_are_refused_with_4003(browser_headers):
    room = await create_room("r")
    for headers in ([(b"origin", b"http://evil.example")], [(b"origin", b"null")], []):
        communicator = await open_socket(f"/ws/rooms/{room.slug}/", headers)
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}


async def test_an_unknown_room_is_accepted_then_closed_with_4404(browser_headers):
    communicator = await open_socket("/ws/rooms/no-such-room/", browser_headers())
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}


async def test_a_korean_named_room_works_over_the_socket(browser_headers):
    room = await create_room("한국어 방")
    alice, _ = await join(room, browser_headers())
    await alice.send_to(json.dumps({"message": "안녕하세요"}))
    frames = [await alice.receive_from(timeout=5), await alice.receive_from(timeout=5)]
    assert any("안녕하세요" in frame for frame in frames)
    await alice.disconnect()


async def test_resume_sends_what_was_posted_after_the_cursor_then_streams_live(browser_headers):
    room = await create_room("r")
    for i in range(1, 4):
        await post(room, f"before {i}")
    alice, reply = await join(room, browser_headers(), cursor=1)
    assert seqs(reply) == [2, 3]
    assert 'id="cursor" name="cursor" value="3" hx-swap-oob="true"' in reply
    assert '<div id="messages-live" hx-swap-oob="beforeend">' in reply
    await post(room, "live 4")
    live = await alice.receive_from(timeout=5)
    assert seqs(live) == [4] and "live 4" in live
    assert 'id="cursor" name="cursor" value="4"' in live
    await alice.disconnect()


async def test_events_before_the_resume_frame_are_not_sent_twice(browser_headers):
    room = await create_room("r")
    alice = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    await post(room, "while connecting")  # broadcast reaches the socket before it has resumed
    assert await alice.receive_nothing(timeout=0.3)
    await alice.send_to(json.dumps({"cursor": "0"}))
    reply = await alice.receive_from(timeout=5)
    assert seqs(reply) == [1]
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()


async def test_a_message_reaches_everyone_identically_and_the_sender_gets_a_fresh_composer(browser_headers):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    bob, _ = await join(room, browser_headers())
    await alice.send_to(json.dumps({"message": " hello <b>all</b> ", "nonce": "n-1", "HEADERS": {}}))
    alice_frames = [await alice.receive_from(timeout=5), await alice.receive_from(timeout=5)]
    event = await bob.receive_from(timeout=5)
    assert event in alice_frames  # byte-identical fragment for every recipient
    (ack,) = [frame for frame in alice_frames if frame != event]
    # Never the text field (what was typed since Enter stays): a new nonce, no error, and which send was stored.
    assert 'id="composer-text"' not in ack
    assert 'id="composer-nonce"' in ack and 'value="n-1"' not in ack
    assert 'id="chat-error"' in ack and "data-error" not in ack
    assert 'id="composer-sending"' in ack and 'data-sent="n-1"' in ack
    assert "hello &lt;b&gt;all&lt;/b&gt;" in event and "<b>" not in event
    message = (await database_sync_to_async(lambda: list(Message.objects.all()))())[0]
    assert f'id="message-{message.pk}" data-seq="1"' in event
    assert await stored(room) == [(1, "hello <b>all</b>")]
    assert await bob.receive_nothing(timeout=0.2)
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (json.dumps({"message": ""}), "empty"),
        (json.dumps({"message": "   \n\t "}), "empty"),
        (json.dumps({"message": "\u200b\u200d\ufeff"}), "empty"),
        (json.dumps({"message": "x" * 4001}), "too_long"),
        (json.dumps({"message": "nul \u0000"}), "control_chars"),
        ('{"message": "\\ud800"}', "control_chars"),
        ("{not json", "invalid_json"),
        ("[" * 20000 + "]" * 20000, "invalid_json"),
        (json.dumps(["message", "hi"]), "bad_schema"),
        (json.dumps("hi"), "bad_schema"),
        (json.dumps({"message": 5}), "bad_type"),
        (json.dumps({"message": {"text": "hi"}}), "bad_type"),
        (json.dumps({"cursor": "abc"}), "bad_type"),
        (json.dumps({"recheck": "1:5"}), "bad_type"),
        (json.dumps({"recheck": {"first": 5, "last": 1, "since": 0}}), "bad_type"),
        (json.dumps({"recheck": {"first": True, "last": 1, "since": 0}}), "bad_type"),
        (json.dumps({"recheck": {"first": 1, "last": 2}}), "bad_type"),
        (json.dumps({"message": "x" * 70000}), "too_large"),
    ],
)
async def test_invalid_frames_get_an_error_to_the_sender_only_and_the_socket_stays_open(browser_headers, frame, code):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    bob, _ = await join(room, browser_headers())
    await alice.send_to(frame)
    reply = await alice.receive_from(timeout=5)
    assert error_code(reply) == code
    assert "Traceback" not in reply
    assert await bob.receive_nothing(timeout=0.2)
    assert await stored(room) == []
    await alice.send_to(json.dumps({"message": "still here"}))  # the socket stays open
    assert "still here" in await bob.receive_from(timeout=5)
    await alice.disconnect()
    await bob.disconnect()


async def test_what_one_socket_sees_is_in_its_pages_language(browser_headers, settings):
    room = await create_room("r")
    korean = [*browser_headers(), (b"accept-language", b"ko-KR,ko;q=0.9")]
    socket, _ = await join(room, korean)
    await socket.send_to(json.dumps({"message": "x" * (settings.ROOMS_MESSAGE_MAX_LENGTH + 1)}))
    assert "메시지는 최대" in await socket.receive_from(timeout=5)  # a message formatted by validation
    await socket.send_to(bytes_data=b"\x00")
    assert "바이너리 프레임은 받지 않습니다" in await socket.receive_from(timeout=5)
    await socket.send_to(json.dumps({"message": "안녕"}))
    frames = [await socket.receive_from(timeout=5) for _ in range(2)]  # the message, and the acknowledgement
    acknowledgement = next(frame for frame in frames if 'id="composer-sending"' in frame)
    assert "전송 중…" in acknowledgement  # the sending line's label
    await socket.disconnect()


async def test_a_binary_frame_gets_an_error_and_the_socket_stays_open(browser_headers):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    await alice.send_to(bytes_data=b"\x00\x01binary")
    assert error_code(await alice.receive_from(timeout=5)) == "binary"
    await alice.send_to(json.dumps({"message": "text works"}))
    assert "text works" in "".join([await alice.receive_from(timeout=5), await alice.receive_from(timeout=5)])
    await alice.disconnect()


async def test_a_replayed_nonce_is_stored_and_broadcast_once(browser_headers):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    bob, _ = await join(room, browser_headers())
    for _ in range(2):
        await alice.send_to(json.dumps({"message": "once", "nonce": "same"}))
    assert seqs(await bob.receive_from(timeout=5)) == [1]
    assert await bob.receive_nothing(timeout=0.3)
    assert await stored(room) == [(1, "once")]
    await alice.disconnect()
    await bob.disconnect()


async def test_the_author_comes_from_the_session_not_the_payload(client, browser_headers):
    room = await create_room("r")
    headers = browser_headers(client=client)
    session = await database_sync_to_async(lambda: dict(client.session))()
    alice, _ = await join(room, headers)
    await alice.send_to(json.dumps({"message": "hi", "author": "admin", "author_name": "Admin", "room": 999}))
    frames = [await alice.receive_from(timeout=5), await alice.receive_from(timeout=5)]
    message = (await database_sync_to_async(lambda: list(Message.objects.all()))())[0]
    assert message.author_name == session["madang_guest_name"]
    assert message.author_key == f"g-{session['madang_guest_id']}"
    assert message.room_id == room.pk
    assert any(session["madang_guest_name"] in frame for frame in frames)
    await alice.disconnect()


async def test_a_socket_without_a_session_chats_under_a_guest_name(browser_headers):
    room = await create_room("r")
    anonymous, _ = await join(room, browser_headers(with_session=False))
    await anonymous.send_to(json.dumps({"message": "who am i"}))
    await anonymous.receive_from(timeout=5)
    message = (await database_sync_to_async(lambda: list(Message.objects.all()))())[0]
    assert message.author_name.startswith("Guest ")
    assert message.author_key.startswith("g-")
    await anonymous.disconnect()


@pytest.mark.parametrize("app", [application, other_server], ids=["daphne-like", "other-server"])
async def test_a_skipped_seq_is_repaired_from_the_database(browser_headers, monkeypatch, app):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers(), app=app)
    layer = get_channel_layer()
    deliver = layer.group_send

    async def drop_seq_1(group: str, message: dict) -> None:
        # The layer is at-most-once: this is what an over-capacity channel does, silently.
        if message.get("type") == "room.event" and message["event"] == 1:
            return
        await deliver(group, message)

    monkeypatch.setattr(layer, "group_send", drop_seq_1)
    await post(room, "lost in the layer")
    assert await alice.receive_nothing(timeout=0.3)
    await post(room, "arrives")
    repaired = await alice.receive_from(timeout=5)
    assert seqs(repaired) == [1, 2]
    assert "lost in the layer" in repaired and "arrives" in repaired
    await alice.disconnect()


async def test_a_duplicated_layer_event_is_shown_once(browser_headers):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    await post(room, "one")
    first = await alice.receive_from(timeout=5)
    layer = get_channel_layer()
    await layer.group_send(room.group_name, {"type": "room.event", "event": 1, "html": {"en UTC": first}})
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()


async def test_a_backlog_of_events_reaches_a_socket_as_one_frame_in_order(browser_headers, monkeypatch):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    deliver, held = hold_room_events(monkeypatch)
    await post(room, "one")
    await post(room, "two")
    carol, resumed = await join(room, browser_headers())  # opened now: "one" and "two" come from the database
    assert seqs(resumed) == [1, 2]
    await post(room, "three")
    # A busy room: three events reach the layer, in order, before the room's hub runs again.
    await asyncio.gather(*(deliver(group, message) for group, message in held))

    frames = [await alice.receive_from(timeout=5)]
    while len(seqs("".join(frames))) < 3:
        frames.append(await alice.receive_from(timeout=5))
    batch = "".join(frames)
    assert seqs(batch) == [1, 2, 3]
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        # In process the three are all waiting when the hub runs. Over Redis they travel as three
        # PUBLISHes, and the hub may run between them: in order and once is what holds there.
        assert len(frames) == 1
    assert batch.count('id="messages-live"') == 3 and batch.count('id="cursor"') == 3  # fragments, as rendered
    assert re.findall(r'id="cursor"[^>]*value="(\d+)"', batch)[-1] == "3"  # the last swap wins
    assert await alice.receive_nothing(timeout=0.3)
    # A socket elsewhere in the stream takes the events one by one: only "three" is new to her.
    assert seqs(await carol.receive_from(timeout=5)) == [3]
    assert await carol.receive_nothing(timeout=0.3)
    await alice.disconnect()
    await carol.disconnect()


async def test_missing_more_than_the_catch_up_limit_resets_to_the_latest_page(browser_headers, settings):
    settings.ROOMS_CATCHUP_LIMIT = 10
    settings.ROOMS_PAGE_SIZE = 5
    room = await create_room("r")
    for i in range(1, 16):
        await post(room, f"m{i}")
    alice, reply = await join(room, browser_headers(), cursor=2)
    assert '<div id="messages" hx-swap-oob="innerHTML">' in reply
    assert seqs(reply) == [11, 12, 13, 14, 15]
    assert "?before=11" in reply  # load older
    assert 'name="cursor" value="15"' in reply
    await alice.disconnect()


async def test_a_cursor_ahead_of_the_room_resets_to_the_latest_page(browser_headers):
    room = await create_room("r")
    await post(room, "only")
    alice, reply = await join(room, browser_headers(), cursor=500)
    assert 'hx-swap-oob="innerHTML"' in reply and seqs(reply) == [1]
    await alice.disconnect()


async def test_sending_too_fast_is_rate_limited_politely(browser_headers, settings):
    settings.ROOMS_RATE_BURST = 2
    settings.ROOMS_RATE_PER_SEC = 0.5
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    for i in range(2):
        await alice.send_to(json.dumps({"message": f"ok {i}"}))
        await alice.receive_from(timeout=5)
        await alice.receive_from(timeout=5)
    await alice.send_to(json.dumps({"message": "too fast"}))
    assert error_code(await alice.receive_from(timeout=5)) == "rate_limited"
    assert [text for _, text in await stored(room)] == ["ok 0", "ok 1"]
    await alice.disconnect()


async def test_the_lobby_socket_sends_the_list_then_live_rows(browser_headers):
    await create_room("existing")
    lobby = await open_socket("/ws/lobby/", browser_headers())
    listing = await lobby.receive_from(timeout=5)
    assert '<ul id="room-list" hx-swap-oob="innerHTML">' in listing and "existing" in listing
    room = await create_room("새 방")
    created = await lobby.receive_from(timeout=5)
    assert 'hx-swap-oob="afterbegin"' in created and "새 방" in created and 'hx-swap-oob="delete"' not in created
    await post(room, "activity")
    moved = await lobby.receive_from(timeout=5)
    assert f'<li id="room-{room.pk}" hx-swap-oob="delete">' in moved and "1 message" in moved
    await lobby.disconnect()


async def test_answers_to_a_send_name_it_by_its_nonce_and_never_replace_the_text_field(browser_headers, settings):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    too_long = "x" * (settings.ROOMS_MESSAGE_MAX_LENGTH + 1)
    await alice.send_to(json.dumps({"message": too_long, "nonce": "n.1"}))
    refused = await alice.receive_from(timeout=5)
    assert error_code(refused) == "too_long"
    assert 'id="composer-sending"' in refused and 'data-failed="n.1"' in refused
    assert 'id="composer-text"' not in refused
    await alice.send_to("{not json")  # unreadable: it may have been a post, the page picks its oldest send
    assert 'data-failed=""' in await alice.receive_from(timeout=5)
    await alice.send_to(json.dumps({"cursor": "x"}))  # no post: no sending line
    assert 'id="composer-sending"' not in await alice.receive_from(timeout=5)
    # A send repeated after a drop (same nonce) is answered again and stored once.
    for _ in range(2):
        await alice.send_to(json.dumps({"message": "once", "nonce": "n.2"}))
    frames = [await alice.receive_from(timeout=5) for _ in range(3)]
    assert sum('data-sent="n.2"' in frame for frame in frames) == 2
    assert not any('id="composer-text"' in frame for frame in frames)
    assert await stored(room) == [(1, "once")]
    await alice.disconnect()


async def test_a_rename_reaches_every_socket_of_that_person_and_their_next_post_carries_it(client, browser_headers):
    room = await create_room("r")
    headers = browser_headers(client=client)  # one person, two tabs
    first, _ = await join(room, headers)
    second, _ = await join(room, headers)
    stranger, _ = await join(room, browser_headers())
    response = await database_sync_to_async(
        lambda: client.post("/me/name/", {"display_name": "새 이름 <b>", "next": "/rooms/r/"}, HTTP_HX_REQUEST="true")
    )()
    assert response.status_code == 200  # htmx: the identity area, no redirect
    assert 'id="identity"' in response.content.decode() and "새 이름 &lt;b&gt;" in response.content.decode()
    for socket in (first, second):
        fragment = await socket.receive_from(timeout=5)
        assert '<div class="identity" id="identity" hx-swap-oob="true">' in fragment
        assert 'value="새 이름 &lt;b&gt;"' in fragment and "<b>" not in fragment
        assert 'name="next" value="/rooms/r/"' in fragment
    assert await stranger.receive_nothing(timeout=0.2)
    await second.send_to(json.dumps({"message": "under my new name"}))
    await second.receive_from(timeout=5)
    message = await database_sync_to_async(lambda: Message.objects.get())()
    assert message.author_name == "새 이름 <b>"
    for socket in (first, second, stranger):
        await socket.disconnect()

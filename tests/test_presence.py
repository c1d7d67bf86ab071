"""Who is here and who is typing, through the real ASGI stack (in-memory layer, one process).

Across processes on Redis, with a process killed and Redis restarted: tests/test_presence_redis.py.
In Chromium, two people: tests/test_browser_presence.py.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from rooms.forms import DisplayNameForm
from rooms.sockets.guards import CLOSE_FLOOD
from tests.conftest import ORIGIN, session_cookie
from tests.test_consumers import create_room, is_side_frame, join, open_socket
from tests.test_markup import PAYLOADS, assert_inert

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def person(name: str) -> tuple[list[tuple[bytes, bytes]], str]:
    """Handshake headers of a new guest who took ``name``, and their author key."""
    client = Client()
    cookie = session_cookie(client)
    response = client.post("/me/name/", {"display_name": name, "next": "/"})
    assert response.status_code == 302
    key = "g-" + client.session["madang_guest_id"]
    return [(b"origin", ORIGIN.encode()), (b"cookie", f"sessionid={cookie}".encode())], key


new_person = database_sync_to_async(person)


def keys_in(frame: str) -> list[str]:
    """The author keys a presence frame lists, in order."""
    listed = re.search(r'<span id="presence-list"[^>]*>(?:<span[^>]*>[^<]*</span>)*</span>', frame)
    assert listed, frame
    return re.findall(r'data-key="([^"]+)"', listed.group(0))


async def presence_until(socket, keys: list[str] | set[str], timeout: float = 3) -> str:
    """The socket's presence frames until one lists exactly ``keys`` (a list: in name order)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await socket.receive_side(timeout=max(0.05, deadline - loop.time()))
        if 'id="presence-list"' in frame:
            listed = keys_in(frame)
            if listed == keys or (isinstance(keys, set) and set(listed) == keys and len(listed) == len(keys)):
                return frame


async def typing_until(socket, predicate, timeout: float = 3) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await socket.receive_side(timeout=max(0.05, deadline - loop.time()))
        if 'id="typing"' in frame and predicate(frame):
            return frame


async def alice_and_bob_in(name: str):  # type: ignore[no-untyped-def]
    """A room of that name with Alice's and Bob's sockets in it, and their keys."""
    room = await create_room(name)
    (alice_headers, alice), (bob_headers, bob) = await new_person("Alice"), await new_person("Bob")
    a, _ = await join(room, alice_headers)
    b, _ = await join(room, bob_headers)
    return a, b, alice, bob


async def acknowledged(socket) -> bool:
    """Frames until the one that says the socket's own post was stored (its broadcast comes first)."""
    for _ in range(3):
        if 'id="composer-nonce"' in await socket.receive_from():
            return True
    return False


def lines(frame: str) -> dict[str, str]:
    """Typing lines by whom they are for ("all", or "without <key>") -> text."""
    found = {}
    for attrs, text in re.findall(r'<p class="typing-line[^"]*" ([^>]*)>(.*?)</p>', frame, re.S):
        who = re.search(r'data-(for|without)="([^"]*)"', attrs)
        found["all" if who.group(1) == "for" else f"without {who.group(2)}"] = text
    return found


async def test_people_appear_once_per_person_and_leave_after_the_grace(settings):
    settings.ROOMS_PRESENCE_LEAVE_GRACE_SECONDS = 0.2
    room = await create_room("here")
    (alice_headers, alice), (bob_headers, bob) = await new_person("Alice"), await new_person("Bob")
    a, _ = await join(room, alice_headers)
    await presence_until(a, [alice])
    b1, _ = await join(room, bob_headers)
    b2, _ = await join(room, bob_headers)  # a second tab: still one Bob
    frame = await presence_until(a, [alice, bob])
    assert "2 here" in frame and ">Bob</span>" in frame and ">Alice</span>" in frame
    await presence_until(b2, [alice, bob])
    await b1.disconnect()
    await asyncio.sleep(0.5)
    assert await b2.receive_nothing(0.3) and all(keys_in(f) == [alice, bob] for f in b2.side if "presence-list" in f)
    await b2.disconnect()
    await presence_until(a, [alice])
    await a.disconnect()


async def test_a_reload_shows_nobody_leaving(settings):
    settings.ROOMS_PRESENCE_LEAVE_GRACE_SECONDS = 0.5
    room = await create_room("reload")
    (alice_headers, alice), (bob_headers, bob) = await new_person("Alice"), await new_person("Bob")
    a, _ = await join(room, alice_headers)
    b, _ = await join(room, bob_headers)
    await presence_until(a, [alice, bob])
    await b.disconnect()
    b, _ = await join(room, bob_headers)  # the reload's new socket
    await asyncio.sleep(1.0)
    await a.receive_nothing(0.1)
    shown = [keys_in(f) for f in a.side if "presence-list" in f]
    assert all(keys == [alice, bob] for keys in shown), shown
    await a.disconnect()
    await b.disconnect()


async def test_hostile_names_stay_text_in_the_presence_and_typing_lists(settings):
    """Every payload the suite throws at messages, as a display name in both lists."""
    settings.ROOMS_PRESENCE_LEAVE_GRACE_SECONDS = 0.01  # each name leaves before the next comes
    room = await create_room("hostile")
    watcher_headers, watcher_key = await new_person("Watcher")
    watcher, _ = await join(room, watcher_headers)
    names = [p[:32] for p in PAYLOADS if DisplayNameForm({"display_name": p[:32]}).is_valid()]
    assert len(names) > 10
    for name in names:
        headers, key = await new_person(name)
        socket, _ = await join(room, headers)
        frame = await presence_until(watcher, {watcher_key, key})
        assert_inert(frame, name)
        assert re.findall(r"<(\w+)[^>]*hx-swap-oob", frame) == ["span", "span"]  # only our own wrappers
        await socket.send_to(json.dumps({"typing": True}))
        frame = await typing_until(watcher, lambda f: "all" in lines(f))
        assert_inert(frame, name)
        assert re.findall(r"<(\w+)[^>]*hx-swap-oob", frame) == ["div"]
        await socket.disconnect()
        await typing_until(watcher, lambda f: lines(f) == {})  # the close ends its typing
    await watcher.disconnect()


async def test_typing_shows_others_not_yourself_and_ends_with_the_message():
    a, b, alice, bob = await alice_and_bob_in("typing")
    await b.send_to(json.dumps({"typing": "1", "HEADERS": {"HX-Request": "true"}}))  # as the page's form sends it
    frame = await typing_until(a, lambda f: "all" in lines(f))
    # One fragment for everyone: the line for all, and Bob's own line (without him: empty).
    assert lines(frame) == {"all": "Bob is typing…", f"without {bob}": ""}
    assert "typing-left-6" in frame
    await typing_until(b, lambda f: lines(f) == {"all": "Bob is typing…", f"without {bob}": ""})
    await a.send_to(json.dumps({"typing": True}))
    frame = await typing_until(a, lambda f: len(lines(f)) == 3)
    assert lines(frame) == {
        "all": "Alice and Bob are typing…",
        f"without {alice}": "Bob is typing…",
        f"without {bob}": "Alice is typing…",
    }
    await b.send_to(json.dumps({"message": "done typing", "nonce": "n1"}))
    frame = await typing_until(a, lambda f: "Bob" not in f)
    assert lines(frame) == {"all": "Alice is typing…", f"without {alice}": ""}
    await a.disconnect()
    await b.disconnect()


async def test_typing_runs_out_by_itself(settings):
    settings.ROOMS_TYPING_SECONDS = 0.5
    a, b, _alice, _bob = await alice_and_bob_in("quiet")
    await b.send_to(json.dumps({"typing": True}))
    await typing_until(a, lambda f: "all" in lines(f))
    started = asyncio.get_running_loop().time()
    await typing_until(a, lambda f: lines(f) == {}, timeout=2)
    assert 0.4 < asyncio.get_running_loop().time() - started < 2.5  # 0.5 s, and a loaded machine
    await a.disconnect()
    await b.disconnect()


async def test_typing_frames_beyond_the_limit_are_dropped_and_never_touch_the_message_limit(settings):
    settings.ROOMS_RATE_BURST = 1
    a, b, _alice, _bob = await alice_and_bob_in("throttle")
    for _ in range(6):
        await b.send_to(json.dumps({"typing": True}))
    await asyncio.sleep(0.6)
    await a.receive_nothing(0.1)
    # Counted as fragments: on Redis the two can arrive together and go out as one frame.
    typing_states = sum(f.count('<div id="typing"') for f in a.side)
    assert typing_states == 2, a.side  # the burst of 2; the rest dropped
    assert await b.receive_nothing(0.2)  # nothing for the sender either: no error for a dropped signal
    await b.send_to(json.dumps({"message": "still allowed", "nonce": "n2"}))
    assert await acknowledged(b)
    await a.disconnect()
    await b.disconnect()


async def test_a_malformed_typing_frame_gets_an_error_for_the_sender_only(browser_headers):
    room = await create_room("bad")
    a, _ = await join(room, browser_headers())
    b, _ = await join(room, browser_headers())
    for bad in ({"typing": {"x": 1}}, {"typing": "maybe"}, {"typing": 7}, {"typing": None}):
        await b.send_to(json.dumps(bad))
        reply = await b.receive_from()
        assert 'data-error="bad_type"' in reply, reply
    assert await a.receive_nothing(0.3)
    assert not [f for f in a.side if 'class="typing-line' in f]
    await b.send_to(json.dumps({"message": "the socket is still open", "nonce": "n3"}))
    assert await acknowledged(b)
    await a.disconnect()
    await b.disconnect()


async def test_a_client_flooding_typing_frames_is_closed_by_the_flood_limit(browser_headers, settings):
    settings.ROOMS_FLOOD_BURST, settings.ROOMS_FLOOD_PER_SEC = 5, 1
    room = await create_room("flood")
    b, _ = await join(room, browser_headers())
    for _ in range(10):
        await b.send_to(json.dumps({"typing": True}))
    output = await b.receive_output(timeout=2)
    while output["type"] != "websocket.close":
        output = await b.receive_output(timeout=2)
    assert output["code"] == CLOSE_FLOOD


async def test_the_lobby_counts_people_per_room_on_open_and_live():
    room = await create_room("counted")
    (alice_headers, _alice), (bob_headers, _bob) = await new_person("Alice"), await new_person("Bob")
    a, _ = await join(room, alice_headers)
    await asyncio.sleep(0.4)
    lobby = await open_socket("/ws/lobby/", alice_headers)
    first = await lobby.receive_from()
    assert re.search(rf'<span id="here-{room.pk}" class="room-here">1 here</span>', first), first
    b, _ = await join(room, bob_headers)
    frame = await lobby.receive_side()
    assert is_side_frame(frame)
    assert f'<span id="here-{room.pk}" class="room-here" hx-swap-oob="true">2 here</span>' in frame
    await a.disconnect()
    await b.disconnect()
    await lobby.disconnect()

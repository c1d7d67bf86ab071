"""Every reader gets times in their own zone and words in their own language, and live fragments
are still rendered once per (language, zone) variant in use, never once per recipient."""

from __future__ import annotations

import json
import zoneinfo

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from rooms import broadcast, fragments, snapshots, variants, writes
from rooms.identity import Author
from rooms.models import Message, Room
from tests.test_consumers import create_room, join, open_socket

pytestmark = [pytest.mark.django_db(transaction=True)]

SEOUL, LONDON = zoneinfo.ZoneInfo("Asia/Seoul"), zoneinfo.ZoneInfo("Europe/London")


def korean(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [*headers, (b"accept-language", b"ko-KR,ko;q=0.9")]


def in_london(browser_headers) -> list[tuple[bytes, bytes]]:
    """An English reader who chose London on the time-zone page."""
    client = Client()
    client.get("/")
    response = client.post("/me/time-zone/", {"time_zone": "Europe/London", "next": "/"})
    assert response.status_code == 302
    return [*browser_headers(client=client), (b"accept-language", b"en")]


def hhmm(moment, zone) -> str:
    return timezone.localtime(moment, zone).strftime("%H:%M")


@database_sync_to_async
def latest(room: Room) -> Message:
    return Message.objects.in_room(room).order_by("-seq").first()


@pytest.mark.asyncio
async def test_one_event_is_rendered_once_per_variant_in_the_room_and_each_reader_gets_their_own(browser_headers):
    room = await create_room("variants")
    ko, _ = await join(room, korean(browser_headers()))
    en, _ = await join(room, in_london(browser_headers))
    variants.renders.clear()
    await ko.send_to(json.dumps({"message": "안녕하세요"}))
    all_ko = ""
    while "안녕하세요" not in all_ko:  # the message, and the sender's acknowledgement in any order
        all_ko += await ko.receive_from(timeout=5)
    frame_en = await en.receive_from(timeout=5)
    message = await latest(room)
    assert f">{hhmm(message.created_at, SEOUL)}</time>" in all_ko
    assert f">{hhmm(message.created_at, LONDON)}</time>" in frame_en
    # The writer rendered in its author's variant (the message, and the row for lobbies), the
    # room's hub once more for the London reader.
    assert variants.renders == {
        ("posted", "ko Asia/Seoul"): 1,
        ("lobby_row", "ko Asia/Seoul"): 1,
        ("posted", "en Europe/London"): 1,
    }
    await ko.disconnect()
    await en.disconnect()


@pytest.mark.asyncio
async def test_a_room_whose_readers_all_read_alike_costs_one_render_per_event(browser_headers):
    room = await create_room("one variant")
    a, _ = await join(room, korean(browser_headers()))
    b, _ = await join(room, korean(browser_headers()))
    variants.renders.clear()
    await a.send_to(json.dumps({"message": "하나"}))
    received = ""
    while "하나" not in received:
        received += await b.receive_from(timeout=5)
    assert variants.renders == {("posted", "ko Asia/Seoul"): 1, ("lobby_row", "ko Asia/Seoul"): 1}
    await a.disconnect()
    await b.disconnect()


@pytest.mark.asyncio
async def test_catch_up_and_status_come_in_the_sockets_language_and_zone(browser_headers):
    room = await create_room("away")
    message = await database_sync_to_async(writes.post_message)(room.pk, Author("g-x", "X"), "while away")
    socket, reply = await join(room, korean(browser_headers()), cursor=0)
    assert "연결됨" in reply and ">Live<" not in reply
    assert f">{hhmm(message.message.created_at, SEOUL)}</time>" in reply
    await socket.disconnect()


@pytest.mark.asyncio
async def test_the_lobby_list_and_live_rows_stay_in_the_readers_language(browser_headers):
    room = await create_room("lobby words")
    lobby = await open_socket("/ws/lobby/", korean(browser_headers()))
    listing = await lobby.receive_from(timeout=5)
    assert "메시지 0개" in listing and "messages" not in listing
    talker, _ = await join(room, browser_headers())  # an English writer: the lobby row is rendered again in Korean
    await talker.send_to(json.dumps({"message": "hello"}))
    row = ""
    while "hx-swap-oob" not in row:
        row += await lobby.receive_from(timeout=5)
    assert "메시지 1개" in row and "1 message" not in row
    await lobby.disconnect()
    await talker.disconnect()


def test_a_snapshot_renders_exactly_what_the_writer_rendered(make_room, post):
    room = make_room("snap")
    message = post(room, "첫 <b>message</b>")
    writes.toggle_reaction(message, Author("g-r", "Reactor <i>"), "👍")
    writes.edit_message(message, "edited <script>")
    current = Message.objects.for_display().select_related("room").get(pk=message.pk)
    for variant in (variants.Variant("en", "UTC"), variants.Variant("ko", "Asia/Seoul")):
        with variant.active():
            packed = {"kind": "changed", **snapshots.pack_message(current)}
            assert broadcast.render_snapshot(packed) == fragments.message_changed(current)
            packed = {"kind": "posted", **snapshots.pack_message(current)}
            assert broadcast.render_snapshot(packed) == fragments.message_event(current)
            packed = {"kind": "lobby_row", "room": snapshots.pack(current.room), "created": False}
            assert broadcast.render_snapshot(packed) == fragments.lobby_row_event(current.room)


def room_times(client: Client, room: Room) -> list[str]:
    import re

    return re.findall(r'class="message-time"[^>]*>([0-9:]+)<', client.get(room.get_absolute_url()).content.decode())


def test_pages_show_times_in_the_readers_zone(make_room, post):
    room = make_room("times")
    message = post(room, "hi")
    english, korean_reader = Client(), Client(HTTP_ACCEPT_LANGUAGE="ko")
    assert room_times(english, room) == [hhmm(message.created_at, zoneinfo.ZoneInfo("UTC"))]  # the site's zone
    assert room_times(korean_reader, room) == [hhmm(message.created_at, SEOUL)]  # ko's obvious zone
    english.post("/me/time-zone/", {"time_zone": "Europe/London"})
    assert room_times(english, room) == [hhmm(message.created_at, LONDON)]
    english.post("/me/time-zone/", {"time_zone": ""})  # back to automatic
    assert room_times(english, room) == [hhmm(message.created_at, zoneinfo.ZoneInfo("UTC"))]


def test_the_time_zone_form_refuses_unknown_zones_and_foreign_next_urls(client):
    page = client.get("/me/time-zone/?next=/rooms/x/")
    assert page.status_code == 200 and b'value="Asia/Seoul"' in page.content
    assert client.post("/me/time-zone/", {"time_zone": "Mars/Olympus"}).status_code == 400
    assert client.post("/me/time-zone/", {"time_zone": "<script>"}).status_code == 400
    response = client.post("/me/time-zone/", {"time_zone": "Asia/Tokyo", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["madang_zone"] == "Asia/Tokyo"


def test_an_accounts_zone_follows_it_to_its_next_sign_in(django_user_model):
    user = django_user_model.objects.create_user("minji", password="pw-12345-long")
    first = Client()
    first.login(username="minji", password="pw-12345-long")
    first.post("/me/time-zone/", {"time_zone": "America/New_York"})
    second = Client()
    assert second.post("/accounts/login/", {"username": "minji", "password": "pw-12345-long"}).status_code == 302
    assert second.session["madang_zone"] == "America/New_York"
    assert user.madang_preference.time_zone == "America/New_York"


@pytest.mark.redis
def test_across_processes_each_hub_renders_the_variants_of_its_own_sockets(redis_url, start_daphne):
    """The writer's process renders in the writer's variant; the other process, whose sockets
    read in Korean and in English from London, renders what it needs from the snapshot."""
    import asyncio

    from django.contrib.sessions.backends.db import SessionStore

    from tests.wsclient import PageSocket

    london_session = SessionStore()
    london_session["madang_zone"] = "Europe/London"
    london_session.create()
    first, second = start_daphne({"REDIS_URL": redis_url}), start_daphne({"REDIS_URL": redis_url})
    room = writes.get_or_create_room("two processes")[0]
    korean_headers = {"Accept-Language": "ko"}
    writer = PageSocket(first.url, room.slug, headers=korean_headers)
    seoul = PageSocket(second.url, room.slug, headers=korean_headers)
    london = PageSocket(second.url, room.slug, headers={"Cookie": f"sessionid={london_session.session_key}"})

    async def scenario() -> None:
        for page in (writer, seoul, london):
            await page.start()
        await writer.say("여보세요", nonce="n1")
        for page in (seoul, london):
            await page.wait_for_seq(1)
        for page in (writer, seoul, london):
            await page.stop()

    asyncio.run(scenario())
    created = Message.objects.get(room=room).created_at
    message_frame = {page: next(f for f in page.frames if "여보세요" in f) for page in (writer, seoul, london)}
    for page, zone in ((writer, SEOUL), (seoul, SEOUL), (london, LONDON)):
        assert f">{hhmm(created, zone)}</time>" in message_frame[page]
    assert message_frame[seoul] == message_frame[writer]  # one variant, byte for byte in both processes

"""Day separators: "Today", "Yesterday", then the date, in the reader's language and zone, the same
in the page, "load older", live frames and catch-up, and kept when a day's first message goes."""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from rooms import writes
from rooms.identity import Author
from rooms.models import Message, Room
from tests.test_browser import live, room_path
from tests.test_consumers import join

ALICE = Author(key="g-alice", name="Alice")
DAY = re.compile(r'<h2 class="day" id="day-\d+"><time datetime="([\d-]+)">([^<]*)</time></h2>')


def at(room: Room, text: str, when: datetime.datetime) -> Message:
    """Post ``text`` as if at ``when`` (the room's activity time moves with it, as a post does)."""
    message = writes.post_message(room.pk, ALICE, text).message
    Message.objects.filter(pk=message.pk).update(created_at=when)
    Room.objects.filter(pk=room.pk).update(last_activity_at=when)
    return message


def three_days(name: str = "three days", zone: str = "UTC") -> Room:
    """Messages at noon five days ago, yesterday and today, as days are counted in ``zone``."""
    room = writes.get_or_create_room(name)[0]
    local = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(zone))
    now = local.replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago, texts in ((5, ["long ago", "same day"]), (1, ["yesterday"]), (0, ["today", "also today"])):
        for text in texts:
            at(room, text, now - datetime.timedelta(days=days_ago))
    return room


def older_than(html: str) -> str:
    """The seq the "load older" link of ``html`` asks for messages before."""
    return re.search(r'id="older-link" href="[^"]*\?before=(\d+)"', html).group(1)


def days_in(html: str) -> list[tuple[str, str]]:
    return DAY.findall(html)


def page(room: Room, language: str = "en", client: Client | None = None) -> str:
    return (client or Client()).get(room.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language).content.decode()


@pytest.mark.django_db
def test_a_room_spanning_three_days_shows_three_separators_in_order_in_the_readers_language():
    room = three_days()
    today = timezone.localdate()
    long_ago = today - datetime.timedelta(days=5)
    english = days_in(page(room))
    assert english == [
        (long_ago.isoformat(), date_format(long_ago, "DATE_FORMAT")),  # the locale's own date
        ((today - datetime.timedelta(days=1)).isoformat(), "Yesterday"),
        (today.isoformat(), "Today"),
    ]
    # A Korean reader counts days in Seoul (ROOMS_LANGUAGE_ZONES): their own three days.
    seoul = three_days("사흘", zone="Asia/Seoul")
    long_ago = timezone.localdate(timezone=zoneinfo.ZoneInfo("Asia/Seoul")) - datetime.timedelta(days=5)
    korean = [label for _, label in days_in(page(seoul, "ko"))]
    assert korean == [f"{long_ago.year}년 {long_ago.month}월 {long_ago.day}일", "어제", "오늘"]


@pytest.mark.django_db
def test_where_a_day_starts_depends_on_the_readers_zone():
    room = writes.get_or_create_room("zones")[0]
    evening = timezone.now().replace(hour=22, minute=30, second=0, microsecond=0) - datetime.timedelta(days=3)
    at(room, "late in London", evening)
    at(room, "after midnight in London", evening + datetime.timedelta(hours=2))
    assert len(days_in(page(room))) == 2  # the site's zone is UTC: two days
    seoul = Client()
    seoul.post("/me/time-zone/", {"time_zone": "Asia/Seoul", "next": "/"})
    assert len(days_in(page(room, client=seoul))) == 1  # 07:30 and 09:30 in Seoul: one day


@pytest.mark.django_db
def test_deleting_the_first_message_of_a_day_keeps_its_separator():
    room = three_days("deleted first")
    first_today = Message.objects.get(room=room, text="today")
    before = days_in(page(room))
    writes.delete_messages([first_today])
    first_today.refresh_from_db()
    assert first_today.gone
    assert days_in(page(room)) == before


@pytest.mark.django_db
def test_load_older_brings_each_separator_once(settings):
    room = three_days("paged")
    fresh = days_in(page(room))
    settings.ROOMS_PAGE_SIZE = 2
    latest = page(room)
    older = Client().get(f"{room.messages_url}?before={older_than(latest)}").content.decode()
    oldest = Client().get(f"{room.messages_url}?before={older_than(older)}").content.decode()
    assert days_in(oldest) + days_in(older) + days_in(latest) == fresh


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_first_live_message_after_midnight_brings_its_separator_and_the_next_one_none(browser_headers):
    room = await sync_to_async(writes.get_or_create_room)("midnight")
    room = room[0]
    await sync_to_async(at)(room, "before midnight", timezone.now() - datetime.timedelta(days=1))
    watcher, _ = await join(room, browser_headers(), cursor=1)
    sender, _ = await join(room, browser_headers(), cursor=1)
    await sender.send_to(json.dumps({"message": "after midnight"}))
    assert [label for _, label in days_in(await watcher.receive_from(timeout=5))] == ["Today"]
    await sender.receive_from(timeout=5)
    await sender.send_to(json.dumps({"message": "same day"}))
    assert days_in(await watcher.receive_from(timeout=5)) == []
    # A page that was away for both catches up to what a fresh load shows.
    away, reply = await join(room, browser_headers(), cursor=1)
    assert days_in(reply) == days_in(await sync_to_async(page)(room))[1:]
    for communicator in (watcher, sender, away):
        await communicator.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_each_variant_decides_from_the_snapshot_whether_a_live_message_starts_a_day(browser_headers):
    """A UTC writer and a reader in a zone k hours behind UTC, whose midnight came after UTC's: the
    previous message, a minute before the reader's midnight, is on the writer's day but on the
    reader's yesterday. The reader's fragment is rendered from the snapshot (another variant)."""
    now = timezone.now()
    k = min(now.hour - 1, 12)
    if k < 1:
        pytest.skip("needs a UTC hour of 2 or later, for a zone behind UTC whose midnight has passed")
    zone = f"Etc/GMT+{k}"  # POSIX sign: UTC-k
    previous = now.replace(hour=k, minute=0, second=0, microsecond=0) - datetime.timedelta(minutes=1)
    assert previous.date() == now.date()  # the writer's (UTC) day
    assert previous.astimezone(zoneinfo.ZoneInfo(zone)).date() != now.astimezone(zoneinfo.ZoneInfo(zone)).date()

    room = (await sync_to_async(writes.get_or_create_room)("two zones"))[0]
    await sync_to_async(at)(room, "the one before", previous)
    reader_browser = Client()
    response = await sync_to_async(reader_browser.post)("/me/time-zone/", {"time_zone": zone, "next": "/"})
    assert response.status_code == 302
    reader, _ = await join(room, browser_headers(client=reader_browser), cursor=1)
    writer, _ = await join(room, browser_headers(), cursor=1)
    await writer.send_to(json.dumps({"message": "now"}))
    assert [label for _, label in days_in(await reader.receive_from(timeout=5))] == ["Today"]
    frames = [await writer.receive_from(timeout=5) for _ in range(2)]
    assert [days_in(frame) for frame in frames] == [[], []]
    for communicator in (reader, writer):
        await communicator.disconnect()


# Chromium last: its module-scoped browser keeps an event loop running that asyncio tests after it
# in the same module would collide with.
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_broadcasts_from_the_test_process")
def test_in_chromium_three_days_show_three_separators_in_korean(person):
    room = three_days("사흘", zone="Asia/Seoul")  # a Korean page reads in Seoul's days
    korean = live(person(room_path(room), locale="ko-KR"))
    separators = korean.locator("#messages .day")
    expect(separators).to_have_count(3)
    expect(separators.nth(1)).to_have_text("어제")
    expect(separators.nth(2)).to_have_text("오늘")
    order = korean.evaluate(
        "[...document.querySelectorAll('#messages .day, #messages .message-text')].map(e => e.textContent)"
    )
    assert order[2:] == ["same day", "어제", "yesterday", "오늘", "today", "also today"]

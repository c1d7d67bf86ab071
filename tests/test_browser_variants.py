"""In Chromium: each reader sees times in their own zone and words in their own language, live
and after a reload alike."""

from __future__ import annotations

import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from rooms import writes
from rooms.models import Message
from tests.test_browser import live, messages, room_path, say

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]


def hhmm(moment, zone: str) -> str:
    return timezone.localtime(moment, zoneinfo.ZoneInfo(zone)).strftime("%H:%M")


def test_a_seoul_reader_and_a_london_reader_see_one_message_at_their_own_times(person):
    room = writes.get_or_create_room("zones")[0]
    seoul = live(person(room_path(room), locale="ko-KR"))
    london = person(f"/me/time-zone/?next={room_path(room)}", locale="en-GB")
    london.select_option("#id_time_zone", "Europe/London")
    london.locator("form.account-form button[type=submit]").click()
    live(london)
    expect(london.locator(".identity-zone")).to_have_text("Europe/London")
    expect(seoul.locator(".identity-zone")).to_have_text("Asia/Seoul")

    say(seoul, "지금 몇 시예요?")
    expect(messages(london)).to_have_count(1)
    message = Message.objects.get(room=room)
    expect(seoul.locator(".message-time")).to_have_text(hhmm(message.created_at, "Asia/Seoul"))
    expect(london.locator(".message-time")).to_have_text(hhmm(message.created_at, "Europe/London"))
    # The machine-readable time is the same instant for both.
    assert seoul.locator(".message-time").get_attribute("datetime") == london.locator(".message-time").get_attribute(
        "datetime"
    )
    articles = "els => els.map(el => el.outerHTML)"
    live_html = messages(london).evaluate_all(articles)
    london.reload()
    live(london)
    assert messages(london).evaluate_all(articles) == live_html  # live is what a fresh load shows


def test_a_korean_lobby_stays_korean_when_its_socket_opens_and_rows_arrive(person):
    room = writes.get_or_create_room("로비 시험")[0]
    lobby = person("/", locale="ko-KR")
    expect(lobby.locator("#connection")).to_have_attribute("data-state", "live")
    expect(lobby.locator("#connection")).to_have_text("연결됨")
    expect(lobby.locator(f"#room-{room.pk} .room-count")).to_have_text("메시지 0개")
    talker = live(person(room_path(room), locale="en-US"))
    say(talker, "hello")
    expect(lobby.locator(f"#room-{room.pk} .room-count")).to_have_text("메시지 1개")

"""'Jump to the latest' in Chromium: hidden at the newest message, shown once the log is scrolled
up, and a click (a plain link, no script) brings the newest message back into view."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rooms import writes
from rooms.identity import Author
from tests.test_browser import live, room_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]

BOB = Author(key="g-bob", name="Bob")


def test_jump_to_the_latest_shows_only_when_scrolled_up_and_brings_the_newest_back(person):
    room = writes.get_or_create_room("long")[0]
    for n in range(40):
        writes.post_message(room.pk, BOB, f"message {n}")
    page = live(person(room_path(room)))
    jump = page.locator(".jump-latest")
    newest = page.locator("#messages .message").last
    expect(newest).to_be_in_viewport()
    expect(jump).to_be_hidden()
    page.locator(".scroller").evaluate("el => el.scrollTo(0, -el.scrollHeight)")  # column-reverse: up is negative
    expect(newest).not_to_be_in_viewport()
    expect(jump).to_be_visible()
    # A little way up (less than a message or two) it stays out of the way.
    page.locator(".scroller").evaluate("el => el.scrollTo(0, -40)")
    expect(jump).to_be_hidden()
    page.locator(".scroller").evaluate("el => el.scrollTo(0, -el.scrollHeight)")
    expect(jump).to_be_visible()
    jump.click()
    expect(newest).to_be_in_viewport()
    expect(jump).to_be_hidden()

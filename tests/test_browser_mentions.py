"""Mentions in Chromium: Alice mentions Bob; only Bob's page highlights the message and his name."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from rooms import writes
from tests.test_browser import live, room_path, say

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]

PASSWORD = "a-long-pass-phrase"


def signed_in(person, username: str, path: str = "/") -> Page:
    page = person("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator(".account-form button[type=submit]").click()
    page.goto(path)
    return page


def background(page: Page, selector: str) -> str:
    return page.locator(selector).evaluate("el => getComputedStyle(el).backgroundColor")


def test_a_mention_is_highlighted_in_the_mentioned_persons_page_only(person):
    for name in ("alice", "bob", "carol"):
        User.objects.create_user(name, password=PASSWORD)
    room = writes.get_or_create_room("mentions")[0]
    alice, bob, carol = (live(signed_in(person, name, room_path(room))) for name in ("alice", "bob", "carol"))
    say(alice, "plain words first")
    say(alice, "@bob have a look")
    plain, mention = (f"#message-{m.pk}" for m in room.messages.order_by("seq"))
    for page in (alice, bob, carol):
        expect(page.locator(f"{mention} .mention")).to_have_text("@bob")
    assert background(bob, mention) != background(bob, plain), "Bob's page marks the message"
    assert background(carol, mention) == background(carol, plain), "nobody else's does"
    assert background(bob, f"{mention} .mention") != background(carol, f"{mention} .mention")
    # After a reload (history, not a live frame) it is still marked for Bob.
    bob.reload()
    live(bob)
    assert background(bob, mention) != background(bob, plain)


def test_the_lobby_counts_what_bob_has_not_read_live_and_opening_the_room_clears_it(person):
    for name in ("alice", "bob"):
        User.objects.create_user(name, password=PASSWORD)
    room = writes.get_or_create_room("news")[0]
    alice = live(signed_in(person, "alice", room_path(room)))
    bob_room = live(signed_in(person, "bob", room_path(room)))  # Bob has been in the room
    bob_room.close()
    bob_lobby = live(signed_in(person, "bob", "/"))
    badge = bob_lobby.locator(f"#unread-{room.pk}")
    expect(badge).to_be_empty()
    say(alice, "news for everyone")
    say(alice, "@bob this one is for you")
    expect(badge.locator(".unread-messages")).to_have_text("2 new")
    expect(badge.locator(".unread-mentions")).to_have_text("1 mention")
    # Bob opens the room in another tab: the lobby tab clears by itself.
    other_tab = bob_lobby.context.new_page()
    other_tab.goto(room_path(room))
    live(other_tab)
    expect(badge).to_be_empty()
    say(alice, "while Bob is in the room")
    expect(other_tab.locator("#messages .message-text").last).to_have_text("while Bob is in the room")
    expect(badge.locator(".unread-messages")).to_have_count(0, timeout=6_000)
    expect(badge).to_be_empty(timeout=6_000)

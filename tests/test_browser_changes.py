"""Edits, deletions and reactions as people meet them: Debian's Chromium against real daphne
processes, live and after a page was away (its server killed and restarted meanwhile).

The test that matters for every kind of change: a page that was away while it happened ends up
exactly like a fresh load, element by element.
"""

from __future__ import annotations

import re
import signal

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from rooms import writes
from rooms.models import Message, Room
from tests.servers import Daphne, RedisServer
from tests.test_browser import BOB, live, mark, messages, not_reloaded, reconnected, room_path, say, socket_id

# The browser (Chromium, found or installed once) and the server come from tests/conftest.py.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]


def message_el(page: Page, message: Message):
    return page.locator(f"#message-{message.pk}")


def snapshot(page: Page) -> list[str]:
    """Every message element of the page, normalised only for what htmx adds while it swaps."""
    return page.locator("#messages article").evaluate_all(
        """els => els.map(el => el.outerHTML
            .replace(/ ?htmx-(added|settling|swapping|request)/g, '')
            .replace(/ class=""/g, '')
            .replace(/>\\s+</g, '><')
            .replace(/\\s+/g, ' '))"""
    )


def open_editor(page: Page, message: Message, action: str) -> None:
    """Click the message's control for ``action`` (react, edit, delete): it opens in place."""
    message_el(page, message).locator(f".message-{action}").click()
    expect(message_el(page, message).locator(".message-dialog[open]")).to_be_visible()


def edit(page: Page, message: Message, text: str) -> None:
    open_editor(page, message, "edit")
    message_el(page, message).locator("textarea[name=message]").fill(text)
    message_el(page, message).get_by_role("button", name="Save").click()
    expect(message_el(page, message).locator(".message-text")).to_have_text(text)


def react(page: Page, message: Message, emoji: str) -> None:
    open_editor(page, message, "react")
    message_el(page, message).locator(f'.react-form button[value="{emoji}"]').click()
    expect(message_el(page, message).locator(".message-dialog")).to_have_count(0)


def delete(page: Page, message: Message) -> None:
    open_editor(page, message, "delete")
    message_el(page, message).locator(".delete-form button[type=submit]").click()
    expect(message_el(page, message)).to_be_hidden()


def reaction(page: Page, message: Message, emoji: str):
    return message_el(page, message).locator(f'.reaction[value="{emoji}"]')


def test_two_people_see_each_edit_reaction_and_deletion_live_and_an_open_edit_form_survives_them(browser, server):
    room = writes.get_or_create_room("changes")[0]
    alice = browser.new_context(base_url=server.url).new_page()
    alice.goto(room_path(room))
    live(alice)
    bob = browser.new_context(base_url=server.url).new_page()
    bob.goto(room_path(room))
    live(bob)
    say(alice, "first draft")
    say(alice, "second")
    expect(messages(bob)).to_have_count(2)
    first, second = Message.objects.filter(room=room).order_by("seq")

    # Edit and delete are offered on my own messages only; the server refuses the rest anyway.
    expect(message_el(alice, first).locator(".message-edit")).to_be_visible()
    expect(message_el(bob, first).locator(".message-edit")).to_be_hidden()
    expect(message_el(bob, first).locator(".message-react")).to_be_visible()

    # Alice starts editing; Bob's reaction arrives while she types and must not wipe her draft.
    open_editor(alice, first, "edit")
    draft = message_el(alice, first).locator("textarea[name=message]")
    draft.fill("first, half-typed")
    react(bob, first, "👍")
    for page in (alice, bob):
        expect(reaction(page, first, "👍")).to_contain_text("1")
    expect(draft).to_have_value("first, half-typed")
    expect(draft).to_be_focused()
    # Mine is highlighted in my page only (per-viewer style), the markup is the same for both.
    assert reaction(bob, first, "👍").evaluate("el => getComputedStyle(el).borderColor") != reaction(
        alice, first, "👍"
    ).evaluate("el => getComputedStyle(el).borderColor")
    assert reaction(alice, first, "👍").get_attribute("title") == reaction(bob, first, "👍").get_attribute("title")

    # A moderator (staff) may edit anyone's message; that must not wipe Alice's draft either.
    User.objects.create_user("mod", password="moderator-pass-1", is_staff=True)
    moderator = browser.new_context(base_url=server.url).new_page()
    moderator.goto("/accounts/login/")
    moderator.locator("#id_username").fill("mod")
    moderator.locator("#id_password").fill("moderator-pass-1")
    moderator.locator(".account-form button[type=submit]").click()
    moderator.goto(room_path(room))
    live(moderator)
    expect(message_el(moderator, first).locator(".message-edit")).to_be_visible()  # on every message
    edit(moderator, first, "tidied by a moderator")
    expect(message_el(bob, first).locator(".message-text")).to_have_text("tidied by a moderator")
    expect(draft).to_have_value("first, half-typed")
    moderator.context.close()

    draft.fill("first, edited")
    message_el(alice, first).get_by_role("button", name="Save").click()
    for page in (alice, bob):
        expect(message_el(page, first).locator(".message-text")).to_have_text("first, edited")
        edited = message_el(page, first).locator(".message-edited")
        expect(edited).to_have_attribute("title", re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
        expect(reaction(page, first, "👍")).to_contain_text("1")  # reactions survive the edit

    react(alice, first, "👍")
    for page in (alice, bob):
        expect(reaction(page, first, "👍")).to_contain_text("2")
    react(bob, first, "👍")  # toggled back off
    for page in (alice, bob):
        expect(reaction(page, first, "👍")).to_contain_text("1")

    # Escape (or Cancel) closes an edit form and shows the message as it was.
    open_editor(alice, second, "edit")
    message_el(alice, second).locator("textarea[name=message]").press("Escape")
    expect(message_el(alice, second).locator(".message-dialog[open]")).to_have_count(0)
    expect(message_el(alice, second).locator(".message-text")).to_be_visible()
    open_editor(alice, second, "edit")
    message_el(alice, second).get_by_role("button", name="Cancel").click()
    expect(message_el(alice, second).locator(".message-text")).to_be_visible()

    delete(alice, second)
    expect(message_el(bob, second)).to_be_hidden()
    say(bob, "still here")  # a barrier: everything before it has arrived
    for page in (alice, bob):
        expect(page.locator("#messages .message-text:visible")).to_have_text(["first, edited", "still here"])
    assert snapshot(alice) == snapshot(bob)


@pytest.mark.redis
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_page_whose_server_was_down_while_messages_changed_ends_up_exactly_like_a_fresh_load(
    browser: Browser, transactional_db: None, sig: int
) -> None:
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = RedisServer().start()
    alices_server, bobs_server = (Daphne(env={"REDIS_URL": redis.url}).start() for _ in range(2))
    try:
        room: Room = writes.get_or_create_room("away")[0]
        alice = browser.new_context(base_url=alices_server.url).new_page()
        alice.goto(room_path(room))
        live(alice)
        bob = browser.new_context(base_url=bobs_server.url).new_page()
        bob.goto(room_path(room))
        live(bob)
        for text in ("to edit", "to delete", "to react to", "untouched"):
            say(alice, text)
        expect(messages(bob)).to_have_count(4)
        to_edit, to_delete, to_react, _untouched = Message.objects.filter(room=room).order_by("seq")
        react(bob, to_edit, "🎉")
        expect(reaction(alice, to_edit, "🎉")).to_contain_text("1")
        mark(bob)
        old_socket = socket_id(bob)

        bobs_server.stop(sig)
        expect(bob.locator("#connection")).to_have_attribute("data-state", "connecting")
        edit(alice, to_edit, "edited once")
        edit(alice, to_edit, "edited twice")
        delete(alice, to_delete)
        react(alice, to_react, "❤️")
        react(alice, to_edit, "🎉")
        say(alice, "posted while Bob was away")
        bobs_server.start()

        reconnected(bob, old_socket)
        expect(message_el(bob, to_edit).locator(".message-text")).to_have_text("edited twice")
        expect(message_el(bob, to_delete)).to_be_hidden()
        expect(reaction(bob, to_react, "❤️")).to_contain_text("1")
        expect(reaction(bob, to_edit, "🎉")).to_contain_text("2")
        expect(bob.locator("#messages .message-text:visible")).to_have_text(
            ["edited twice", "to react to", "untouched", "posted while Bob was away"]
        )
        assert not_reloaded(bob)
        resumed = snapshot(bob)
        assert resumed == snapshot(alice)
        bob.reload()
        live(bob)
        assert snapshot(bob) == resumed  # a fresh load agrees with the resumed page, element by element
    finally:
        for daphne in (alices_server, bobs_server):
            daphne.cleanup()
        redis.stop()


def test_reacting_too_often_says_so_in_the_palette_and_changes_nothing(browser, start_daphne):
    server = start_daphne({"ROOMS_CHANGE_RATE": "2", "ROOMS_CHANGE_RATE_SECONDS": "600"})
    room = writes.get_or_create_room("too often")[0]
    page = browser.new_context(base_url=server.url).new_page()
    page.goto(room_path(room))
    live(page)
    say(page, "react to me")
    (message,) = Message.objects.filter(room=room)
    react(page, message, "👍")
    expect(reaction(page, message, "👍")).to_contain_text("1")
    react(page, message, "🎉")
    expect(reaction(page, message, "🎉")).to_contain_text("1")
    # The third change in the window: the palette stays open and says why; nothing changed.
    open_editor(page, message, "react")
    message_el(page, message).locator('.react-form button[value="❤️"]').click()
    refusal = message_el(page, message).locator('.react-form [role=alert][data-error="rate_limited"]')
    expect(refusal).to_have_text(re.compile("Too many changes at once"))
    expect(message_el(page, message).locator(".message-dialog[open]")).to_be_visible()
    expect(reaction(page, message, "❤️")).to_have_count(0)
    assert sorted(Message.objects.get(pk=message.pk).reactions.values_list("emoji", flat=True)) == ["🎉", "👍"]
    message_el(page, message).get_by_role("button", name="Cancel").click()
    expect(message_el(page, message).locator(".message-dialog")).to_have_count(0)


def test_a_change_that_reaches_the_socket_before_its_older_page_arrives_is_not_lost(browser, server):
    """ "Load older" is read; a reaction to one of its messages is made and its live event reaches
    the page, which does not show that message yet; then the older page arrives, as it was read.
    The page's socket rechecks it (rooms/_history.html) and the reaction shows, as on a fresh load."""
    room = writes.get_or_create_room("older race")[0]
    for n in range(1, 56):
        writes.post_message(room.pk, BOB, f"message {n}")
    target = Message.objects.get(room=room, seq=3)
    alice = browser.new_context(base_url=server.url).new_page()
    alice.goto(room_path(room))
    live(alice)
    held = []
    alice.route(re.compile(r".*/messages/\?before="), lambda route: held.append(route))  # held until let go
    alice.locator("#older-link").click()
    while not held:
        alice.wait_for_timeout(20)
    older_page = held[0].fetch()  # read now, before the reaction

    bob = browser.new_context(base_url=server.url).new_page()
    bob.goto(room_path(room))
    token = bob.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    made = bob.request.post(
        f"{room_path(room)}messages/{target.pk}/reactions/", form={"csrfmiddlewaretoken": token, "emoji": "👍"}
    )
    assert made.ok, made.status
    room.refresh_from_db()
    expect(alice.locator("#cursor")).to_have_value(str(room.last_event))  # Alice's socket had the event
    assert "👍" not in older_page.text()  # and the page on its way does not show it

    held[0].fulfill(response=older_page)
    expect(messages(alice)).to_have_count(55)
    expect(reaction(alice, target, "👍")).to_contain_text("1")
    fresh = browser.new_context(base_url=server.url).new_page()
    fresh.goto(room_path(room))
    live(fresh)
    fresh.locator("#older-link").click()
    expect(messages(fresh)).to_have_count(55)
    assert snapshot(alice) == snapshot(fresh)

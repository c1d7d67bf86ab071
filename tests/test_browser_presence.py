"""Two people in a room, in Chromium: each sees the other here, one types and the other sees it
(never themselves), a message ends it at once, a closed tab leaves, and the lobby counts them."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from rooms import writes
from tests.test_browser import live, room_path, say
from tests.test_browser_look import rename

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]


def named(person, path: str, name: str, sent: list[str] | None = None) -> Page:
    page = person("/")
    rename(page, name)
    if sent is not None:  # every frame this page's sockets send, to look for the draft in
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    page.goto(path)
    return live(page)


def visible_typing(page: Page):
    return page.locator("#typing .typing-line:visible")


def you_label(page: Page, name: str) -> str:
    return page.locator("#presence-list .presence-person", has_text=name).evaluate(
        "el => getComputedStyle(el, '::after').content"
    )


def test_two_people_see_each_other_here_and_who_is_typing_but_never_themselves(person):
    room = writes.get_or_create_room("together")[0]
    sent: list[str] = []
    alice = named(person, room_path(room), "Alice")
    bob = named(person, room_path(room), "Bob", sent)
    for page in (alice, bob):
        expect(page.locator("#presence-list .presence-person")).to_have_text(["Alice", "Bob"])
        expect(page.locator("#presence-count")).to_have_text("2 here")
    assert "(you)" in you_label(alice, "Alice") and "(you)" not in you_label(alice, "Bob")
    assert "(you)" in you_label(bob, "Bob") and "(you)" not in you_label(bob, "Alice")
    lobby = person("/")
    expect(lobby.locator(f"#here-{room.pk}")).to_have_text("2 here")

    bob.locator("#composer-text").press_sequentially("a secret draft", delay=20)
    expect(visible_typing(alice)).to_have_text(["Bob is typing…"])
    expect(visible_typing(bob)).to_have_count(0)  # his own page: the line without him, empty
    # The typing form sends its own field only: no frame carried the draft before it was sent.
    assert any('"typing"' in frame for frame in sent)
    assert not any("secret" in frame for frame in sent), sent

    bob.locator("#composer-text").press("Enter")
    expect(visible_typing(alice)).to_have_count(0, timeout=3_000)  # at once, not after 6 s
    expect(alice.locator("#messages .message-text")).to_have_text(["a secret draft"])
    assert [json.loads(f).get("message") for f in sent if '"message"' in f] == ["a secret draft"]

    # Alice types and stops: the line goes by itself within the typing time.
    alice.locator("#composer-text").press_sequentially("hmm", delay=20)
    expect(visible_typing(bob)).to_have_text(["Alice is typing…"])
    expect(visible_typing(bob)).to_have_count(0, timeout=8_000)
    say(alice, "hmm")

    bob.close()
    expect(alice.locator("#presence-list .presence-person")).to_have_text(["Alice"], timeout=8_000)
    expect(lobby.locator(f"#here-{room.pk}")).to_have_text("1 here", timeout=8_000)

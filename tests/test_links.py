"""Links in message text: http and https addresses become links that open safely, everything else
stays text; in the page, in live frames and in Chromium."""

from __future__ import annotations

import json
import re
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from playwright.sync_api import expect

from rooms import writes
from rooms.identity import Author
from rooms.links import Part, text_parts
from tests.test_browser import live, room_path, say
from tests.test_consumers import create_room, join

ALICE = Author(key="g-alice", name="Alice")
LINK = re.compile(
    r'<a class="message-link" href="([^"]*)" rel="noopener noreferrer nofollow" target="_blank">([^<]*)</a>'
)


def links_of(text: str) -> list[str]:
    return [part.href for part in text_parts(text) if part.href]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://ex.am/a_(b).", ["https://ex.am/a_(b)"]),
        ("(see https://ex.am/path)", ["https://ex.am/path"]),
        ("<https://ex.am/x>, and http://ex.am:8080/?q=1&r=2!", ["https://ex.am/x", "http://ex.am:8080/?q=1&r=2"]),
        ("HTTPS://EX.AM/Upper", ["HTTPS://EX.AM/Upper"]),
        ("회의록: https://ex.am/회의록。 다음", ["https://ex.am/회의록"]),
        ("line one\nhttps://a.example\n\tnext", ["https://a.example"]),
        ("「https://ex.am/q」", ["https://ex.am/q"]),
    ],
)
def test_http_and_https_addresses_are_links_without_their_trailing_punctuation(text, expected):
    assert links_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "JavaScript://ex.am/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        '<a href="https://ex.am">x</a>',
        "www.example.com",
        "example.com",
        "person@example.com",
        "mailto:person@example.com",
        "ftp://ex.am/file",
        "https://",
        "https:///path-only",
        "http://:80/",
        "https://ex.am:port/",
        "http://[::1/",
        "xhttps://ex.am",
    ],
)
def test_anything_else_stays_text(text):
    assert links_of(text) == []


@pytest.mark.parametrize(
    "text",
    ["", "plain", "a https://b.example c", "https://a.example)))", "  https://x.example  ", "((((https://x.example"],
)
def test_the_parts_join_back_to_the_text_exactly(text):
    assert "".join(part.text for part in text_parts(text)) == text
    assert all(isinstance(part, Part) for part in text_parts(text))


@pytest.mark.parametrize(
    "text",
    [
        "https://a" + ")" * 3990,
        "(" * 3990 + "https://a",
        " ".join(["https://a.example/b"] * 200),
        "https://" * 500,
        "https://a." + "]" * 1000 + "." * 2900,
    ],
)
def test_an_adversarial_four_thousand_character_message_is_linked_in_well_under_50_ms(text):
    text = text[:4000]
    start = time.perf_counter()
    text_parts(text)
    assert time.perf_counter() - start < 0.05


@pytest.mark.django_db
def test_the_room_page_links_addresses_and_escapes_their_href():
    room = writes.get_or_create_room("links")[0]
    hostile = 'https://ex.am/"><script>window.__pwned=1</script>'
    writes.post_message(room.pk, ALICE, f"read https://ex.am/a?b=1&c=2. or javascript:alert(1) or {hostile}")
    html = Client().get(room.get_absolute_url()).content.decode()
    assert LINK.findall(html) == [
        ("https://ex.am/a?b=1&amp;c=2", "https://ex.am/a?b=1&amp;c=2"),
        (  # the last ">" has no "<" of its own in the link, so it stays text after it
            "https://ex.am/&quot;&gt;&lt;script&gt;window.__pwned=1&lt;/script",
            "https://ex.am/&quot;&gt;&lt;script&gt;window.__pwned=1&lt;/script",
        ),
    ]
    assert "<script>window.__pwned" not in html
    assert 'href="javascript:' not in html


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_live_message_arrives_with_the_same_links_as_a_fresh_load(browser_headers):
    room = await create_room("links live")
    watcher, _ = await join(room, browser_headers())
    sender, _ = await join(room, browser_headers())
    await sender.send_to(json.dumps({"message": "see https://ex.am/x), not data:text/html,x"}))
    frame = await watcher.receive_from(timeout=5)
    assert LINK.findall(frame) == [("https://ex.am/x", "https://ex.am/x")]
    assert "), not data:text/html,x</p>" in frame
    for communicator in (watcher, sender):
        await communicator.disconnect()
    response = await sync_to_async(Client().get)(room.get_absolute_url())
    assert LINK.findall(response.content.decode()) == [("https://ex.am/x", "https://ex.am/x")]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_broadcasts_from_the_test_process")
def test_in_chromium_a_link_opens_in_a_new_tab_and_a_javascript_one_is_text(person, make_room):
    room = make_room("links in chromium")
    page = live(person(room_path(room)))
    say(page, "javascript:window.__pwned=1 then http://127.0.0.1:9/elsewhere.")
    message = page.locator("#messages .message").last
    link = message.locator(".message-text a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "http://127.0.0.1:9/elsewhere")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(message.locator(".message-text")).to_have_text(
        "javascript:window.__pwned=1 then http://127.0.0.1:9/elsewhere."
    )
    with page.context.expect_page() as opened:
        link.click()
    new_tab = opened.value
    assert new_tab.evaluate("window.opener") is None  # noopener: the room is not reachable from it
    new_tab.close()
    assert page.evaluate("window.__pwned") is None
    page.reload()
    live(page)
    expect(page.locator("#messages .message").last.locator(".message-text a")).to_have_attribute(
        "href", "http://127.0.0.1:9/elsewhere"
    )

"""Search in Chromium: the lobby's box answers in place (htmx), a result opens the message's
permalink, marked by its :target style, and "load newer" continues below it."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from rooms import writes
from rooms.identity import Author

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]

BOB = Author(key="g-bob", name="Bob")


def test_a_search_in_the_lobby_leads_to_the_message_marked_in_its_place(person):
    room = writes.get_or_create_room("회의실")[0]
    for n in range(1, 81):
        writes.post_message(room.pk, BOB, "내일 회의 있어요" if n == 30 else f"message {n}")
    target = room.messages.get(seq=30)

    page = person("/")
    page.get_by_label("Search messages").fill("회의")
    page.get_by_label("Search messages").press("Enter")
    result = page.locator("#search-results .search-result")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text("회의")
    expect(page.locator("#room-list")).to_be_attached()  # still the lobby: the results came in place
    assert "/search/?q=" in page.url  # and the address is the search's (hx-push-url)

    result.locator("a").click()
    page.wait_for_url(f"**/rooms/{quote(room.slug)}/messages/30/#message-{target.pk}")
    marked = page.locator(f"#message-{target.pk}")
    expect(marked).to_be_in_viewport()
    assert marked.evaluate("el => el.matches(':target')")
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent')")
    shadow = marked.evaluate("el => getComputedStyle(el).boxShadow")
    other = page.locator("[data-seq='31']").evaluate("el => getComputedStyle(el).boxShadow")
    assert shadow != "none" and other == "none", (shadow, other, accent)
    seqs = page.locator("article.message")
    expect(seqs.first).to_have_attribute("data-seq", "5")
    expect(seqs.last).to_have_attribute("data-seq", "55")

    page.get_by_text("Load newer messages").click()
    expect(seqs.last).to_have_attribute("data-seq", "80")
    expect(seqs).to_have_count(76)
    expect(page.get_by_text("This is the latest message.")).to_be_visible()
    assert page.url.endswith(f"#message-{target.pk}")  # htmx loaded them into the page

"""Screenshots as test artefacts: the lobby and a busy room (22 messages in English and Korean,
emoji, reactions, edited messages) in English and Korean, light and dark, desktop and phone:
16 full-page PNGs in ``<artefacts>/`` (tests/browsers.py), named ``<page>-<language>-<theme>-<viewport>.png``.

Each is also checked for what a screenshot would show wrong: nothing wider than the screen (no
sideways scrolling), and what people need in view (the composer and the newest message in a
room; the form to make a room in the lobby).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests import browsers, scenes
from tests.test_accessibility import LOCALES, THEMES, VIEWPORTS
from tests.test_browser import live, room_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.look,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]


def no_sideways_scroll(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width}px wide in a {inner}px window: it scrolls sideways"


def in_view(page: Page, locator: Locator, what: str) -> None:
    """The element is wholly inside the window, without scrolling."""
    box = locator.bounding_box()
    assert box is not None, f"{what} is not shown"
    size = page.viewport_size
    right, bottom = box["x"] + box["width"], box["y"] + box["height"]
    assert box["x"] >= 0 and box["y"] >= 0, f"{what} starts outside the window: {box}"
    assert right <= size["width"] + 0.5 and bottom <= size["height"] + 0.5, f"{what} ends outside {size}: {box}"


def inside(inner: Locator, outer: Locator, what: str) -> None:
    a, b = inner.bounding_box(), outer.bounding_box()
    assert a is not None and b is not None, f"{what} is not shown"
    assert a["y"] >= b["y"] - 0.5 and a["y"] + a["height"] <= b["y"] + b["height"] + 0.5, f"{what}: {a} not in {b}"


def _variants(page_name: str) -> list[Any]:
    params = []
    for language in LOCALES:
        for theme in THEMES:
            for viewport in VIEWPORTS:
                params.append(pytest.param(language, theme, viewport, id=f"{language}-{theme}-{viewport}"))
    return params


def open_as_viewer(person, language: str, theme: str, viewport: str) -> tuple[Page, Any]:
    options = {"locale": LOCALES[language], "viewport": VIEWPORTS[viewport], **THEMES[theme]}
    page = person("/", **options)
    room = scenes.busy_room(scenes.guest_of(page))
    scenes.lobby()
    return page, room


@pytest.mark.parametrize(("language", "theme", "viewport"), _variants("lobby"))
def test_a_screenshot_of_the_lobby_shows_it_within_the_screen(person, language, theme, viewport):
    page, _room = open_as_viewer(person, language, theme, viewport)
    page.reload()
    live(page)
    expect(page.locator("#room-list > li")).to_have_count(len(scenes.LOBBY_ROOMS) + 1)
    shot = browsers.screenshot(page, f"lobby-{language}-{theme}-{viewport}")
    assert shot.stat().st_size > 10_000  # a picture of a page, not of nothing

    assert page.evaluate("document.documentElement.lang") == language
    no_sideways_scroll(page)
    in_view(page, page.locator("form.create-room"), "the lobby's create-room form")
    for row in page.locator("#room-list > li").all():
        box = row.bounding_box()
        assert box["x"] + box["width"] <= page.viewport_size["width"], "a room's row is wider than the window"


@pytest.mark.parametrize(("language", "theme", "viewport"), _variants("room"))
def test_a_screenshot_of_a_busy_room_shows_it_fitting_the_screen_with_the_composer_in_view(
    person, language, theme, viewport
):
    page, room = open_as_viewer(person, language, theme, viewport)
    page.goto(room_path(room))
    live(page)
    messages = page.locator("#messages article.message")
    expect(messages).to_have_count(len(scenes.CHAT))
    expect(page.locator(".message-edited")).to_have_count(2)
    assert page.locator(".reaction").count() >= 6
    shot = browsers.screenshot(page, f"room-{language}-{theme}-{viewport}")
    assert shot.stat().st_size > 10_000

    assert page.evaluate("document.documentElement.lang") == language
    no_sideways_scroll(page)
    # The room fits the window and only the message list scrolls: header and composer both stay in view.
    height, inner = page.evaluate("[document.documentElement.scrollHeight, window.innerHeight]")
    assert height <= inner, f"the room page is {height}px tall in a {inner}px window: it scrolls"
    page.evaluate("window.scrollTo(0, 0)")
    in_view(page, page.locator("#room-title"), "the room's name")
    in_view(page, page.locator("#composer"), "the composer")
    scroller = page.locator(".scroller")
    inside(messages.last, scroller, "the newest message, in the message list's view")
    list_box = scroller.bounding_box()
    for bubble in messages.all():
        box = bubble.bounding_box()
        assert box["x"] + box["width"] <= list_box["x"] + list_box["width"] + 0.5, "a message sticks out of the list"

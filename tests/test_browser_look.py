"""The look, measured in Chromium: layout on phones, long text, errors, themes, contrast, focus.

Every assertion here is a number the browser computed (sizes, computed styles, contrast ratios),
so a stylesheet that looks fine in a description but not on a screen fails.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from rooms import writes
from rooms.identity import Author
from tests.test_browser import live, room_path, say

pytestmark = [
    pytest.mark.browser,
    pytest.mark.look,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]

BOB = Author(key="g-bob", name="Bob")
PHONES = [{"width": 390, "height": 844}, {"width": 320, "height": 640}]
LOCALES = ["en-US", "ko-KR"]
LONG_GUEST = {
    "en-US": "Bartholomew-Alexander-Montgomery",
    "ko-KR": "김수한무거북이와두루미삼천갑자동방삭치치카포사리사리센타",
}
# Korean words the browser must never cut in the middle, then an unbreakable run (a URL) that must.
LONG_ROOM = "오늘의 회의실 이야기 모음 https://example.com/a/really/long/path/x"
SHORT_WORDS = ["오늘의", "회의실", "이야기", "모음"]


# --- helpers --------------------------------------------------------------------------------


def height(page: Page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is rendered"
    return box["height"]


def rename(page: Page, name: str) -> None:
    """Change the guest name (a POST with this page's CSRF token, whatever the header's form does
    with it), then reload."""
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    response = page.request.post("/me/name/", form={"csrfmiddlewaretoken": token, "display_name": name, "next": "/"})
    assert response.ok, response.status
    page.reload()


def lines_of(page: Page, selector: str, word: str | None = None) -> int:
    """How many line boxes the text (or one word of it) of the first match occupies."""
    return page.locator(selector).first.evaluate(
        """(el, word) => {
            const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            const range = document.createRange();
            for (let node; (node = walker.nextNode());) {
                const at = word === null ? 0 : node.data.indexOf(word);
                if (at < 0) continue;
                range.setStart(node, at);
                range.setEnd(node, word === null ? node.data.length : at + word.length);
                const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
                return tops.size;
            }
            return -1;
        }""",
        word,
    )


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


COLOURS_JS = """([selector, pseudo]) => {
    const parse = s => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
        const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
        return p.length > 3 ? [...p.slice(0, 3), p[3]] : [...p, 1]; };
    const out = [];
    for (const el of document.querySelectorAll(selector)) {
        if (!el.getClientRects().length) continue;  // not rendered
        const style = getComputedStyle(el, pseudo || null);
        let bg = null;
        for (let node = el; node; node = node.parentElement) {
            const c = parse(getComputedStyle(node).backgroundColor);
            if (c && c[3] > 0.5) { bg = c; break; }
        }
        const text = (el.textContent || '').trim().slice(0, 30);
        out.push({fg: parse(style.color), bg: bg || [255, 255, 255, 1], text});
    }
    return out;
}"""


def ratios(page: Page, selector: str, pseudo: str = "") -> list[tuple[float, str]]:
    found = page.evaluate(COLOURS_JS, [selector, pseudo])
    return [(contrast(tuple(c["fg"][:3]), tuple(c["bg"][:3])), c["text"]) for c in found]


def background_luminance(page: Page) -> float:
    rgb = page.evaluate(
        "() => getComputedStyle(document.body).backgroundColor.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number)"
    )
    return luminance(tuple(rgb))


# --- 1. an error keeps the room ------------------------------------------------------------


def test_a_composer_error_over_the_socket_leaves_the_message_list_its_height(person):
    room = writes.get_or_create_room("errors")[0]
    page = live(person(room_path(room), viewport={"width": 390, "height": 844}))
    before = height(page, ".scroller")
    assert before > 300

    composer = page.locator("#composer-text")
    for text, code in (("   ", "empty"), ("x" * 4001, "too_long")):
        composer.fill(text)
        composer.press("Enter")
        expect(page.locator("#chat-error")).to_have_attribute("data-error", code)
        expect(page.locator("#chat-error")).to_be_visible()
        error = height(page, "#chat-error")
        assert error < 120, "the error is a line or two, not the whole column"
        assert height(page, ".scroller") >= before - 80, "the list gives up only the error's own room"
    say(page, "fine again")
    assert height(page, ".scroller") >= before - 2


def test_without_javascript_a_refused_post_leaves_the_message_list_its_height(person):
    room = writes.get_or_create_room("plain errors")[0]
    page = person(room_path(room), java_script_enabled=False, viewport={"width": 390, "height": 844})
    before = height(page, ".scroller")
    page.locator("#composer-text").fill("   ")
    with page.expect_navigation():
        page.locator("#composer button[type=submit]").click()
    expect(page.locator("#chat-error")).to_have_attribute("data-error", "empty")
    expect(page.locator("#chat-error")).to_be_visible()
    assert height(page, "#chat-error") < 120, "the error is a line or two, not the whole column"
    assert height(page, ".scroller") >= before - 80, "the list gives up only the error's own room"


# --- 2. long messages ----------------------------------------------------------------------


def test_all_of_a_4000_character_message_can_be_read_on_a_phone(person):
    room = writes.get_or_create_room("essays")[0]
    text = ("마당에서 이야기를 나눕니다 " * 300)[:3960] + " https://example.com/" + "x" * 19
    assert len(text) == 4000
    writes.post_message(room.pk, BOB, text)
    page = live(person(room_path(room), viewport={"width": 390, "height": 844}, locale="ko-KR"))
    body = page.locator("#messages .message-text")
    expect(body).to_have_text(text)
    # Nothing of it is clipped: its box holds all its text, and the message box holds it.
    clip = body.evaluate(
        """el => ({scroll: el.scrollHeight, client: el.clientHeight,
                  width: el.scrollWidth, clientWidth: el.clientWidth,
                  overflow: getComputedStyle(el).overflowY, maxHeight: getComputedStyle(el).maxHeight,
                  message: el.closest('.message').scrollHeight - el.closest('.message').clientHeight})"""
    )
    assert clip["scroll"] <= clip["client"] + 1, clip
    assert clip["width"] <= clip["clientWidth"] + 1, clip
    assert clip["message"] <= 1, clip
    # And its last words can be scrolled into view inside the message list.
    page.locator("#messages .message").last.evaluate("el => el.scrollIntoView({block: 'end'})")
    end = page.evaluate(
        """() => { const el = document.querySelector('#messages .message-text'); const r = document.createRange();
            r.setStart(el.firstChild, el.firstChild.length - 5); r.setEnd(el.firstChild, el.firstChild.length);
            const b = r.getBoundingClientRect(); const s = document.querySelector('.scroller').getBoundingClientRect();
            return {bottom: b.bottom, top: b.top, scrollerTop: s.top, scrollerBottom: s.bottom,
                    right: b.right, width: innerWidth}; }"""
    )
    assert end["scrollerTop"] <= end["top"] and end["bottom"] <= end["scrollerBottom"] + 1, end
    assert end["right"] <= end["width"], end


# --- 3. phones --------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("viewport", PHONES, ids=["390x844", "320x640"])
def test_the_room_fits_a_phone_with_a_long_name_and_a_long_room_name(person, viewport, locale):
    room = writes.get_or_create_room(LONG_ROOM)[0]
    for n in range(30):
        writes.post_message(room.pk, BOB, f"message {n} https://example.com/{'long' * 20}")
    page = person(room_path(room), viewport=viewport, locale=locale)
    rename(page, LONG_GUEST[locale])
    live(page)
    page.screenshot(path=f"/tmp/look-room-{viewport['width']}-{locale}.png")
    size = page.evaluate(
        """() => ({scrollHeight: document.documentElement.scrollHeight,
                  scrollWidth: document.documentElement.scrollWidth, innerHeight, innerWidth,
                  header: document.querySelector('.site-header').getBoundingClientRect().height,
                  composer: document.querySelector('#composer').getBoundingClientRect().toJSON(),
                  title: document.querySelector('#room-title').getBoundingClientRect().toJSON()})"""
    )
    assert size["scrollHeight"] <= size["innerHeight"], f"the page itself does not scroll: {size}"
    assert size["scrollWidth"] <= size["innerWidth"], f"nothing scrolls sideways: {size}"
    assert size["header"] <= 64, f"the header stays one slim row: {size}"
    assert size["composer"]["top"] >= 0 and size["composer"]["bottom"] <= size["innerHeight"], size
    assert size["title"]["right"] <= size["innerWidth"], size
    assert height(page, ".scroller") >= viewport["height"] * 0.4, "the messages get most of the screen"
    assert lines_of(page, "#composer button[type=submit]") == 1, "Send / 보내기 never breaks"
    for word in SHORT_WORDS:
        assert lines_of(page, "#room-title", word) == 1, f"{word} is not cut in the middle"
    wraps = page.locator("#messages .message").last.evaluate(
        "el => ({scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right})"
    )
    assert wraps["scroll"] <= wraps["client"] and wraps["right"] <= viewport["width"], wraps
    # The guest name form is behind a control that needs no script, and opens in place.
    expect(page.locator("#display-name")).to_be_hidden()
    page.locator("details.guest-name > summary").click()
    expect(page.locator("#display-name")).to_be_visible()
    box = page.locator(".guest-name-form").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("viewport", PHONES, ids=["390x844", "320x640"])
def test_the_lobby_fits_a_phone_and_room_names_wrap_between_words(person, viewport, locale):
    writes.get_or_create_room(LONG_ROOM)
    writes.get_or_create_room("Supercalifragilisticexpialidocious-and-then-some-more-letters")
    page = person("/", viewport=viewport, locale=locale)
    rename(page, LONG_GUEST[locale])
    live(page)  # the lobby socket's first frame re-renders the list: measure the one that stays
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert height(page, ".site-header") <= 64
    link = "#room-list .room-link >> nth=1"
    assert lines_of(page, link) > 1, "the long name wraps"
    for word in SHORT_WORDS:
        assert lines_of(page, link, word) == 1, f"{word} is not cut in the middle"
    for row in page.locator("#room-list .room-row").all():
        box = row.bounding_box()
        assert box is not None and box["x"] + box["width"] <= viewport["width"]


# --- 4. light and dark --------------------------------------------------------------------


def contrast_page(person, **options) -> Page:
    """A room showing every state that has a colour of its own."""
    room = writes.get_or_create_room("colours")[0]
    other = writes.post_message(room.pk, BOB, "someone else's words").message
    writes.toggle_reaction(other, BOB, "👍")
    page = live(person(room_path(room), **options))
    say(page, "my own words")
    mine = room.messages.order_by("-seq").first()
    writes.edit_message(mine, "my own words, edited")
    page.reload()
    live(page)
    page.locator(f"#message-{other.pk} .message-react").click()
    page.locator(f'#message-{other.pk} .react-form button[value="👍"]').click()
    expect(page.locator(f'#message-{other.pk} .reaction[value="👍"] .reaction-count')).to_have_text("2")
    page.locator("#composer-text").fill("   ")
    page.locator("#composer-text").press("Enter")
    expect(page.locator("#chat-error")).to_have_attribute("data-error", "empty")
    return page


TEXT_SELECTORS = [
    ".site-name",
    ".site-header a",
    ".guest-name > summary",
    ".theme-menu summary",
    ".back-link",
    "#room-title",
    ".connection",
    ".message-author",
    ".message-time",
    ".message-edited",
    ".message-text",
    ".reaction",
    ".message-action",
    "#composer-text",
    "#composer button",
    "#chat-error",
]


def assert_readable(page: Page, theme: str) -> None:
    failures = []
    for selector in TEXT_SELECTORS:
        found = ratios(page, selector)
        assert found, f"{selector} is on the page"
        failures += [(selector, text, round(r, 2)) for r, text in found if r < 4.5]
    for selector in (".message-edited", ".message-action", ".connection"):
        failures += [(selector + "::before", t, round(r, 2)) for r, t in ratios(page, selector, "::before") if r < 4.5]
    # Reconnecting: static/js/connection.js marks the status; its colours must hold too.
    page.evaluate("document.getElementById('connection').dataset.state = 'connecting'")
    failures += [("connecting", t, round(r, 2)) for r, t in ratios(page, ".connection") if r < 4.5]
    page.evaluate("document.getElementById('connection').dataset.state = 'live'")
    assert not failures, f"below 4.5:1 in {theme}: {failures}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_state_of_the_room_is_readable_at_aa_contrast(person, scheme):
    page = contrast_page(person, color_scheme=scheme)
    if scheme == "dark":
        assert background_luminance(page) < 0.05, "prefers-color-scheme: dark gives a dark page"
    else:
        assert background_luminance(page) > 0.8
    # Mine, someone else's, and a reaction of mine differ from one another and from the page.
    bgs = page.evaluate(
        """() => [document.querySelector('.message:not(:has(.message-edited)) '),
                  document.querySelector('.message:has(.message-edited)'), document.body,
                  ...document.querySelectorAll('.reaction')].map(el => getComputedStyle(el).backgroundColor)"""
    )
    assert len(set(bgs[:3])) == 3, bgs
    assert_readable(page, scheme)
    page.screenshot(path=f"/tmp/look-contrast-{scheme}.png")


def test_the_theme_toggle_is_remembered_and_needs_no_script(person, server):
    room = writes.get_or_create_room("themes")[0]
    page = person(room_path(room), color_scheme="dark", java_script_enabled=False)
    assert background_luminance(page) < 0.05
    for choice, dark in (("light", False), ("dark", True), ("auto", True)):
        page.locator("details.theme-menu > summary").click()
        with page.expect_navigation():
            page.locator(f'.theme-menu button[value="{choice}"]').click()
        assert page.url == server.url + room_path(room), "back where the choice was made"
        expect(page.locator(f'.theme-menu button[value="{choice}"]')).to_have_attribute("aria-pressed", "true")
        assert (background_luminance(page) < 0.05) == dark, choice
        page.goto("/")  # remembered on every page of the session
        assert (background_luminance(page) < 0.05) == dark, choice
        expected = None if choice == "auto" else choice
        assert page.locator("html").get_attribute("data-theme") == expected
        page.goto(room_path(room))
    page.emulate_media(color_scheme="light")
    page.reload()
    assert background_luminance(page) > 0.8, "auto follows the system again"


def test_a_chosen_dark_theme_is_readable_at_aa_contrast_on_a_light_system(person, server):
    page = contrast_page(person, color_scheme="light")
    page.locator("details.theme-menu > summary").click()
    with page.expect_navigation():
        page.locator('.theme-menu button[value="dark"]').click()
    live(page)
    page.locator("#composer-text").fill("   ")
    page.locator("#composer-text").press("Enter")
    expect(page.locator("#chat-error")).to_have_attribute("data-error", "empty")
    assert background_luminance(page) < 0.05
    assert_readable(page, "dark (chosen)")


# --- 5. focus and motion ------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_keyboard_focus_is_always_visible(person, scheme):
    room = writes.get_or_create_room("focus")[0]
    writes.post_message(room.pk, BOB, "hello")
    page = live(person(room_path(room), color_scheme=scheme))
    seen = set()
    for _ in range(12):
        page.keyboard.press("Tab")
        focus = page.evaluate(
            """() => { const el = document.activeElement; const s = getComputedStyle(el);
                // The outline is drawn outside the element: it shows against what is behind it.
                let bg = null; for (let n = el.parentElement; n && !bg; n = n.parentElement) {
                    const c = getComputedStyle(n).backgroundColor;
                    if (!/rgba\\(.*, 0\\)/.test(c) && c !== 'transparent') bg = c; }
                return {tag: el.tagName + '.' + el.className, style: s.outlineStyle, width: parseFloat(s.outlineWidth),
                        color: s.outlineColor, bg}; }"""
        )
        if focus["tag"].startswith("BODY"):
            continue
        seen.add(focus["tag"])
        assert focus["style"] not in ("none", "hidden") and focus["width"] >= 2, focus
        outline = tuple(map(float, re.findall(r"[\d.]+", focus["color"])[:3]))
        surface = tuple(map(float, re.findall(r"[\d.]+", focus["bg"])[:3]))
        assert contrast(outline, surface) >= 3, focus
    assert len(seen) >= 4, seen


def test_reduced_motion_turns_off_smooth_scrolling_and_transitions(person):
    room = writes.get_or_create_room("motion")[0]
    page = person(room_path(room))

    def motion() -> dict:
        return page.evaluate(
            """() => ({scroll: getComputedStyle(document.documentElement).scrollBehavior,
                      transition: getComputedStyle(document.querySelector('#composer button')).transitionDuration})"""
        )

    page.emulate_media(reduced_motion="no-preference")
    assert motion() != {"scroll": "auto", "transition": "0s"}, "some motion when nobody minds"
    page.emulate_media(reduced_motion="reduce")
    assert motion() == {"scroll": "auto", "transition": "0s"}


# --- 6. the smaller ones ------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_the_lobby_title_says_what_its_heading_says_and_the_site_name_is_said_once(person, locale):
    page = person("/", locale=locale)
    heading = page.locator("h1").inner_text()
    assert page.title().split(" · ")[0] == heading
    name = page.locator(".site-name").inner_text()
    assert name.count("마당") == 1, name
    if locale == "en-US":
        assert name.startswith("Madang")


def test_signup_reads_label_field_help_then_errors_like_login(person):
    login = person("/accounts/login/", viewport={"width": 390, "height": 844})
    login_input = login.locator("#id_username").bounding_box()
    signup = person("/accounts/signup/", viewport={"width": 390, "height": 844})
    signup.locator("#id_username").fill("minji")
    signup.locator("#id_password1").fill("a-long-pass-phrase")
    signup.locator("#id_password2").fill("a-different-phrase")
    with signup.expect_navigation():
        signup.locator("form.account-form button[type=submit]").click()
    for field in ("username", "password1", "password2"):
        label = signup.locator(f'label[for="id_{field}"]').bounding_box()
        widget = signup.locator(f"#id_{field}")
        box = widget.bounding_box()
        assert label and box and label["y"] + label["height"] <= box["y"] + 1, f"{field}: the label comes first"
        described = (widget.get_attribute("aria-describedby") or "").split()
        for ref in described:
            other = signup.locator(f"#{ref}")
            expect(other).to_be_visible()
            below = other.bounding_box()
            assert below and below["y"] >= box["y"] + box["height"] - 1, f"{field}: {ref} comes after the field"
    assert "id_username_helptext" in (signup.locator("#id_username").get_attribute("aria-describedby") or "")
    assert "id_password2_error" in (signup.locator("#id_password2").get_attribute("aria-describedby") or "")
    signup_input = signup.locator("#id_username").bounding_box()
    assert login_input and signup_input
    assert abs(login_input["x"] - signup_input["x"]) < 1 and abs(login_input["width"] - signup_input["width"]) < 1

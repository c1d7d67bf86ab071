"""Writing, as people meet it: the composer under latency and drops, focus and screen readers after
"load older", renaming yourself with tabs open, and a console free of errors. Debian's Chromium
against real daphne processes (tests/test_browser.py's fixtures).

Latency is made by Playwright's WebSocket routing: the server's acknowledgement of a send is
held by the test and let through when the test says, so "type while the ack travels" is a step,
not a race.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from rooms import writes
from rooms.models import Message
from tests.servers import Daphne
from tests.test_browser import (
    BOB,
    RECONNECT_TIMEOUT_MS,
    live,
    messages,
    reconnected,
    room_path,
    say,
    seqs,
    socket_id,
    texts,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]

ACK = 'data-sent="'


@pytest.fixture
def person(browser: Browser, server: Daphne) -> Iterator[Callable[..., Page]]:
    """A new person (own cookies) on ``path``; ``route`` (optional) handles the room socket."""
    contexts = []

    def open_page(path: str = "/", route: Callable[[WebSocketRoute], None] | None = None, **options: object) -> Page:
        context = browser.new_context(base_url=server.url, **options)
        contexts.append(context)
        page = context.new_page()
        if route is not None:
            page.route_web_socket(re.compile(r"/ws/rooms/"), route)
        page.goto(path)
        return page

    yield open_page
    for context in contexts:
        context.close()


class HeldAcks:
    """A room socket route that holds the server's acknowledgements while ``holding`` (everything
    else passes), and can cut the connection as a network drop would."""

    def __init__(self) -> None:
        self.holding = True
        self.held: list[str] = []
        self.routes: list[WebSocketRoute] = []

    def __call__(self, ws: WebSocketRoute) -> None:
        to_server = ws.connect_to_server()
        self.routes.append(ws)

        def from_server(frame: str | bytes) -> None:
            if self.holding and isinstance(frame, str) and ACK in frame:
                self.held.append(frame)
                return
            ws.send(frame)

        to_server.on_message(from_server)
        self.server_side = to_server

    def release(self) -> None:
        self.holding = False
        for frame in self.held:
            self.routes[-1].send(frame)
        self.held.clear()

    def drop(self) -> None:
        """End the current socket under the page (1012, a code the htmx extension retries), the
        held acknowledgements lost with it, as when a connection breaks mid-send."""
        self.held.clear()
        self.server_side.close()
        self.routes[-1].close(code=1012, reason="dropped")


def sending(page: Page) -> None:
    expect(page.locator("#composer")).to_have_attribute("data-state", "sending")


def settled(page: Page) -> None:
    expect(page.locator("#composer")).not_to_have_attribute("data-state", "sending")
    expect(page.locator("#composer-sending")).to_be_hidden()


# --- 1. the composer ------------------------------------------------------------------------


def test_text_typed_while_the_acknowledgement_travels_survives_it_and_each_message_arrives_once(person):
    room = writes.get_or_create_room("latency")[0]
    acks = HeldAcks()
    alice = live(person(room_path(room), route=acks))
    bob = live(person(room_path(room)))
    composer = alice.locator("#composer-text")

    composer.fill("first")
    composer.press("Enter")
    expect(composer).to_have_value("")  # cleared at once, focus kept
    expect(composer).to_be_focused()
    sending(alice)
    expect(alice.locator("#composer-sending")).to_be_visible()
    expect(alice.locator("#composer-sending")).to_contain_text("Sending…")
    expect(alice.locator("#composer-sending .composer-sending-text")).to_have_text("first")

    # A second message while the first is unacknowledged: it has a nonce of its own.
    alice.keyboard.type("second")
    alice.keyboard.press("Enter")
    alice.keyboard.type("and a draft typed before the answers came")
    for page in (alice, bob):
        expect(page.locator("#messages .message-text")).to_have_text(["first", "second"])
    expect(alice.locator("#composer-sending .composer-sending-text")).to_have_text("first · second")
    assert len(acks.held) == 2

    acks.release()
    settled(alice)
    expect(composer).to_have_value("and a draft typed before the answers came")
    expect(composer).to_be_focused()
    composer.press("Enter")
    settled(alice)
    for page in (alice, bob):
        expect(page.locator("#messages .message-text")).to_have_text(
            ["first", "second", "and a draft typed before the answers came"]
        )
        assert seqs(page) == [1, 2, 3]
    assert Message.objects.filter(room=room).count() == 3


def test_a_send_whose_socket_drops_before_the_answer_is_sent_again_and_stored_once(person):
    room = writes.get_or_create_room("drop")[0]
    acks = HeldAcks()
    alice = live(person(room_path(room), route=acks))
    bob = live(person(room_path(room)))
    old = socket_id(alice)
    composer = alice.locator("#composer-text")

    composer.fill("stored, but the answer is lost")
    composer.press("Enter")
    expect(bob.locator("#messages .message-text")).to_have_text(["stored, but the answer is lost"])
    alice.keyboard.type("newer text")
    acks.drop()
    expect(alice.locator("#connection")).to_have_attribute("data-state", "connecting")
    sending(alice)  # still on its way as far as the page knows
    acks.holding = False
    reconnected(alice, old)
    settled(alice)  # sent again on the new socket, with its nonce: answered, not stored twice
    expect(composer).to_have_value("newer text")
    say(bob, "after")  # a barrier
    for page in (alice, bob):
        expect(page.locator("#messages .message-text")).to_have_text(["stored, but the answer is lost", "after"])
        assert seqs(page) == [1, 2]
    assert list(Message.objects.filter(room=room).values_list("text", flat=True)) == [
        "stored, but the answer is lost",
        "after",
    ]


def test_a_send_made_while_the_server_is_down_goes_out_once_it_is_back(person, server):
    room = writes.get_or_create_room("offline")[0]
    alice = live(person(room_path(room)))
    old = socket_id(alice)
    server.stop()
    expect(alice.locator("#connection")).to_have_attribute("data-state", "connecting")
    composer = alice.locator("#composer-text")
    composer.fill("written while offline")
    composer.press("Enter")
    expect(composer).to_have_value("")
    sending(alice)
    expect(alice.locator("#composer-sending .composer-sending-text")).to_have_text("written while offline")
    server.start()
    reconnected(alice, old)
    settled(alice)
    expect(alice.locator("#messages .message-text")).to_have_text(
        ["written while offline"], timeout=RECONNECT_TIMEOUT_MS
    )
    assert Message.objects.filter(room=room).count() == 1


def test_a_refused_send_keeps_its_text_in_the_composer(person, settings):
    room = writes.get_or_create_room("refused")[0]
    alice = live(person(room_path(room)))
    composer, error = alice.locator("#composer-text"), alice.locator("#chat-error")
    too_long = "가" * (settings.ROOMS_MESSAGE_MAX_LENGTH + 1)

    composer.fill(too_long)
    composer.press("Enter")
    expect(error).to_have_attribute("data-error", "too_long")
    settled(alice)
    expect(composer).to_have_value(too_long)
    expect(composer).to_be_focused()

    composer.fill("   ")
    composer.press("Enter")
    expect(error).to_have_attribute("data-error", "empty")
    expect(composer).to_have_value("   ")

    say(alice, "fixed")  # and a good send clears the error
    expect(error).not_to_have_attribute("data-error", "empty")
    assert texts(alice) == ["fixed"]
    assert messages(alice).count() == 1


def test_focus_comes_back_to_the_composer_after_an_edit_and_after_a_cancel(person):
    room = writes.get_or_create_room("focus after edit")[0]
    page = live(person(room_path(room)))
    say(page, "first version")
    message = Message.objects.get(room=room)
    page.locator(f"#message-{message.pk} .message-edit").click()
    editor = page.locator(f"#edit-{message.pk}")
    expect(editor).to_be_focused()
    editor.fill("second version")
    page.locator(f"#message-{message.pk}-editor button[type=submit]").click()
    expect(page.locator(f"#message-{message.pk} .message-text")).to_have_text("second version")
    expect(page.locator(f"#message-{message.pk}-editor")).to_be_empty()
    expect(page.locator("#composer-text")).to_be_focused()
    page.keyboard.type("typed straight on")
    expect(page.locator("#composer-text")).to_have_value("typed straight on")

    page.locator(f"#message-{message.pk} .message-react").click()
    page.locator(f"#message-{message.pk}-editor .palette-emoji").first.click()
    expect(page.locator(f"#message-{message.pk}-editor")).to_be_empty()
    expect(page.locator("#composer-text")).to_be_focused()


def test_the_sending_line_speaks_the_pages_language(person):
    room = writes.get_or_create_room("말")[0]
    acks = HeldAcks()
    page = live(person(room_path(room), route=acks, locale="ko-KR"))
    page.locator("#composer-text").fill("안녕")
    page.locator("#composer-text").press("Enter")
    expect(page.locator("#composer-sending")).to_contain_text("전송 중…")
    acks.release()
    settled(page)


def test_without_javascript_the_composer_still_posts(person):
    room = writes.get_or_create_room("plain")[0]
    plain = person(room_path(room), java_script_enabled=False)
    plain.locator("#composer-text").fill("no scripts")
    with plain.expect_navigation():
        plain.locator("#composer button[type=submit]").click()
    expect(plain.locator("#messages .message-text")).to_have_text(["no scripts"])
    expect(plain.locator("#composer-sending")).to_be_hidden()
    assert Message.objects.get().text == "no scripts"


# --- 2. "load older": focus and screen readers ------------------------------------------------

# Messages inside an element that announces changes (a live region or a log, which is polite).
ANNOUNCED = """() => [...document.querySelectorAll('#messages article.message')]
    .filter(el => el.closest('[aria-live]:not([aria-live=off]), [role=log]'))
    .map(el => Number(el.dataset.seq))"""


def test_load_older_keeps_focus_on_the_control_and_history_is_never_announced(person):
    room = writes.get_or_create_room("long")[0]
    for n in range(1, 71):
        writes.post_message(room.pk, BOB, f"message {n}")
    alice = live(person(room_path(room)))
    bob = live(person(room_path(room)))
    chat = alice.locator("#messages")
    expect(chat).not_to_have_attribute("aria-live", re.compile(".*"))
    expect(chat).not_to_have_attribute("role", "log")
    expect(alice.locator("#messages-live")).to_have_attribute("role", "log")
    assert alice.evaluate(ANNOUNCED) == []  # the page's history is not in the live log

    alice.locator("#older-link").focus()
    alice.keyboard.press("Enter")
    expect(messages(alice)).to_have_count(70)
    # Nothing older now: the "start of the room" note took the link's id, and its focus.
    start = alice.locator("#older-link")
    expect(start).to_have_text("This is the start of the room.")
    expect(start).to_be_focused()
    assert alice.evaluate("document.activeElement.id") == "older-link"
    assert alice.evaluate(ANNOUNCED) == []  # the older page landed outside the live log

    say(bob, "live one")
    expect(messages(alice)).to_have_count(71)
    assert alice.evaluate(ANNOUNCED) == [71]  # a new message is announced: author and text
    live_log = alice.locator("#messages-live article")
    expect(live_log.locator(".message-author")).to_have_text(bob.locator("#display-name").input_value())
    expect(live_log.locator(".message-text")).to_have_text("live one")
    assert seqs(alice) == list(range(1, 72))


def test_load_older_moves_focus_to_the_next_link_while_more_is_left(person):
    room = writes.get_or_create_room("longer")[0]
    for n in range(1, 121):
        writes.post_message(room.pk, BOB, f"message {n}")
    alice = live(person(room_path(room)))
    alice.locator("#older-link").focus()
    alice.keyboard.press("Enter")
    expect(messages(alice)).to_have_count(100)
    expect(alice.locator("#older-link")).to_have_text("Load older messages")
    expect(alice.locator("#older-link")).to_be_focused()
    # htmx takes over the new link as it settles; then the keyboard can go on from there.
    expect(alice.locator("#older")).not_to_have_class(re.compile("htmx-added"))
    alice.keyboard.press("Enter")
    expect(messages(alice)).to_have_count(120)
    expect(alice.locator("#older-link")).to_be_focused()


def test_a_catch_up_reset_replaces_the_history_without_announcing_it(browser, transactional_db):
    server = Daphne(env={"ROOMS_CATCHUP_LIMIT": "2"}).start()
    try:
        room = writes.get_or_create_room("reset")[0]
        writes.post_message(room.pk, BOB, "before")
        context = browser.new_context(base_url=server.url)
        page = context.new_page()
        page.goto(room_path(room))
        live(page)
        old = socket_id(page)
        server.stop()
        for n in range(5):
            writes.post_message(room.pk, BOB, f"while away {n}")
        server.start()
        reconnected(page, old)
        expect(messages(page)).to_have_count(6)
        assert page.evaluate(ANNOUNCED) == []  # the latest page replaced the history silently
        expect(page.locator("#messages-live")).to_have_count(1)
        context.close()
    finally:
        server.cleanup()


# --- 3. renaming yourself -------------------------------------------------------------------


def test_a_rename_reloads_nothing_and_every_tab_of_that_person_takes_the_new_name(person, browser, server):
    room = writes.get_or_create_room("names")[0]
    first = live(person(room_path(room)))
    second = first.context.new_page()  # a second tab of the same person
    second.goto(room_path(room))
    live(second)
    watcher = live(person(room_path(room)))
    for page in (first, second):
        page.evaluate("window.__marker = 1")
    first.locator("#composer-text").fill("a draft I keep")

    first.locator("details.guest-name > summary").click()  # the name form opens from the header
    first.locator("#display-name").fill("새 이름")
    first.locator("#display-name-submit").click()
    for page in (first, second):
        expect(page.locator("#display-name")).to_have_value("새 이름")
        expect(page.locator("details.guest-name > summary")).to_contain_text("새 이름")
        assert page.evaluate("window.__marker") == 1  # no reload
    expect(first.locator("#composer-text")).to_have_value("a draft I keep")

    say(second, "from the other tab")
    for page in (first, second, watcher):
        expect(page.locator("#messages .message-author")).to_have_text(["새 이름"])
    # The header's form still works after the live swap (its CSRF token came with it).
    second.locator("details.guest-name > summary").click()
    second.locator("#display-name").fill("Third")
    second.locator("#display-name-submit").click()
    expect(first.locator("#display-name")).to_have_value("Third")


# --- 4. a console without errors ------------------------------------------------------------


def test_a_burst_a_reconnect_and_a_change_outside_the_window_log_no_console_error(browser, transactional_db):
    server = Daphne(env={"ROOMS_RATE_BURST": "0"}).start()  # the burst is one sender's, unthrottled
    try:
        room = writes.get_or_create_room("quiet console")[0]
        context = browser.new_context(base_url=server.url)
        old_text = "mine, long ago"
        sender = context.new_page()
        sender.goto(room_path(room))
        live(sender)
        say(sender, old_text)  # sender's own message, soon outside the watcher's window
        for n in range(60):
            writes.post_message(room.pk, BOB, f"filler {n}")

        watcher = browser.new_context(base_url=server.url).new_page()
        problems: list[str] = []
        watcher.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        watcher.on("pageerror", lambda error: problems.append(str(error)))
        watcher.goto(room_path(room))
        live(watcher)

        # A burst of 30 from one socket (the hub coalesces a backlog into frames).
        sender.evaluate(
            """slug => new Promise(done => {
                const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws/rooms/' + slug + '/');
                ws.onopen = () => {
                    for (let i = 0; i < 30; i++) ws.send(JSON.stringify({message: 'burst ' + i, nonce: 'b' + i}));
                    setTimeout(() => { ws.close(); done(); }, 300);
                };
            })""",
            room.slug,
        )
        expect(messages(watcher)).to_have_count(80)

        old = socket_id(watcher)
        before_restart = len(problems)
        server.restart()
        reconnected(watcher, old)
        # While the server is down, Chromium logs each refused connection attempt and htmx its
        # wsError: the network's doing, and unavoidable. Nothing else may be logged.
        down = problems[before_restart:]
        network = ("htmx:wsError", "[object")
        assert all("ERR_CONNECTION_REFUSED" in text or text.startswith(network) for text in down), down
        del problems[before_restart:]

        # An edit to a message older than the watcher's window: the server sends it to everyone.
        message = Message.objects.get(text=old_text)
        sender.goto(f"{room_path(room)}messages/{message.pk}/edit/")
        sender.locator("textarea[name=message]").fill("edited long after")
        sender.get_by_role("button", name="Save").click()
        say(sender, "a barrier after the edit")
        expect(watcher.locator("#messages .message-text").last).to_have_text("a barrier after the edit")
        assert watcher.locator(f"#message-{message.pk}").count() == 0  # still outside the window
        expect(watcher.locator("#oob-sink")).to_be_empty()
        assert problems == []
        context.close()
        watcher.context.close()
    finally:
        server.cleanup()

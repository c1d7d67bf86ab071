"""The product as people use it: Debian's Chromium, driven by Playwright, against a real daphne.

Each browser context is a different person (its own session cookie, so its own guest identity).
Nothing here sleeps to wait for a socket: the page marks ``#connection[data-state="live"]`` once
the server has answered the socket's resume frame, and ``data-socket`` changes with every new
socket, so a reconnect is something to wait for, not to guess at.

Data made in the test process (``rooms.writes``) is committed and read by the server, but its
broadcasts never reach the server's in-memory channel layer: anything that must arrive live is
sent through the server, by a browser.
"""

from __future__ import annotations

import re
import shutil
import signal
from urllib.parse import quote

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from rooms import writes
from rooms.identity import Author
from rooms.models import Room
from tests.servers import Daphne, FlakyNetwork, RedisServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]

BOB = Author(key="g-bob", name="Bob")
# A reconnect waits out the backoff static/js/connection.js gives the htmx ws extension (4-8 s
# between tries once the server has been down a while), so it gets more time than anything else.
RECONNECT_TIMEOUT_MS = 45_000

expect.set_options(timeout=10_000)


# --- helpers --------------------------------------------------------------------------------


def room_path(room: Room) -> str:
    return f"/rooms/{quote(room.slug)}/"


def live(page: Page, timeout: float | None = None) -> Page:
    """Wait until the server has answered this page's socket's resume frame."""
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=timeout)
    return page


def socket_id(page: Page) -> str:
    value = page.locator("#connection").get_attribute("data-socket")
    assert value, "a live page names its socket"
    return value


def reconnected(page: Page, old_socket: str) -> Page:
    """Wait until the page is live again on a new socket (it reconnected by itself). Both at once:
    a closed page has no data-socket at all, and a page whose socket is still to be ended is live."""
    page.wait_for_function(
        """old => { const el = document.getElementById("connection");
                    return el && el.dataset.state === "live" && el.dataset.socket && el.dataset.socket !== old; }""",
        arg=old_socket,
        timeout=RECONNECT_TIMEOUT_MS,
    )
    return page


def messages(page: Page) -> Locator:
    return page.locator("#messages article.message")


def seqs(page: Page) -> list[int]:
    return messages(page).evaluate_all("els => els.map(el => Number(el.dataset.seq))")


def texts(page: Page) -> list[str]:
    return page.locator("#messages article.message .message-text").all_inner_texts()


def say(page: Page, text: str) -> None:
    """Type into the composer and press Enter, then wait for the server's answer (the composer
    stops "sending", static/js/connection.js), so the next send cannot race it."""
    composer = page.locator("#composer-text")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")
    expect(page.locator("#composer")).not_to_have_attribute("data-state", "sending")


def mark(page: Page) -> None:
    """A JavaScript marker that only survives if the page is never reloaded."""
    page.evaluate("window.__marker = 1")


def not_reloaded(page: Page) -> bool:
    return page.evaluate("window.__marker") == 1


# --- tests ----------------------------------------------------------------------------------


def test_two_people_chat_live_the_text_stays_text_and_the_composer_clears_and_keeps_focus(person):
    room = writes.get_or_create_room("tea")[0]
    alice = live(person(room_path(room)))
    bob = live(person(room_path(room)))
    text = "<b>hi</b> & 안녕"

    composer = alice.locator("#composer-text")
    composer.fill(text)
    composer.press("Enter")

    for page in (alice, bob):
        expect(messages(page)).to_have_count(1)
        expect(page.locator("#messages .message-text")).to_have_text(text)
        expect(page.locator("#message-" + str(room.messages.get().pk))).to_have_attribute("data-seq", "1")
        assert page.locator("#messages b").count() == 0  # shown as text, never as markup
    expect(composer).to_have_value("")
    expect(composer).to_be_focused()

    # A reply is a barrier: a duplicate of the first message would have come before it.
    say(bob, "반가워요")
    for page in (alice, bob):
        expect(messages(page)).to_have_count(2)
        assert texts(page) == [text, "반가워요"]
        assert seqs(page) == [1, 2]
        expect(page.locator("#cursor")).to_have_value("2")
        assert page.locator("#messages b").count() == 0


def test_a_korean_named_room_made_in_the_lobby_has_an_encoded_url_its_exact_name_and_live_chat(person, server):
    name = "한국어 방"
    alice = person("/")
    alice.locator("#id_name").fill(name)
    alice.locator("form.create-room button[type=submit]").click()
    room = Room.objects.get(name=name)
    assert room.slug == "한국어-방"
    expect(alice).to_have_url(f"{server.url}/rooms/%ED%95%9C%EA%B5%AD%EC%96%B4-%EB%B0%A9/")
    expect(alice.locator("h1")).to_have_text(name)
    live(alice)

    bob = person("/")
    bob.get_by_role("link", name=name).click()
    expect(bob.locator("h1")).to_have_text(name)
    assert bob.url == alice.url
    live(bob)

    say(alice, "안녕하세요")
    expect(bob.locator("#messages .message-text")).to_have_text(["안녕하세요"])
    say(bob, "네, 안녕하세요!")
    for page in (alice, bob):
        expect(page.locator("#messages .message-text")).to_have_text(["안녕하세요", "네, 안녕하세요!"])
        assert seqs(page) == [1, 2]


def test_a_backlog_sent_as_one_frame_shows_every_message_once_and_in_order(person, browser, server):
    """Under load a room's hub sends each socket everything waiting as one frame (rooms.live.fanout).
    Here bob's frames are held until three messages are waiting, then joined as the hub joins
    them: htmx applies every fragment of the frame, in order."""
    room = writes.get_or_create_room("busy")[0]
    alice = live(person(room_path(room)))
    held: list[str] = []

    def join_three(ws: WebSocketRoute) -> None:
        to_server = ws.connect_to_server()

        def from_server(frame: str | bytes) -> None:
            if isinstance(frame, str) and 'class="message' in frame and len(held) < 3:
                held.append(frame)
                if len(held) == 3:
                    ws.send("".join(held))
                return
            ws.send(frame)

        to_server.on_message(from_server)

    context = browser.new_context(base_url=server.url)
    bob = context.new_page()
    bob.route_web_socket(re.compile(r"/ws/rooms/"), join_three)
    bob.goto(room_path(room))
    live(bob)
    for text in ("하나", "둘", "셋"):
        say(alice, text)
    expect(messages(bob)).to_have_count(3)
    assert len(held) == 3  # they came as the one joined frame
    assert texts(bob) == ["하나", "둘", "셋"]
    assert seqs(bob) == [1, 2, 3]
    expect(bob.locator("#cursor")).to_have_value("3")
    say(alice, "넷")  # and the stream goes on from there, nothing twice
    expect(messages(bob)).to_have_count(4)
    assert seqs(bob) == [1, 2, 3, 4]
    context.close()


def test_a_reload_shows_the_history_in_order(person):
    room = writes.get_or_create_room("history")[0]
    writes.post_message(room.pk, BOB, "before anyone came")
    alice = live(person(room_path(room)))
    for text in ("one", "two", "three"):
        say(alice, text)
    expected = ["before anyone came", "one", "two", "three"]
    expect(alice.locator("#messages .message-text")).to_have_text(expected)

    alice.reload()
    live(alice)
    expect(alice.locator("#messages .message-text")).to_have_text(expected)
    assert seqs(alice) == [1, 2, 3, 4]  # the resume after the reload added nothing twice
    expect(alice.locator("#cursor")).to_have_value("4")

    newcomer = live(person(room_path(room)))
    expect(newcomer.locator("#messages .message-text")).to_have_text(expected)
    assert seqs(newcomer) == [1, 2, 3, 4]


def test_load_older_pages_back_fifty_at_a_time_to_the_first_message(person):
    room = writes.get_or_create_room("long")[0]
    for n in range(1, 121):
        writes.post_message(room.pk, BOB, f"message {n}")
    alice = live(person(room_path(room)))
    older = alice.locator("#older a")

    expect(messages(alice)).to_have_count(50)
    assert seqs(alice) == list(range(71, 121))
    older.click()
    expect(messages(alice)).to_have_count(100)
    assert seqs(alice) == list(range(21, 121))
    older.click()
    expect(messages(alice)).to_have_count(120)
    expect(alice.locator("#older")).to_have_count(0)  # nothing older: no control left
    assert seqs(alice) == list(range(1, 121))
    assert texts(alice) == [f"message {n}" for n in range(1, 121)]

    # Live messages still go after the newest one, not after what "load older" added.
    say(alice, "the newest")
    expect(messages(alice)).to_have_count(121)
    assert seqs(alice) == list(range(1, 122))


def test_messages_posted_between_the_page_render_and_the_socket_open_are_shown_once(person, browser, server):
    room = writes.get_or_create_room("gap")[0]
    writes.post_message(room.pk, BOB, "rendered with the page")
    held: list[str] = []

    def hold_socket(ws: WebSocketRoute) -> None:
        # The page is rendered (cursor 1) and its socket is on its way: post before it arrives.
        if not held:
            for text in ("in the gap 1", "in the gap 2", "in the gap 3"):
                writes.post_message(room.pk, BOB, text)
        held.append(ws.url)
        ws.connect_to_server()

    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.route_web_socket("**/ws/rooms/**", hold_socket)
        page.goto(room_path(room))
        live(page)
        assert held, "the socket went through the route"
        expected = ["rendered with the page", "in the gap 1", "in the gap 2", "in the gap 3"]
        expect(page.locator("#messages .message-text")).to_have_text(expected)
        assert seqs(page) == [1, 2, 3, 4]
        expect(page.locator("#cursor")).to_have_value("4")
        say(page, "after the gap")  # a barrier: nothing of the catch-up is repeated after it
        expect(messages(page)).to_have_count(5)
        assert seqs(page) == [1, 2, 3, 4, 5]
    finally:
        context.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_after_a_server_restart_open_pages_reconnect_by_themselves_and_show_what_they_missed(person, server, sig):
    room = writes.get_or_create_room("restart")[0]
    pages = [live(person(room_path(room))), live(person(room_path(room)))]
    sockets = []
    for page in pages:
        mark(page)
        sockets.append(socket_id(page))

    server.stop(sig)
    for page in pages:  # the page says it is offline (static/js/connection.js)
        expect(page.locator("#connection")).to_have_attribute("data-state", "connecting")
        expect(page.locator("#connection")).to_have_text("Reconnecting…")
    writes.post_message(room.pk, BOB, "while the server was down")
    server.start()  # same port

    for page, old in zip(pages, sockets, strict=True):
        reconnected(page, old)
        expect(page.locator("#messages .message-text")).to_have_text(["while the server was down"])
        assert seqs(page) == [1]
        assert not_reloaded(page)

    say(pages[0], "back again")  # and a live message after the reconnect reaches both
    for page in pages:
        expect(page.locator("#messages .message-text")).to_have_text(["while the server was down", "back again"])
        assert seqs(page) == [1, 2]
        assert not_reloaded(page)


def test_the_lobby_shows_new_rooms_and_activity_live(person):
    quiet = writes.get_or_create_room("quiet corner")[0]
    busy = writes.get_or_create_room("busy hall")[0]  # newer, so listed first
    watcher = live(person("/"))
    mark(watcher)
    rows = watcher.locator("#room-list > li")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_id(f"room-{busy.pk}")

    maker = person("/")
    maker.locator("#id_name").fill("new garden")
    maker.locator("form.create-room button[type=submit]").click()
    live(maker)
    garden = Room.objects.get(name="new garden")
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_id(f"room-{garden.pk}")
    expect(rows.first.locator(".room-link")).to_have_text("new garden")

    maker.goto(room_path(quiet))
    live(maker)
    say(maker, "anyone here?")
    quiet_row = watcher.locator(f"#room-{quiet.pk}")
    expect(rows.first).to_have_id(f"room-{quiet.pk}")
    expect(quiet_row).to_have_count(1)
    expect(quiet_row.locator(".room-count")).to_have_text("1 message")
    expect(rows).to_have_count(3)
    assert [row.get_attribute("id") for row in rows.all()] == [
        f"room-{quiet.pk}",
        f"room-{garden.pk}",
        f"room-{busy.pk}",
    ]
    assert not_reloaded(watcher)


def test_without_javascript_the_composer_posts_and_redirects_back_and_others_see_it_live(person):
    room = writes.get_or_create_room("plain")[0]
    watcher = live(person(room_path(room)))
    plain = person(room_path(room), java_script_enabled=False)
    room_url = plain.url

    plain.locator("#composer-text").fill("no scripts here")
    with plain.expect_navigation():
        plain.locator("#composer button[type=submit]").click()
    assert plain.url == room_url  # redirected back to the room
    expect(plain.locator("#messages .message-text")).to_have_text(["no scripts here"])
    expect(plain.locator("#composer-text")).to_have_value("")

    expect(watcher.locator("#messages .message-text")).to_have_text(["no scripts here"])
    assert seqs(watcher) == [1]
    author = plain.locator("#display-name").input_value()
    expect(watcher.locator("#messages .message-author")).to_have_text([author])


def test_blank_text_gets_an_error_for_the_sender_alone_and_the_socket_stays_live(person):
    room = writes.get_or_create_room("blank")[0]
    alice = live(person(room_path(room)))
    bob = live(person(room_path(room)))
    alice_socket, bob_socket = socket_id(alice), socket_id(bob)
    composer, error = alice.locator("#composer-text"), alice.locator("#chat-error")

    composer.fill("    ")
    composer.press("Enter")
    expect(error).to_have_attribute("data-error", "empty")
    expect(error).to_be_visible()
    expect(error).not_to_have_text("")

    say(alice, "now with words")  # the socket still works, and a good send clears the error
    expect(error).not_to_have_attribute("data-error", "empty")
    expect(error).to_be_hidden()

    composer.fill("\u200b \u2060\u200b")  # invisible characters only: empty too
    composer.press("Enter")
    expect(error).to_have_attribute("data-error", "empty")

    for page in (alice, bob):
        expect(page.locator("#messages .message-text")).to_have_text(["now with words"])
        assert seqs(page) == [1]  # no message, and no seq, was taken by the blank ones
    assert bob.locator("#chat-error").get_attribute("data-error") is None
    expect(bob.locator("#chat-error")).to_have_text("")
    assert socket_id(alice) == alice_socket
    assert socket_id(bob) == bob_socket


def test_my_own_messages_look_different_to_me_while_the_markup_is_the_same_for_everyone(person):
    room = writes.get_or_create_room("mine")[0]
    alice = live(person(room_path(room)))
    bob = live(person(room_path(room)))
    say(alice, "look at me")
    message_id = f"#message-{room.messages.get().pk}"
    for page in (alice, bob):
        expect(page.locator(message_id)).to_have_class("message")  # htmx has settled

    def background(page: Page) -> str:
        return page.locator(message_id).evaluate("el => getComputedStyle(el).backgroundColor")

    assert background(alice) != background(bob)
    assert alice.locator(message_id).evaluate("el => el.outerHTML") == bob.locator(message_id).evaluate(
        "el => el.outerHTML"
    )

    # The page render and the live frame come from one template: a reload shows the same markup.
    live_html = bob.locator(message_id).evaluate("el => el.outerHTML")
    bob.reload()
    live(bob)
    assert bob.locator(message_id).evaluate("el => el.outerHTML") == live_html
    assert background(bob) != background(alice)


def test_a_socket_past_its_maximum_age_reconnects_by_itself_and_keeps_chatting(browser, transactional_db):
    server = Daphne(env={"ROOMS_MAX_SOCKET_AGE": "2"}).start()
    try:
        room = writes.get_or_create_room("rotation")[0]
        context = browser.new_context(base_url=server.url)
        page = context.new_page()
        page.goto(room_path(room))
        live(page)
        first = socket_id(page)
        mark(page)
        reconnected(page, first)
        say(page, "after the rotation")
        expect(page.locator("#messages .message-text")).to_have_text(["after the rotation"])
        assert not_reloaded(page)
        context.close()
    finally:
        server.cleanup()


# Five sends: the default rate limit allows a burst of five.
HOSTILE = [
    '<script>window.__pwned = 1</script><svg onload="window.__pwned = 1"></svg>',
    '<img src=x onerror="window.__pwned = 1">',
    '<div hx-get="/" hx-trigger="load" hx-swap="outerHTML">hx</div><a href="javascript:window.__pwned=1">a</a>',
    '<div id="messages" hx-swap-oob="innerHTML">taken over</div>',
    '<form ws-send hx-trigger="load"><input name="message" value="resent"></form>',
]


def test_hostile_text_stays_text_in_every_browser_that_shows_it(person):
    room = writes.get_or_create_room("<img src=x onerror=window.__pwned=1>")[0]
    sender, watcher = live(person(room_path(room))), live(person(room_path(room)))
    for payload in HOSTILE:
        say(sender, payload)
    for page in (sender, watcher):
        expect(page.locator("#messages .message-text")).to_have_text(HOSTILE)
        assert page.evaluate("window.__pwned") is None
        hostile = "#messages img, #messages svg, #messages script, #messages a[href^=javascript]"
        assert page.locator(hostile).count() == 0
        # What people typed holds no elements at all (the controls around it are ours).
        assert page.locator("#messages .message-text *, #messages .message-author *").count() == 0
        assert seqs(page) == list(range(1, len(HOSTILE) + 1))  # nothing re-sent itself
        expect(page.locator("h1#room-title")).to_have_text("<img src=x onerror=window.__pwned=1>")
    lobby = person("/")
    expect(lobby.locator("#room-list .room-link").first).to_have_text("<img src=x onerror=window.__pwned=1>")
    assert lobby.evaluate("window.__pwned") is None


def test_a_tower_of_combining_marks_cannot_cover_its_neighbours(person):
    room = writes.get_or_create_room("zalgo")[0]
    writes.post_message(room.pk, BOB, "Z" + "\u0300\u0301\u0302\u0303\u0304" * 80)
    writes.post_message(room.pk, BOB, "the next message")
    page = live(person(room_path(room)))
    tower, neighbour = page.locator("#messages article.message").all()
    tower_box, neighbour_box = tower.bounding_box(), neighbour.bounding_box()
    assert tower_box["y"] + tower_box["height"] <= neighbour_box["y"] + 1
    # What is drawn at the neighbour's text is the neighbour, not marks spilling out of the tower.
    point = neighbour.locator(".message-text").bounding_box()
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('article').id",
        [point["x"] + 5, point["y"] + point["height"] / 2],
    )
    assert hit == neighbour.get_attribute("id")


def test_pages_carry_a_content_security_policy_and_htmx_runs_no_scripts_or_eval(person):
    page = person("/")
    response = page.request.get(page.url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert page.evaluate("htmx.config.allowScriptTags") is False
    assert page.evaluate("htmx.config.allowEval") is False


def test_a_network_drop_ends_in_a_reconnect_and_the_missed_message(person, browser, server):
    room = writes.get_or_create_room("flaky")[0]
    network = FlakyNetwork(server.port).restore()
    try:
        context = browser.new_context(base_url=network.url)
        behind_flaky_network = context.new_page()
        behind_flaky_network.goto(room_path(room))
        live(behind_flaky_network)
        mark(behind_flaky_network)
        old = socket_id(behind_flaky_network)
        direct = live(person(room_path(room)))

        network.drop()
        expect(behind_flaky_network.locator("#connection")).to_have_attribute("data-state", "connecting")
        say(direct, "sent while the other one was offline")
        network.restore()

        reconnected(behind_flaky_network, old)
        expect(behind_flaky_network.locator("#messages .message-text")).to_have_text(
            ["sent while the other one was offline"]
        )
        assert seqs(behind_flaky_network) == [1]
        assert not_reloaded(behind_flaky_network)
        context.close()
    finally:
        network.drop()


@pytest.mark.redis
def test_a_redis_restart_ends_in_reconnects_and_the_missed_message(browser, transactional_db):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = RedisServer().start()
    servers = [Daphne(env={"REDIS_URL": redis.url}).start() for _ in range(2)]
    try:
        room = writes.get_or_create_room("redis restart")[0]
        pages = []
        for server in servers:  # one page on each process
            page = browser.new_context(base_url=server.url).new_page()
            page.goto(room_path(room))
            pages.append(live(page))
            mark(page)
        sockets = [socket_id(page) for page in pages]

        redis.stop()
        say(pages[0], "posted while Redis was down")  # stored; its broadcast is lost
        for server in servers:  # both processes noticed the outage
            server.wait_for_log("sockets will reconnect once")
        redis.start()  # empty: no subscriptions, no groups

        for page, old in zip(pages, sockets, strict=True):
            reconnected(page, old)
            expect(page.locator("#messages .message-text")).to_have_text(["posted while Redis was down"])
            assert seqs(page) == [1]
            assert not_reloaded(page)
        say(pages[1], "and after")
        for page in pages:
            expect(page.locator("#messages .message-text")).to_have_text(["posted while Redis was down", "and after"])
        for page in pages:
            page.context.close()
    finally:
        for server in servers:
            server.cleanup()
        redis.stop()

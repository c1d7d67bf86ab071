from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie

import pytest
from django.test import Client
from playwright.sync_api import Browser, Page, sync_playwright

from rooms import writes
from rooms.identity import Author
from rooms.models import Room
from tests.browsers import CHROMIUM_ARGS, chromium_executable
from tests.servers import Daphne, RedisServer

# Playwright's sync API and the live-server fixtures touch the ORM from threads Django
# considers async contexts; tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _cancel_all_tasks_bounded(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio.Runner's teardown (``asyncio.runners._cancel_all_tasks``), but bounded.

    Each async test has its own event loop, and closing it cancels every task still running and
    waits for all of them. Once in a CI run on PostgreSQL + Redis that wait never ended (py-spy:
    the Runner's teardown after tests/test_consumers.py's second test, on 2026-12-01; not
    reproduced in 4 reruns of that file). The likeliest culprit, not confirmed: a task cancelled
    inside channels_redis's pub/sub ``receive``, whose clean-up awaits an UNSUBSCRIBE under the
    shard's lock. A stuck clean-up must not hang the suite, so the wait is 10 s; whatever is still
    pending then is printed with its stack (for whoever chases it) and left behind.
    """
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    _done, pending = loop.run_until_complete(asyncio.wait(to_cancel, timeout=10))
    for task in pending:
        print(f"\nstill pending 10 s after the test's loop cancelled it: {task!r}", file=sys.stderr)
        task.print_stack(file=sys.stderr)
    for task in to_cancel - pending:
        if not task.cancelled() and task.exception() is not None:
            context = {"message": "unhandled exception during test loop teardown", "task": task}
            loop.call_exception_handler({**context, "exception": task.exception()})


asyncio.runners._cancel_all_tasks = _cancel_all_tasks_bounded  # type: ignore[attr-defined]

ORIGIN = "http://127.0.0.1"


@pytest.fixture(autouse=True)
def _fresh_rate_windows() -> None:
    """Every test starts with no request counted (rooms.throttle counts in the process's cache,
    and every Django client test comes from the same address)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def make_room(db: None) -> Callable[[str], Room]:
    def make(name: str = "lobby") -> Room:
        return writes.get_or_create_room(name)[0]

    return make


@pytest.fixture
def post() -> Callable[..., object]:
    """Post through the one write path, as a given author."""

    def _post(room: Room, text: str, author: Author | None = None, nonce: str = "") -> object:
        author = author or Author(key="g-test", name="Tester")
        return writes.post_message(room.pk, author, text, nonce).message

    return _post


def session_cookie(client: Client) -> str:
    """A real session cookie, made the way a browser gets one: by loading a page."""
    client.get("/")
    cookie: SimpleCookie = client.cookies
    return cookie["sessionid"].value


@pytest.fixture
def browser_headers() -> Callable[..., list[tuple[bytes, bytes]]]:
    """Handshake headers of a new person (a new browser session) each call, unless ``client``
    names the browser to reuse."""

    def make(
        origin: str = ORIGIN, with_session: bool = True, client: Client | None = None
    ) -> list[tuple[bytes, bytes]]:
        headers = [(b"origin", origin.encode())]
        if with_session:
            headers.append((b"cookie", f"sessionid={session_cookie(client or Client())}".encode()))
        return headers

    return make


@pytest.fixture(autouse=True)
def fresh_connection_counts() -> None:
    """Connection caps are counted per process; a socket a test left open must not count
    against the next test."""
    from rooms.sockets.guards import limits

    limits.by_session.clear()
    limits.by_address.clear()


@pytest.fixture(scope="session", autouse=True)
def close_stray_test_database_connections(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """Consumers reach the database from asgiref's worker threads, whose connections outlive the
    tests; PostgreSQL refuses to drop a database still in use, so end them before teardown."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis server of the test's own when redis-server is installed (no other test run's events
    on the same group names: room groups are named by primary key), else the one at REDIS_URL."""
    from tests.test_scale import REDIS_URL, redis_is_up

    if shutil.which("redis-server"):
        server = RedisServer().start()
        yield server.url
        server.stop()
        return
    if not redis_is_up():
        if os.environ.get("MADANG_REQUIRE_SERVICES"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (CI starts it; run `make services`)")
    yield REDIS_URL


@pytest.fixture
def start_daphne() -> Iterator[Callable[[dict[str, str]], Daphne]]:
    """Start a daphne process with ``env``; each is stopped (its log printed) after the test."""
    started: list[Daphne] = []

    def start(env: dict[str, str]) -> Daphne:
        server = Daphne(env=env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


# --- browsers (tests/test_browser*.py, tests/test_accessibility.py, tests/test_screenshots.py) ---


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium every browser test launches (tests/browsers.py): found, or installed, once."""
    return chromium_executable()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def no_broadcasts_from_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """For browser modules (``pytest.mark.usefixtures``): writes made in the test process cannot
    reach the server's in-memory layer anyway, and inside Playwright's event loop
    ``async_to_sync`` refuses to run: without this each one logs a misleading "broadcast failed"
    traceback. Pages get such messages through the socket's resume."""
    monkeypatch.setattr("rooms.publishing.get_channel_layer", lambda: None)


@pytest.fixture
def server(transactional_db: None) -> Iterator[Daphne]:
    daphne = Daphne().start()
    yield daphne
    daphne.cleanup()  # prints the server's log, which pytest shows when the test failed


@pytest.fixture
def person(browser: Browser, server: Daphne) -> Iterator[Callable[..., Page]]:
    """A new person (a fresh browser context with its own cookies) on a page at ``path``."""
    contexts = []

    def open_page(path: str = "/", **context_options: object) -> Page:
        context = browser.new_context(base_url=server.url, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.goto(path)
        return page

    yield open_page
    for context in contexts:
        context.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The axe results (tests/test_accessibility.py), nodes per impact, in every run's log."""
    from tests.browsers import axe_summary_lines

    if lines := axe_summary_lines():
        terminalreporter.section("axe-core: violations per page (nodes per impact)")
        for line in lines:
            terminalreporter.write_line(line)

"""A rolling restart loses nothing and duplicates nothing, through the operator's own nginx site.

nginx (Debian's, from deploy/nginx/madang.conf.template via deploy/render.py, plain HTTP on
loopback) in front of two daphne processes on unix sockets, on PostgreSQL and Redis. Two Chromium
pages sit in one room while a client posts through nginx every 100 ms and a bot over the HTTP API
every 500 ms (the API through nginx, its Idempotency-Key across restarts); the processes are restarted
one after the other as deploy/rolling-restart.sh does (SIGTERM, a new process on the same socket,
/readyz through that socket, then the next). Both pages must end with every message exactly once,
in order, without a reload, and no request may fail but the sockets' reconnects.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from playwright.sync_api import Page, expect

from rooms import writes
from rooms.bots import tokens
from rooms.models import Message
from tests.browsers import artefacts_dir
from tests.nginx import Nginx, nginx_binary, render_site
from tests.poster import Poster
from tests.servers import Daphne, free_port
from tests.test_browser import RECONNECT_TIMEOUT_MS, live, mark, not_reloaded, room_path, say, seqs, texts

pytestmark = [
    pytest.mark.browser,
    pytest.mark.deploy,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): processes restarting around one SQLite file is no deployment",
    ),
]


@pytest.fixture
def site_dir() -> object:
    """Short paths (a unix socket's is limited to 107 bytes), readable by nginx's workers."""
    path = Path(tempfile.mkdtemp(prefix="madang-deploy-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_ready(server: Daphne, timeout: float = 30) -> float:
    """What deploy/rolling-restart.sh waits for: /readyz 200 through the process's own socket."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if server.get("/readyz")[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{server.unix_socket} not ready after {timeout}s")


class Watched:
    """A page and what happened to it: failed requests, server errors, sockets opened."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.failed: list[str] = []
        self.sockets = 0
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url} {request.failure}"))
        page.on("response", lambda response: response.status >= 500 and self.failed.append(response.url))
        page.on("websocket", self._socket)

    def _socket(self, _socket: object) -> None:
        self.sockets += 1


def test_a_rolling_restart_behind_nginx_loses_nothing_and_duplicates_nothing(browser, redis_url, site_dir):
    nginx_binary()  # skips without nginx, or fails when CI requires it
    static = site_dir / "static"
    with override_settings(STATIC_ROOT=static):
        call_command("collectstatic", interactive=False, verbosity=0)  # what nginx serves, as in production
    sockets = [site_dir / f"daphne-{i}.sock" for i in (1, 2)]
    # The poster is a script posting through the no-JavaScript form ten times a second: far past
    # one person's rate (ROOMS_POST_RATE, tests/test_throttle.py), which is not under test here.
    env = {"REDIS_URL": redis_url, "ROOMS_POST_RATE": "0"}
    servers = [Daphne(env=env, args=["--proxy-headers"], unix_socket=path) for path in sockets]
    port = free_port()
    site = render_site(
        *("--server-name", "127.0.0.1", "--plain-http", f"127.0.0.1:{port}", "--static-root", str(static)),
        *(arg for path in sockets for arg in ("--upstream", f"unix:{path}")),
    )
    nginx = Nginx(site_dir / "nginx", site, port)
    poster = bot_poster = None
    try:
        for server in servers:
            server.start()
            wait_ready(server)
        nginx.start()
        room = writes.get_or_create_room("rolling restart")[0]
        watched = []
        for _ in range(2):
            page = browser.new_context(base_url=nginx.url).new_page()
            watching = Watched(page)
            page.goto(room_path(room))
            mark(live(page))
            watched.append(watching)

        _bot, token = tokens.create_bot("relay", "Relay")
        poster = Poster(nginx.url, room_path(room)).start()
        bot_poster = Poster(nginx.url, room_path(room), interval=0.5, api_token=token, prefix="bot ").start()
        time.sleep(1)  # messages flowing before the first restart
        began = time.monotonic()
        restarts = []
        for server in servers:
            stopping = time.monotonic()
            server.stop(signal.SIGTERM)
            stopped = time.monotonic() - stopping
            server.start()
            restarts.append({"stop_s": round(stopped, 2), "ready_s": round(wait_ready(server), 2)})
        restart_seconds = time.monotonic() - began
        time.sleep(1)  # and after the last
        poster.stop()
        bot_poster.stop()

        sent = poster.sent + bot_poster.sent
        for watching in watched:
            watching.page.wait_for_function(
                "n => document.querySelectorAll('#messages article.message').length >= n",
                arg=len(sent),
                timeout=RECONNECT_TIMEOUT_MS,
            )
        say(watched[0].page, "after the restarts")  # a live post over a socket through nginx
        # Two posters interleave: the room's order is the stored one, which must hold each once.
        everything = list(Message.objects.in_room(room).order_by("seq").values_list("text", flat=True))
        assert sorted(everything) == sorted([*sent, "after the restarts"])
        for watching in watched:
            expect(watching.page.locator("#messages article.message")).to_have_count(len(everything))

        figures = {
            "messages_sent": len(sent),
            "by_the_bot_api": len(bot_poster.sent),
            "posts_retried": poster.retries + bot_poster.retries,
            "post_failures": poster.failures + bot_poster.failures,
            "restarts": restarts,
            "restart_seconds": round(restart_seconds, 2),
            "pages": [
                {"received": len(seqs(w.page)), "reconnects": w.sockets - 1, "failed_requests": len(w.failed)}
                for w in watched
            ],
        }
        print(f"\nrolling restart: {json.dumps(figures)}")
        if os.environ.get("MADANG_TEST_ARTEFACTS"):
            (artefacts_dir() / "rolling-restart.json").write_text(json.dumps(figures, indent=2) + "\n")

        for watching in watched:
            assert seqs(watching.page) == list(range(1, len(everything) + 1))
            assert texts(watching.page) == everything
            assert not_reloaded(watching.page)
            assert watching.failed == []
            assert watching.sockets >= 2  # it did reconnect at least once: the restart reached it
        assert len(everything) == len(set(everything))  # every retried post deduplicated by its nonce or key
        assert bot_poster.sent and poster.unanswered == bot_poster.unanswered == 0
        # A view mid-write at SIGTERM once held its process open until killed (rooms.live.hop).
        assert all(restart["stop_s"] < 8 for restart in restarts), restarts
    finally:
        for running in (poster, bot_poster):
            if running is not None:
                running.stop()
        nginx.stop()
        for server in servers:
            server.cleanup()
        print("--- nginx error.log ---\n" + nginx.error_log()[-3000:])

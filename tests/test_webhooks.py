"""Outgoing webhooks: a mention of a bot reaches its receiver (a real HTTP server on 127.0.0.1),
signed; the reply is posted as the bot; failures are retried, then given up; bots never trigger
webhooks; private addresses are refused unless allowed; nobody who posts waits for a receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from rooms import writes
from rooms.bots import delivery, ssrf, tokens, trigger, webhooks
from rooms.identity import Author
from rooms.models import Bot, Message, Room
from tests.test_bots_api import api_post
from tests.test_consumers import join

pytestmark = pytest.mark.django_db(transaction=True)

HUMAN = Author(key="g-human", name="Human")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: answers each request with the next of ``script`` (then ``default``):
    ``{"status": 500}``, ``{"sleep": 2, ...}``, ``{"json": {...}}``."""

    script: list[dict] = field(default_factory=list)
    default: dict = field(default_factory=lambda: {"status": 204})
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                answer = state.script.pop(0) if state.script else state.default
            time.sleep(answer.get("sleep", 0))
            content = json.dumps(answer["json"]).encode() if "json" in answer else b""
            try:
                self.send_response(answer.get("status", 200))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            except ConnectionError:
                pass  # the webhook gave up waiting (a timeout test)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def webhook_settings(settings) -> Iterator[None]:
    settings.ROOMS_WEBHOOK_ALLOW_PRIVATE = True
    settings.ROOMS_WEBHOOK_TIMEOUT = 1
    settings.ROOMS_WEBHOOK_BACKOFF = [0.05, 0.1]
    settings.ROOMS_WEBHOOK_ATTEMPTS = 3
    yield
    # Nothing may still be delivering when the test's database is emptied.
    assert webhooks.wait_idle(15)


@pytest.fixture
def room(make_room) -> Room:
    return make_room("lobby")


def new_bot(username: str, url: str = "", rooms: list[Room] = ()) -> tuple[Bot, str]:
    bot, token = tokens.create_bot(username, username.title(), webhook_url=url)
    bot.rooms.set(rooms)
    return bot, token


def settle() -> None:
    assert webhooks.wait_idle(15)


def texts(room: Room) -> list[tuple[str, str]]:
    return list(Message.objects.in_room(room).order_by("seq").values_list("author_key", "text"))


def test_a_mention_delivers_a_signed_payload_and_the_reply_is_posted_as_the_bot(room, receiver):
    receiver.script = [{"json": {"text": "pong, Human"}}]
    bot, _ = new_bot("helper", receiver.url(path="/hook?team=ops"))
    before = int(time.time())
    message = writes.post_message(room.pk, HUMAN, "@helper ping").message
    settle()
    [delivered] = receiver.received
    assert delivered.path == "/hook?team=ops"
    assert delivered.headers["Content-Type"] == "application/json"
    timestamp = delivered.headers["X-Madang-Timestamp"]
    assert before <= int(timestamp) <= time.time() + 1
    expected = hmac.new(bot.webhook_secret.encode(), f"{timestamp}.".encode() + delivered.body, hashlib.sha256)
    assert hmac.compare_digest(delivered.headers["X-Madang-Signature"], f"sha256={expected.hexdigest()}")
    payload = delivered.payload
    assert payload["bot"] == {"id": bot.pk, "name": "Helper", "username": "helper"}
    assert payload["room"] == {"slug": "lobby", "name": "lobby", "url": "/rooms/lobby/"}
    assert payload["message"] == {
        "id": message.pk,
        "seq": 1,
        "text": "@helper ping",
        "author": "Human",
        "url": "/rooms/lobby/messages/1/",
    }
    assert payload["timestamp"].startswith(time.strftime("%Y-", time.gmtime()))
    assert texts(room) == [("g-human", "@helper ping"), (bot.author_key, "pong, Human")]
    assert Message.objects.get(seq=2).author_name == "Helper"


def test_a_forged_or_stale_signature_does_not_verify(room, receiver):
    bot, _ = new_bot("helper", receiver.url())
    writes.post_message(room.pk, HUMAN, "@helper hi")
    settle()
    [delivered] = receiver.received
    timestamp = delivered.headers["X-Madang-Timestamp"]
    good = delivery.signature(bot.webhook_secret, timestamp, delivered.body)
    assert delivered.headers["X-Madang-Signature"] == good
    assert delivery.signature(bot.webhook_secret, str(int(timestamp) - 3600), delivered.body) != good
    assert delivery.signature("another secret", timestamp, delivered.body) != good
    assert delivery.signature(bot.webhook_secret, timestamp, delivered.body + b" ") != good


def test_a_bots_reply_mentioning_itself_or_another_bot_triggers_nothing(room, receiver):
    receiver.default = {"json": {"text": "thanks @helper and @other"}}
    helper, _ = new_bot("helper", receiver.url())
    other, other_token = new_bot("other", receiver.url())
    writes.post_message(room.pk, HUMAN, "@helper hello")
    settle()
    time.sleep(0.3)  # a delivery the reply set off would have been queued by now
    settle()
    assert len(receiver.received) == 1 and receiver.received[0].payload["bot"]["id"] == helper.pk
    reply = Message.objects.get(seq=2)
    assert reply.author_key == helper.author_key and f"u-{other.user_id}" in reply.mentions
    # A bot posting over the API, mentioning a bot with a webhook: nothing either.
    assert api_post(Client(), room, {"text": "@helper are you there?"}, other_token)[0] == 201
    time.sleep(0.3)
    settle()
    assert len(receiver.received) == 1


def test_a_failing_receiver_is_tried_again_then_given_up(room, receiver, caplog):
    caplog.set_level(logging.WARNING, logger="rooms")
    receiver.default = {"status": 500}
    new_bot("helper", receiver.url())
    started = time.monotonic()
    writes.post_message(room.pk, HUMAN, "@helper are you up?")
    settle()
    assert len(receiver.received) == 3
    assert time.monotonic() - started >= 0.15  # the two waits between attempts
    assert "gave up" in caplog.text
    assert len(texts(room)) == 1


def test_a_receiver_that_times_out_is_tried_again_and_its_late_success_counts(room, receiver, settings):
    settings.ROOMS_WEBHOOK_TIMEOUT = 0.3
    receiver.script = [{"sleep": 1}, {"status": 503}, {"json": {"text": "third time lucky"}}]
    bot, _ = new_bot("helper", receiver.url())
    writes.post_message(room.pk, HUMAN, "@helper slowly")
    settle()
    assert len(receiver.received) == 3
    assert texts(room)[1:] == [(bot.author_key, "third time lucky")]


def test_a_refusal_other_than_429_or_5xx_is_not_tried_again(room, receiver):
    receiver.default = {"status": 404}
    new_bot("helper", receiver.url())
    writes.post_message(room.pk, HUMAN, "@helper hi")
    settle()
    assert len(receiver.received) == 1


def test_an_invalid_reply_posts_nothing(room, receiver):
    receiver.script = [
        {"json": {"text": ""}},
        {"json": ["text"]},
        {"json": {"text": 5}},
        {"json": {"text": "x" * 4001}},
    ]
    new_bot("helper", receiver.url())
    for n in range(4):
        writes.post_message(room.pk, HUMAN, f"@helper {n}")
    settle()
    assert len(receiver.received) == 4 and len(texts(room)) == 4


def test_mentions_in_a_room_the_bot_may_not_post_in_edits_and_inactive_bots_trigger_nothing(make_room, receiver):
    allowed, other = make_room("allowed"), make_room("other")
    new_bot("helper", receiver.url(), rooms=[allowed])
    sleepy, _ = new_bot("sleepy", receiver.url())
    sleepy.is_active = False
    sleepy.save()
    writes.post_message(other.pk, HUMAN, "@helper over here")
    edited = writes.post_message(allowed.pk, HUMAN, "no mention yet").message
    writes.edit_message(edited, "now @helper")
    writes.post_message(allowed.pk, HUMAN, "@sleepy wake up")
    settle()
    assert receiver.received == []
    writes.post_message(allowed.pk, HUMAN, "@helper here")
    settle()
    assert [r.payload["room"]["slug"] for r in receiver.received] == ["allowed"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://localhost:{port}/hook",
        "http://0.0.0.0:{port}/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "http://[fe80::1]/hook",
        "ftp://127.0.0.1:{port}/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
    ],
)
def test_private_addresses_and_other_schemes_are_refused_and_nothing_is_sent(room, receiver, settings, url):
    settings.ROOMS_WEBHOOK_ALLOW_PRIVATE = False
    url = url.format(port=receiver.port)
    with pytest.raises(ssrf.Refused):
        ssrf.resolve(url)
    new_bot("helper", url)
    writes.post_message(room.pk, HUMAN, "@helper fetch this")
    settle()
    assert receiver.received == []
    assert len(texts(room)) == 1


def test_the_guard_lets_public_addresses_through_and_only_http_schemes_even_when_private_is_allowed(settings):
    assert ssrf.is_public("93.184.215.14") and ssrf.is_public("2606:4700:4700::1111")
    for address in ("100.64.0.1", "224.0.0.1", "255.255.255.255", "::", "fc00::1", "2002:7f00:1::1", "192.0.2.7"):
        assert not ssrf.is_public(address), address
    target = ssrf.resolve("http://127.0.0.1:8080/a?b=1")  # allowed here (the fixture's setting)
    assert (target.host, target.port, target.address, target.path) == ("127.0.0.1", 8080, "127.0.0.1", "/a?b=1")
    with pytest.raises(ssrf.Refused):
        ssrf.resolve("ftp://127.0.0.1/")


def test_the_poster_never_waits_for_the_receiver(room, receiver, settings):
    settings.ROOMS_WEBHOOK_TIMEOUT = 5
    receiver.default = {"sleep": 2, "json": {"text": "sorry, slow"}}
    bot, _ = new_bot("helper", receiver.url())
    client = Client()
    started = time.monotonic()
    response = client.post("/rooms/lobby/messages/", {"message": "@helper take your time"})
    assert response.status_code == 302
    assert time.monotonic() - started < 1
    assert texts(room) == [(texts(room)[0][0], "@helper take your time")]
    settle()
    assert texts(room)[1] == (bot.author_key, "sorry, slow")


def test_a_full_queue_drops_the_delivery_and_says_so(room, receiver, settings, caplog):
    caplog.set_level(logging.WARNING, logger="rooms")
    settings.ROOMS_WEBHOOK_QUEUE_SIZE = 1
    receiver.default = {"sleep": 0.5}
    new_bot("helper", receiver.url())
    writes.post_message(room.pk, HUMAN, "@helper one")
    writes.post_message(room.pk, HUMAN, "@helper two")
    settle()
    assert [r.payload["message"]["text"] for r in receiver.received] == ["@helper one"]
    assert "webhook queue full" in caplog.text


def test_no_bots_no_work_a_mention_of_a_person_reads_the_map_once(room, receiver, django_assert_num_queries):
    Bot.objects.all().delete()
    trigger.forget()
    with django_assert_num_queries(1):  # the map of bots with webhooks, then cached
        trigger.webhook_bots()
        trigger.webhook_bots()
    assert trigger.webhook_bots() == {}
    bot, _ = new_bot("helper", receiver.url())  # saving a bot forgets the map
    assert trigger.webhook_bots() == {f"u-{bot.user_id}": bot.pk}


@pytest.mark.asyncio
async def test_a_reply_reaches_the_sockets_of_the_room(receiver, browser_headers):
    receiver.default = {"json": {"text": "hello, socket"}}
    room = await database_sync_to_async(lambda: writes.get_or_create_room("live")[0])()
    bot, _ = await database_sync_to_async(new_bot)("helper", receiver.url())
    socket, _ = await join(room, browser_headers())
    await socket.send_to(json.dumps({"message": "@helper say hi"}))
    frames = ""
    deadline = time.monotonic() + 10
    while "hello, socket" not in frames and time.monotonic() < deadline:
        frames += await socket.receive_from(timeout=10)
    assert "hello, socket" in frames and f'data-author="{bot.author_key}"' in frames
    await socket.disconnect()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_https_connects_to_the_checked_address_and_verifies_the_certificate_for_the_host(tmp_path):
    """No second DNS lookup: the connection goes to the address the guard checked, while TLS
    names (SNI) and verifies the URL's host, so a rebinding answer cannot redirect it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    names = ["-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *names, *files],
        check=True,
        capture_output=True,
    )
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        for host, verifies in (("hooks.test", True), ("other.test", False)):
            # "hooks.test" resolves nowhere: only the pinned address can have been used.
            connection = ssrf.connection(ssrf.Target("https", host, port, "127.0.0.1", "/"), timeout=3)
            connection._context = ssl.create_default_context(cafile=str(cert))  # trust the test's certificate
            if verifies:
                connection.request("POST", "/", body=b"{}")
                assert connection.getresponse().status == 204
            else:
                with pytest.raises(ssl.SSLCertVerificationError):
                    connection.request("POST", "/", body=b"{}")
            connection.close()
        assert seen == [f"hooks.test:{port}"]
    finally:
        server.shutdown()
        server.server_close()

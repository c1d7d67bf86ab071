"""Abuse and faults at the consumer: floods, connection caps, maximum age, outages, moderation."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.core.checks import run_checks
from django.db import OperationalError
from django.test import Client

from rooms import writes
from rooms.models import Message
from rooms.retry import QuietRetryableCloseFilter, RetryableClose
from rooms.sockets.guards import limits
from tests.test_consumers import create_room, join, open_socket, post, seqs

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.asyncio
async def test_a_client_that_keeps_flooding_is_closed_with_4008(browser_headers, settings):
    settings.ROOMS_FLOOD_BURST, settings.ROOMS_FLOOD_PER_SEC = 5, 0.1
    room = await create_room("r")
    flooder, _ = await join(room, browser_headers())  # the resume frame used one token
    for _ in range(4):
        await flooder.send_to("not even json")
        await flooder.receive_from(timeout=5)
    await flooder.send_to("one too many")
    assert await flooder.receive_output(timeout=5) == {"type": "websocket.close", "code": 4008}


@pytest.mark.asyncio
async def test_sockets_beyond_the_per_session_cap_are_refused_with_4003(browser_headers, settings):
    settings.ROOMS_MAX_SOCKETS_PER_SESSION = 2
    room = await create_room("r")
    headers = browser_headers()  # one person: every socket below shares this session
    first, _ = await join(room, headers)
    second, _ = await join(room, headers)
    third = await open_socket(f"/ws/rooms/{room.slug}/", headers)
    assert await third.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}
    await first.disconnect()
    again, _ = await join(room, headers)  # a closed socket frees its place
    other_person, _ = await join(room, browser_headers())  # the cap is per session
    for communicator in (second, again, other_person):
        await communicator.disconnect()


@pytest.mark.asyncio
async def test_sockets_beyond_the_per_address_cap_are_refused(browser_headers, settings):
    settings.ROOMS_MAX_SOCKETS_PER_ADDRESS = 1
    room = await create_room("r")
    first, _ = await join(room, browser_headers())
    second = await open_socket(f"/ws/rooms/{room.slug}/", browser_headers())
    assert await second.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}
    await first.disconnect()


@pytest.mark.asyncio
async def test_a_socket_past_its_maximum_age_ends_with_a_retryable_close(browser_headers, settings):
    settings.ROOMS_MAX_SOCKET_AGE = 0.3
    room = await create_room("r")
    old, _ = await join(room, browser_headers())
    # Raised out of the application, daphne closes the socket with 1011, which browsers retry
    # (tests/test_browser.py shows the page reconnecting and catching up).
    with pytest.raises(RetryableClose):
        await old.receive_output(timeout=5)
    # Ending by an exception skips disconnect(); the socket's place under the caps is still freed.
    assert not limits.by_session
    assert not limits.by_address


@pytest.mark.asyncio
async def test_a_database_failure_while_posting_tells_the_sender_and_ends_the_socket_retryably(
    browser_headers, monkeypatch
):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())

    def database_down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(writes, "post_messages", database_down)
    await alice.send_to(json.dumps({"message": "hello?"}))
    reply = await alice.receive_from(timeout=5)
    assert 'data-error="unavailable"' in reply
    with pytest.raises(RetryableClose):
        await alice.receive_output(timeout=5)


def test_daphnes_error_log_stays_quiet_about_planned_retryable_closes():
    record = logging.LogRecord("daphne.server", logging.ERROR, "", 0, "Exception inside application", None, None)
    record.exc_info = (RetryableClose, RetryableClose("age"), None)
    assert not QuietRetryableCloseFilter().filter(record)
    record.exc_info = (ValueError, ValueError("bug"), None)
    assert QuietRetryableCloseFilter().filter(record)


@pytest.mark.asyncio
async def test_hiding_a_message_removes_it_from_every_open_page_and_from_catch_up(browser_headers):
    room = await create_room("r")
    message = await post(room, "spam")
    await post(room, "fine")
    alice, _ = await join(room, browser_headers())
    bob, _ = await join(room, browser_headers())
    await database_sync_to_async(writes.hide_messages)([message])
    for communicator in (alice, bob):
        removal = await communicator.receive_from(timeout=5)
        oob = f'hx-swap-oob="outerHTML:#message-{message.pk}-content,#oob-sink">'
        assert f'id="message-{message.pk}-content" data-gone {oob}' in removal
        assert "spam" not in removal
    late, reply = await join(room, browser_headers())
    assert seqs(reply) == [1, 2]  # the hidden one as an empty placeholder: seqs stay gap-free
    assert "spam" not in reply and f'id="message-{message.pk}-content" data-gone' in reply
    page = await database_sync_to_async(lambda: Client().get(room.get_absolute_url()).content.decode())()
    assert "spam" not in page
    assert "fine" in page
    for communicator in (alice, bob, late):
        await communicator.disconnect()


@pytest.mark.asyncio
async def test_deleting_a_message_removes_it_live_and_seqs_are_not_reused(browser_headers):
    room = await create_room("r")
    message = await post(room, "oops")
    alice, _ = await join(room, browser_headers())
    await database_sync_to_async(writes.delete_messages)([message])
    removal = await alice.receive_from(timeout=5)
    assert f'id="message-{message.pk}-content" data-gone hx-swap-oob="outerHTML:' in removal and "oops" not in removal
    assert seqs(await post_and_receive(alice, room)) == [2]
    await alice.disconnect()


async def post_and_receive(communicator: WebsocketCommunicator, room) -> str:
    await post(room, "next")
    return await communicator.receive_from(timeout=5)


@pytest.mark.asyncio
async def test_a_banned_accounts_sockets_are_closed_and_cannot_reconnect(settings):
    user = await database_sync_to_async(User.objects.create_user)("troll", password="x-long-password")
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    headers = [(b"origin", b"http://127.0.0.1"), (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    room = await create_room("r")
    troll, _ = await join(room, headers)
    lobby = await open_socket("/ws/lobby/", headers)
    await lobby.receive_from(timeout=5)

    user.is_active = False
    await database_sync_to_async(user.save)()
    assert await troll.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}
    assert await lobby.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}
    again = await open_socket(f"/ws/rooms/{room.slug}/", headers)
    assert await again.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}
    response = await database_sync_to_async(client.post)(f"{room.get_absolute_url()}messages/", {"message": "x"})
    assert response.status_code == 403
    assert await database_sync_to_async(Message.objects.count)() == 0


@pytest.mark.asyncio
async def test_logs_name_user_room_and_address_but_never_bodies_or_session_ids(browser_headers, caplog):
    caplog.set_level(logging.INFO, logger="rooms")
    room = await create_room("r")
    headers = browser_headers()
    session_id = headers[1][1].decode().split("=", 1)[1]
    alice, _ = await join(room, headers)
    await alice.send_to(json.dumps({"message": "my secret text"}))
    await alice.receive_from(timeout=5)
    await alice.disconnect()
    await alice.wait()
    text = caplog.text
    assert f"room={room.pk}" in text
    assert "opened author=g-" in text
    assert "closed code=" in text
    assert "secret" not in text
    assert session_id not in text


def test_allowed_hosts_star_is_refused_in_production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    assert "rooms.E010" in [m.id for m in run_checks()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "s" * 60, "DJANGO_ALLOWED_HOSTS": "*"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert 'not "*"' in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "k8$Jw2!qZr7@Lm4^Xv9&Tn1*Pb6#Hd3%Gs5(Fy0)Ce-Ua_Ri+Ow=Qe",
        "DJANGO_ALLOWED_HOSTS": "chat.example.com",
        "DJANGO_HTTPS": "1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.asyncio
async def test_a_guest_without_session_is_still_counted_per_address(settings):
    settings.ROOMS_MAX_SOCKETS_PER_ADDRESS = 1
    room = await create_room("r")
    anonymous = [(b"origin", b"http://127.0.0.1")]
    first, _ = await join(room, anonymous)
    second = await open_socket(f"/ws/rooms/{room.slug}/", anonymous)
    assert await second.receive_output(timeout=5) == {"type": "websocket.close", "code": 4003}
    await first.disconnect()


@pytest.mark.asyncio
async def test_the_author_cannot_be_chosen_in_the_payload_even_for_accounts(browser_headers):
    room = await create_room("r")
    alice, _ = await join(room, browser_headers())
    await alice.send_to(json.dumps({"message": "hi", "author_key": "u-1", "user_id": 1, "seq": 99}))
    await alice.receive_from(timeout=5)
    message = await database_sync_to_async(Message.objects.get)()
    assert message.author_key.startswith("g-")
    assert message.author_id is None
    assert message.seq == 1
    await alice.disconnect()

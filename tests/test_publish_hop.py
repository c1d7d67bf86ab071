"""A write on a thread hands its events to the server's event loop without ever waiting for ever
(rooms.live.hop), and a resend publishes what its first send stored but never published
(rooms.writes.posts): together, a view caught mid-write by SIGTERM neither holds its process
open nor leaves a message that no page shows until the room's next one."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async

from rooms import broadcast, writes
from rooms.identity import Author
from rooms.live import hop
from rooms.models import Message
from tests.test_consumers import create_room, join

ALICE = Author(key="g-alice", name="Alice")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_resend_publishes_what_its_first_send_stored_but_never_published(browser_headers):
    room = await create_room("resend")
    page, _ = await join(room, browser_headers())

    def stored_unpublished() -> writes.Posted:
        # Written, then never handed to the layer: a process that stopped between the two.
        with broadcast.collected():
            return writes.post_message(room.pk, ALICE, "sent as the server stopped", nonce="n-1")

    await database_sync_to_async(stored_unpublished)()
    assert await page.receive_nothing(0.3)
    again = await database_sync_to_async(writes.post_message)(room.pk, ALICE, "sent as the server stopped", "n-1")
    assert not again.created
    frame = await page.receive_from(timeout=5)
    assert 'data-seq="1"' in frame and "sent as the server stopped" in frame
    # Once more: the page has it now, and its socket drops the copy.
    await database_sync_to_async(writes.post_message)(room.pk, ALICE, "sent as the server stopped", "n-1")
    assert await page.receive_nothing(0.5)
    assert await database_sync_to_async(Message.objects.in_room(room).count)() == 1
    await page.disconnect()


def _post_on_a_server_thread(loop: asyncio.AbstractEventLoop, room_pk: int, done: list[object]) -> None:
    """What a view does under daphne: a worker thread that knows its server's loop."""
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    try:
        done.append(writes.post_message(room_pk, ALICE, "mid-write at SIGTERM"))
    finally:
        del SyncToAsync.threadlocal.main_event_loop, SyncToAsync.threadlocal.main_event_loop_pid


@pytest.mark.django_db(transaction=True)
def test_a_write_whose_server_loop_has_stopped_is_stored_and_does_not_wait_for_it(make_room, caplog):
    room = make_room("stopping")
    stopped = asyncio.new_event_loop()  # daphne's loop once SIGTERM stopped it: not running, not closed
    done: list[object] = []
    caplog.set_level(logging.WARNING, "rooms.broadcast")
    writer = threading.Thread(target=_post_on_a_server_thread, args=(stopped, room.pk, done), daemon=True)
    writer.start()
    writer.join(timeout=5)
    stopped.close()
    assert not writer.is_alive(), "the write waited for a loop that will never run again"
    assert done and done[0].created
    assert Message.objects.in_room(room).filter(text="mid-write at SIGTERM").exists()
    assert "the server is stopping" in caplog.text


def test_a_hop_to_a_busy_loop_stops_waiting_after_the_wait_and_the_work_still_runs_late(settings, caplog):
    settings.ROOMS_PUBLISH_WAIT_SECONDS = 0.2
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    loop.call_soon_threadsafe(time.sleep, 1.5)  # the loop is busy with something else
    ran: list[bool] = []

    async def work() -> None:
        ran.append(True)

    started = time.monotonic()
    assert hop.run_on(loop, work(), "a test event") is False
    assert time.monotonic() - started < 1.0
    assert "not published within 0.2 s" in caplog.text
    assert ran == []
    time.sleep(1.5)  # the loop is free again: what the thread stopped waiting for still goes out
    assert ran == [True]
    loop.call_soon_threadsafe(loop.stop)
    runner.join(timeout=5)
    loop.close()

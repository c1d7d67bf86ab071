"""Webhook deliveries, in the background: a bounded queue and a few threads per process.

``enqueue`` is called after a post's commit (rooms.bots.trigger) and returns at once: the person
who posted never waits for a receiver. Each process delivers the mentions it wrote itself, from
memory. An outbox table would survive a restart, but would put a row (an INSERT under the room's
lock) on the hot path of every mention and need a worker polling the database; a delivery lost
with its process is a notice missed, not a message lost, so memory it is (README, "Bots").

At most ``ROOMS_WEBHOOK_QUEUE_SIZE`` deliveries are waiting, under way or between attempts; more
are dropped and logged. ``ROOMS_WEBHOOK_WORKERS`` threads deliver. An attempt that fails in a way
worth repeating (no connection, a timeout, 5xx, 429) is tried again after the next wait of
``ROOMS_WEBHOOK_BACKOFF``, by a timer that puts it back in the queue (no thread sleeps meanwhile),
up to ``ROOMS_WEBHOOK_ATTEMPTS`` in all; then it is given up and logged.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connections

from rooms.live import hop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    bot_id: int
    message_id: int
    # The event loop of the process's sockets, if the post came from one (daphne, a socket): a
    # reply is published there, so the in-process channel layer reaches those sockets.
    loop: asyncio.AbstractEventLoop | None
    attempt: int = 1


_jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
_state = threading.Condition()
_pending = 0  # queued, under way or waiting for another attempt
_workers: list[threading.Thread] = []


def enqueue(bot_id: int, message_id: int) -> bool:
    """Queue a delivery of ``message_id`` to ``bot_id``'s webhook; False when the queue was full."""
    global _pending
    with _state:
        if _pending >= settings.ROOMS_WEBHOOK_QUEUE_SIZE:
            logger.warning("webhook queue full (%d): dropped message %s for bot %s", _pending, message_id, bot_id)
            return False
        _pending += 1
        while len(_workers) < max(1, settings.ROOMS_WEBHOOK_WORKERS):
            worker = threading.Thread(target=_work, name=f"webhooks-{len(_workers)}", daemon=True)
            worker.start()
            _workers.append(worker)
    _jobs.put(Job(bot_id, message_id, hop.home_loop()))
    return True


def wait_idle(timeout: float) -> bool:
    """Wait until nothing is queued, under way or waiting to be tried again (tests, shutdown)."""
    with _state:
        return _state.wait_for(lambda: _pending == 0, timeout)


def _finished() -> None:
    global _pending
    with _state:
        _pending -= 1
        _state.notify_all()


def _work() -> None:
    from rooms.bots import delivery  # it posts replies through rooms.writes, which imports this package

    while True:
        job = _jobs.get()
        retry = False
        try:
            retry = delivery.attempt(job.bot_id, job.message_id, job.loop)
        except Exception:
            logger.exception("webhook delivery of message %s to bot %s failed", job.message_id, job.bot_id)
        finally:
            connections.close_all()  # this thread's own: a thread that waits holds no connection
        if retry and job.attempt < _attempts():
            waits = settings.ROOMS_WEBHOOK_BACKOFF or [1.0]
            wait = waits[min(job.attempt, len(waits)) - 1]
            timer = threading.Timer(wait, _jobs.put, [replace(job, attempt=job.attempt + 1)])
            timer.daemon = True
            timer.start()
            continue
        if retry:
            logger.warning("webhook of bot %s gave up on message %s", job.bot_id, job.message_id)
        _finished()


def _attempts() -> int:
    return max(1, int(settings.ROOMS_WEBHOOK_ATTEMPTS))

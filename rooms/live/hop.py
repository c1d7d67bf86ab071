"""From a worker thread to the event loop that serves this process's sockets.

Writes run on threads (HTTP views under daphne, the sockets' database thread, the webhook
workers), and their events must be published on the server's event loop: the in-process channel
layer's queues live there, and the Redis layers keep one connection per loop. ``async_to_sync``
makes that hop, but it waits without limit: once SIGTERM has stopped daphne's loop, a view that
was mid-write when it came would wait for ever, and the process would never exit (a rolling
restart found this: tests/test_deploy_restart.py). Here the wait is bounded, and a stopped loop is
not waited for at all. What is not published is not lost: it is in the database, and every page
catches up from there (on the room's next event, or when its socket reconnects to another process).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import SyncToAsync
from django.conf import settings

logger = logging.getLogger("rooms.broadcast")


def home_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the server this thread works for (asgiref's sync_to_async threads know it,
    as async_to_sync does), or None outside a server (a management command, the shell)."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None)


def run_on(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None], what: str) -> bool:
    """Run ``work`` on ``loop`` and wait for it, at most ``ROOMS_PUBLISH_WAIT_SECONDS``. False
    (and a warning) when the loop has stopped, or did not finish it in time (then it may still
    run late)."""
    if loop.is_closed() or not loop.is_running():
        work.close()
        logger.warning("%s not published: the server is stopping (pages catch up from the database)", what)
        return False
    try:
        future = asyncio.run_coroutine_threadsafe(work, loop)
    except RuntimeError:  # closed between the check and the call
        work.close()
        logger.warning("%s not published: the server is stopping (pages catch up from the database)", what)
        return False
    try:
        future.result(timeout=settings.ROOMS_PUBLISH_WAIT_SECONDS)
    except concurrent.futures.TimeoutError:
        future.cancel()
        logger.warning(
            "%s not published within %g s (pages catch up from the database)", what, settings.ROOMS_PUBLISH_WAIT_SECONDS
        )
        return False
    return True

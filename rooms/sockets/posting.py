"""The posts of every socket in this process, written together (group commit).

A post alone pays a whole write path: a hop to the database thread, a transaction and its commit,
and a hop back to the event loop to publish. Posts that arrive while a batch is being written
wait for the next one, which writes all of them in one transaction on one hop
(``rooms.writes.post_messages``) and publishes their rendered events straight from the event loop
(``rooms.broadcast.collected``). Nothing waits to fill a batch: a lone post is written at once;
only posts that would have queued for the database thread anyway are grouped, so the cost of a
commit is shared exactly when the process is busiest (bench/README.md).

Each socket still gets its own answer: its post's message, or the error that stopped just that
post, after its event was handed to the channel layer (persist, then publish, then acknowledge).
"""

from __future__ import annotations

import asyncio
import logging
import math

from channels.layers import BaseChannelLayer
from django.conf import settings

from rooms import broadcast, writes
from rooms.live import per_loop
from rooms.sockets.db import database_sync_to_async

logger = logging.getLogger("rooms.sockets")

# Posts per transaction at most: bounds how long one batch holds the database (and SQLite's lock).
MAX_BATCH = 100


class PostQueue:
    """Also keeps a busy room's lobby row to one move per ``ROOMS_LOBBY_ROW_SECONDS``: a room
    whose row moved less than that ago is remembered in its latest state (``rows_pending``) and
    its row goes out when the time is up. One task does both, one step after the other, so a row
    can never overtake a newer one of the same room."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.waiting: list[tuple[writes.NewPost, asyncio.Future[writes.Posted]]] = []
        self.task: asyncio.Task[None] | None = None
        self.rows_sent: dict[int, float] = {}  # room pk -> loop time its row last moved
        self.rows_pending: dict[int, broadcast.Moved] = {}
        self.timer: asyncio.TimerHandle | None = None

    async def post(self, post: writes.NewPost) -> writes.Posted:
        """Store ``post`` (validated) and publish it; raises what stopped it."""
        future: asyncio.Future[writes.Posted] = asyncio.get_running_loop().create_future()
        self.waiting.append((post, future))
        self._start()
        return await future

    def _start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting or self._rows_due(loop.time()):
            batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
            now = loop.time()
            due = self._rows_due(now) | {post.room_id for post, _ in batch if self._row_due(post.room_id, now)}
            rows = [self.rows_pending.pop(pk) for pk in due if pk in self.rows_pending]
            for pk in due:
                self.rows_sent[pk] = now
            try:
                results, sends, later = await database_sync_to_async(_write_batch)(
                    [post for post, _ in batch], due, rows
                )
            except Exception as error:  # the database itself failed: every post of the batch hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.rows_pending.update(later)
            await broadcast.publish(sends)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # its socket closed meanwhile: the post is stored all the same
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        self._wake_for_rows(loop)

    def _row_due(self, room: int, now: float) -> bool:
        return self.rows_sent.get(room, -math.inf) + settings.ROOMS_LOBBY_ROW_SECONDS <= now

    def _rows_due(self, now: float) -> set[int]:
        return {pk for pk in self.rows_pending if self._row_due(pk, now)}

    def _wake_for_rows(self, loop: asyncio.AbstractEventLoop) -> None:
        for pk in [
            pk for pk, sent in self.rows_sent.items() if pk not in self.rows_pending and self._row_due(pk, loop.time())
        ]:
            del self.rows_sent[pk]  # quiet rooms: their next post moves their row at once
        if not self.rows_pending or (self.timer is not None and not self.timer.cancelled()):
            return
        at = min(self.rows_sent.get(pk, 0.0) for pk in self.rows_pending) + settings.ROOMS_LOBBY_ROW_SECONDS
        self.timer = loop.call_at(at, self._rows_time)

    def _rows_time(self) -> None:
        self.timer = None
        self._start()


def _write_batch(
    posts: list[writes.NewPost], due: set[int], rows: list[broadcast.Moved]
) -> tuple[list[writes.Posted | Exception], list[broadcast.Send], dict[int, broadcast.Moved]]:
    """On the database thread: store the posts, render their events, and the lobby rows of the
    rooms that are due (``rows``, and those the posts moved); the other moved rooms come back
    for later."""
    with broadcast.collected() as collected:
        results = writes.post_messages(posts) if posts else []
    moved = {pk: state for pk, state in collected.moved.items() if pk in due}
    later = {pk: state for pk, state in collected.moved.items() if pk not in due}
    rows = [state for state in rows if state[0].pk not in moved] + list(moved.values())
    return results, collected.sends + broadcast.lobby_rows(rows), later


def post_queue(layer: BaseChannelLayer) -> PostQueue:
    """This process's queue (one per event loop and layer)."""
    return per_loop.for_this_loop("posts", layer, PostQueue)

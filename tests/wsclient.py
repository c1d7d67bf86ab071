"""A page's socket, as the htmx ws extension drives it, for tests without a browser.

It sends the resume frame with its cursor on every open, keeps the cursor the server moves with
each frame, and reconnects after exactly the close codes the extension retries (1006, 1011,
1012, 1013); any other close ends it, like a page that gave up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

RETRIED = {1006, 1011, 1012, 1013}
SEQ = re.compile(r'data-seq="(\d+)"')
CURSOR = re.compile(r'id="cursor" name="cursor" value="(\d+)"')


class PageSocket:
    def __init__(self, base_url: str, slug: str, cursor: int = 0, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = headers or {}  # e.g. Accept-Language, or a session cookie
        self.frames: list[str] = []
        self.url = base_url.replace("http://", "ws://") + f"/ws/rooms/{slug}/"
        self.cursor = cursor
        self.seqs: list[int] = []  # every message seq shown, in the order shown
        self.closes: list[int | None] = []
        self.opens = 0
        self.resets = 0  # frames that replaced the whole history (the latest page, not a catch-up)
        self.acks = 0  # the server's "stored" answers to this socket's own posts (a fresh composer)
        self.socket: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.live = asyncio.Event()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    async def start(self, timeout: float = 15) -> PageSocket:
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.live.wait(), timeout)
        return self

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                opening = connect(self.url, origin=self.base_url, open_timeout=5, additional_headers=self.headers)
                async with opening as socket:
                    self.socket = socket
                    self.opens += 1
                    self._wake()
                    await socket.send(json.dumps({"cursor": str(self.cursor), "HEADERS": {}}))
                    async for frame in socket:
                        self._show(str(frame))
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                self._closed(code)
                if code not in RETRIED:
                    return
            except OSError:
                self._closed(1006)  # connection refused while the server is down
            else:
                self._closed(None)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _closed(self, code: int | None) -> None:
        self.closes.append(code)
        self.live.clear()
        self._wake()

    def _show(self, frame: str) -> None:
        self.frames.append(frame)
        if 'hx-swap-oob="innerHTML"' in frame and 'id="messages"' in frame:
            self.seqs = []  # the history was replaced
            self.resets += 1
        self.seqs += [int(s) for s in SEQ.findall(frame)]
        if 'id="composer-nonce"' in frame:
            self.acks += 1
        if cursor := CURSOR.search(frame):
            self.cursor = int(cursor.group(1))
        if 'data-state="live"' in frame:
            self.live.set()
        self._wake()

    def _wake(self) -> None:
        for condition, future in self._waiters:
            if not future.done() and condition():
                future.set_result(None)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 20) -> None:
        """Wait until ``condition()`` holds, checked after every open, frame and close (no polling)."""
        if condition():
            return
        waiter = (condition, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter[1], timeout)
        finally:
            self._waiters.remove(waiter)

    async def say(self, text: str, nonce: str = "") -> None:
        assert self.socket is not None
        await self.socket.send(json.dumps({"message": text, "nonce": nonce}))

    async def wait_for_seq(self, seq: int, timeout: float = 20) -> list[int]:
        await self.wait_until(lambda: seq in self.seqs, timeout)
        return self.seqs

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

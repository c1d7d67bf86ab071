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

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

RETRIED = {1006, 1011, 1012, 1013}
SEQ = re.compile(r'data-seq="(\d+)"')
CURSOR = re.compile(r'id="cursor" name="cursor" value="(\d+)"')


class PageSocket:
    def __init__(self, base_url: str, slug: str, cursor: int = 0) -> None:
        self.base_url = base_url
        self.url = base_url.replace("http://", "ws://") + f"/ws/rooms/{slug}/"
        self.cursor = cursor
        self.seqs: list[int] = []  # every message seq shown, in the order shown
        self.closes: list[int | None] = []
        self.opens = 0
        self.socket: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.live = asyncio.Event()

    async def start(self) -> PageSocket:
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.live.wait(), 15)
        return self

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                async with connect(self.url, origin=self.base_url, open_timeout=5) as socket:
                    self.socket = socket
                    self.opens += 1
                    await socket.send(json.dumps({"cursor": str(self.cursor), "HEADERS": {}}))
                    async for frame in socket:
                        self._show(str(frame))
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                self.closes.append(code)
                self.live.clear()
                if code not in RETRIED:
                    return
            except OSError:
                self.closes.append(1006)  # connection refused while the server is down
                self.live.clear()
            else:
                self.closes.append(None)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _show(self, frame: str) -> None:
        if 'hx-swap-oob="innerHTML"' in frame and 'id="messages"' in frame:
            self.seqs = []  # the history was replaced
        self.seqs += [int(s) for s in SEQ.findall(frame)]
        if cursor := CURSOR.search(frame):
            self.cursor = int(cursor.group(1))
        if 'data-state="live"' in frame:
            self.live.set()

    async def say(self, text: str, nonce: str = "") -> None:
        assert self.socket is not None
        await self.socket.send(json.dumps({"message": text, "nonce": nonce}))

    async def wait_for_seq(self, seq: int, timeout: float = 20) -> list[int]:
        async def until() -> None:
            while seq not in self.seqs:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(until(), timeout)
        return self.seqs

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

"""The embedded channel layer: Channels' in-memory layer, made cheap for how Madang uses it.

Without ``REDIS_URL`` every event of one process goes through ``InMemoryChannelLayer``, which on
each ``group_send`` and each ``receive`` walks every channel and every group member looking for
expired entries, and sends to each member of a group through a task of its own. Madang has one
member per group per process (the group's hub, rooms.live.fanout), and hubs drain their channels
as events come, so both were pure overhead: 9% of a busy process's samples with 100 rooms posting
(bench/README.md). Here the expiry sweep runs at most once a second and a group send puts the
message straight into each member's queue (``send`` never waits). Messages are still copied per
receiver, as with a real layer, and expire as before.
"""

from __future__ import annotations

import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

# Seconds between two sweeps for expired messages and group memberships (each lives 60 s or a day).
SWEEP_EVERY = 1.0


class ProcessChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.swept_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self.swept_at < SWEEP_EVERY:
            return
        self.swept_at = now
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass  # as Channels' layer: a full channel misses the message

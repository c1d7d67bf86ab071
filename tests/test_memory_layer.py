"""The embedded channel layer (rooms.live.memory): Channels' in-memory layer semantics, cheaper."""

from __future__ import annotations

import asyncio
import os

import pytest
from channels.layers import get_channel_layer

from rooms.live import memory
from rooms.live.memory import ProcessChannelLayer

pytestmark = pytest.mark.asyncio


async def test_it_is_the_layer_without_redis_and_redis_pub_sub_with_it():
    if os.environ.get("REDIS_URL"):
        assert type(get_channel_layer()).__name__ == "RedisPubSubChannelLayer"
    else:
        assert isinstance(get_channel_layer(), ProcessChannelLayer)


async def test_a_group_send_reaches_every_member_with_a_copy_of_its_own_and_no_task():
    layer = ProcessChannelLayer()
    one, two = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room-1", one)
    await layer.group_add("room-1", two)
    await layer.group_add("room-2", two)
    message = {"type": "room.event", "html": {"en UTC": "<p>hi</p>"}}
    tasks = len(asyncio.all_tasks())
    await layer.group_send("room-1", message)
    assert len(asyncio.all_tasks()) == tasks
    first, second = await layer.receive(one), await layer.receive(two)
    assert first == second == message
    first["html"]["ko Asia/Seoul"] = "<p>안녕</p>"  # a hub adds its variants to the event it received
    assert second["html"] == message["html"] == {"en UTC": "<p>hi</p>"}
    await layer.group_send("nobody-here", message)  # a group without members is no error


async def test_expired_messages_still_expire_swept_at_most_once_a_second(monkeypatch):
    layer = ProcessChannelLayer(expiry=60)
    channel = await layer.new_channel()
    await layer.group_add("room-1", channel)
    await layer.group_send("room-1", {"type": "old"})
    now = memory.time.time()
    monkeypatch.setattr(memory.time, "time", lambda: now + 61)  # the message has expired
    layer.swept_at = memory.time.monotonic()  # swept just now: the next sweep waits a second
    await layer.group_send("other", {"type": "x"})
    assert channel in layer.channels  # not yet swept
    layer.swept_at -= memory.SWEEP_EVERY
    await layer.group_send("other", {"type": "x"})
    assert channel not in layer.channels and channel not in layer.groups.get("room-1", {})

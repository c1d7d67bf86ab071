"""Which new posts mention a bot that has a webhook: the write path's only contact with bots.

rooms.writes.posts registers ``posted`` after commit for a batch in which some post mentions an
account at all (a string check it already has); everything else costs the hot path nothing. Here
the mentioned keys are matched against a per-process map of the bots with a webhook, read again
every ``ROOMS_BOT_CACHE_SECONDS`` or as soon as a bot is saved or deleted in this process (another
process notices within that time). A match queues a delivery (rooms.bots.webhooks); nothing
waits for it.

A message written by a bot triggers no webhook at all, whoever it mentions: no bot can start a
loop, with itself or with another bot. An edit that adds a mention triggers nothing either: the
webhook is about a new message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from rooms.bots import webhooks
from rooms.models import Bot, Message

BOT_KEY_PREFIX = "b-"

_lock = threading.Lock()
_cached: tuple[float, dict[str, int]] | None = None  # (read again after, {"u-<account pk>": bot pk})


def forget(**kwargs: Any) -> None:
    """A bot changed here: read the map again on the next mention."""
    global _cached
    _cached = None


post_save.connect(forget, sender="rooms.Bot", dispatch_uid="rooms.bots.trigger.saved")
post_delete.connect(forget, sender="rooms.Bot", dispatch_uid="rooms.bots.trigger.deleted")


def webhook_bots() -> dict[str, int]:
    """The active bots with a webhook, by their account's mention key."""
    global _cached
    with _lock:
        now = time.monotonic()
        if _cached is None or _cached[0] <= now:
            rows = Bot.objects.with_webhook().values_list("user_id", "pk")
            _cached = (now + settings.ROOMS_BOT_CACHE_SECONDS, {f"u-{user_id}": pk for user_id, pk in rows})
        return _cached[1]


def posted(messages: Sequence[Message]) -> None:
    """After commit: queue one delivery per bot with a webhook that each message mentions."""
    bots: dict[str, int] | None = None
    for message in messages:
        if not message.mentions or message.author_key.startswith(BOT_KEY_PREFIX):
            continue
        bots = webhook_bots() if bots is None else bots
        for key in message.mention_keys.split():
            if key in bots:
                webhooks.enqueue(bots[key], message.pk)

"""Madang with ``channels_redis.pubsub.RedisPubSubChannelLayer``: the layer ``project.settings``
chooses when ``REDIS_URL`` is set, named here explicitly so the benchmark row stays "pub/sub" even
if the app's default changes. The only difference from the app's configuration is the key prefix
(``BENCH_LAYER_PREFIX``), which keeps the benchmark's channels apart from anything else on the same
Redis (pub/sub channels are global to a Redis server, not per database).
"""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403

BENCH_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [BENCH_REDIS_URL], "prefix": os.environ.get("BENCH_LAYER_PREFIX", "asgi")},
    }
}

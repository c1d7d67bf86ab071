"""Madang with ``channels_redis.core.RedisChannelLayer`` (lists in Redis, one LPUSH-like write per
receiving process), for the benchmark's comparison with the pub/sub layer ``project.settings`` picks.

redis-py 8 gives every connection a 5 s ``socket_timeout``, the same as core's blocking
``BZPOPMIN`` timeout: a quiet process would then drop its Redis connection about every 5 s
(channels_redis#422). ``create_pool()`` passes the host dict's extra keys to
``ConnectionPool.from_url()``, so the timeout is raised there.

``BENCH_LAYER_PREFIX`` keeps the benchmark's keys apart from anything else on the same Redis.
"""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403

BENCH_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": BENCH_REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "prefix": os.environ.get("BENCH_LAYER_PREFIX", "asgi"),
        },
    }
}

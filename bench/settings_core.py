"""Madang with ``channels_redis.core.RedisChannelLayer`` (lists in Redis, one LPUSH-like write per
receiving process), for the benchmark's comparison with the pub/sub layer ``project.settings`` picks.

redis-py 8 gives every connection a 5 s ``socket_timeout``, the same as core's blocking
``BZPOPMIN`` timeout: a quiet process would then drop its Redis connection about every 5 s
(channels_redis#422). ``create_pool()`` passes the host dict's extra keys to
``ConnectionPool.from_url()``, so the timeout is raised there.

redis-py 8 also caps each connection pool at 100 connections and raises ``MaxConnectionsError``
(instead of waiting) past that. The core layer takes one pooled connection per concurrent command,
so 100+ sockets closing at once (a deploy, a network blip, the end of a benchmark) fail their
``group_discard`` and stay in the group as dead members. The cap is raised here too.

``BENCH_CORE_SHARED_PREFIX=1`` swaps in ``bench.layers.SharedPrefixRedisChannelLayer``: every
process-local channel gets the default name prefix, as the core layer's one-receive-loop design
requires (see that module).

``BENCH_LAYER_PREFIX`` keeps the benchmark's keys apart from anything else on the same Redis.
"""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403

BENCH_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": (
            "bench.layers.SharedPrefixRedisChannelLayer"
            if os.environ.get("BENCH_CORE_SHARED_PREFIX") == "1"
            else "channels_redis.core.RedisChannelLayer"
        ),
        "CONFIG": {
            "hosts": [
                {
                    "address": BENCH_REDIS_URL,
                    "socket_timeout": 30,
                    "socket_connect_timeout": 5,
                    "max_connections": 2000,
                }
            ],
            "prefix": os.environ.get("BENCH_LAYER_PREFIX", "asgi"),
        },
    }
}

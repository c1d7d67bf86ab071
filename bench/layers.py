"""Channel layer variants for the benchmark.

``SharedPrefixRedisChannelLayer``: channels_redis's core layer reads all of a process's channels
through ONE receive loop that pops ONE Redis key, ``<prefix><name up to "!">``. A channel made
with another prefix (``new_channel("hub.")``, ``new_channel("probe.")``) lives under a different
key, and the loop only reads the key of whichever receiver holds its lock: with sockets waiting on
``specific.…!`` channels, a ``hub.…!`` receiver starves (and the other way round). This subclass
gives every process-local channel the default prefix, so they all share the one key; the names
stay unique (a uuid), and the loop hands each message to the channel it names.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer


class SharedPrefixRedisChannelLayer(RedisChannelLayer):
    async def new_channel(self, prefix: str = "specific") -> str:
        return await super().new_channel()

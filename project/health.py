"""Health checks for the process manager, the proxy and the rolling restart (deploy/).

``/healthz``: the process answers; nothing else is touched, so a busy database never makes a live
process look dead. ``/readyz``: the process can do its job: the database answers a trivial query
and the channel layer is reachable (Redis answers PING on a connection of the check's own, or the
in-process layer carries a message round trip). 503 names what failed.

Both are plain views behind the usual middleware: none of it reaches the database for a request
without a session cookie, ALLOWED_HOSTS still applies (send the site's Host), and the SSL redirect
exempts them (settings.SECURE_REDIRECT_EXEMPT) so a check straight at a process's socket works.
They are not logged at info level (project.access).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from redis import asyncio as aioredis

logger = logging.getLogger("madang.health")

# A check that takes longer than this counts as failed: a load balancer would rather try elsewhere.
TIMEOUT_SECONDS = 2.0


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    results = {"database": _check(_database), "channel_layer": _check(lambda: async_to_sync(_channel_layer)())}
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(results, status=200 if ready else 503)


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:
        # The detail goes to the log only: /readyz may be reachable from outside.
        logger.warning("readiness check failed: %s", exc)
        return f"failed: {type(exc).__name__}"
    return "ok"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _channel_layer() -> None:
    async with asyncio.timeout(TIMEOUT_SECONDS):
        hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts")
        if hosts:
            for host in hosts:
                await _ping(host)
            return
        # The in-process layer: one message to a private channel and back.
        layer = get_channel_layer()
        if layer is None:
            raise RuntimeError("no channel layer configured")
        channel = await layer.new_channel("readyz.")
        await layer.send(channel, {"type": "readyz"})
        await layer.receive(channel)


async def _ping(host: str | dict[str, object]) -> None:
    url = host if isinstance(host, str) else str(host["address"])
    redis = aioredis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)
    try:
        await redis.ping()
    finally:
        await redis.aclose()

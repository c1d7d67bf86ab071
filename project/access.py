"""The access log, through Python logging (logger ``madang.access``), one line per request or socket.

daphne's own access log (``-v 1``, or ``--access-log``) writes NCSA lines straight to a stream,
past the logging configuration: it can be neither filtered nor written as JSON. Production runs
daphne with ``-v 0`` (deploy/madang@.service) and ``ACCESS_LOG=1``, and this middleware logs
instead: method, path (no query string), status, bytes, duration and client, as extras that
``LOG_FORMAT=json`` keeps as fields. A WebSocket is one line when it ends (status 101 if it was
accepted). Health checks (/healthz, /readyz) are logged at debug level only: a load balancer
asking every few seconds would drown everything else.
"""

from __future__ import annotations

import logging
import time
from typing import Any

logger = logging.getLogger("madang.access")

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})

Scope = dict[str, Any]


class AccessLog:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        level = logging.DEBUG if scope.get("path") in HEALTH_PATHS else logging.INFO
        if scope["type"] not in ("http", "websocket") or not logger.isEnabledFor(level):
            return await self.inner(scope, receive, send)  # off (the default): costs nothing per send
        started = time.monotonic()
        state = {"status": 0, "bytes": 0}

        async def sending(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state["status"] = message["status"]
            elif kind == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            elif kind == "websocket.accept":
                state["status"] = 101
            elif kind == "websocket.close" and not state["status"]:
                state["status"] = 403  # closed before it was accepted: refused
            await send(message)

        try:
            return await self.inner(scope, receive, sending)
        except BaseException:
            state["status"] = state["status"] or 500
            raise
        finally:
            _log(level, scope, state["status"], state["bytes"], time.monotonic() - started)


def _log(level: int, scope: Scope, status: int, size: int, seconds: float) -> None:
    path = scope.get("path", "")
    method = scope.get("method", "WS") if scope["type"] == "http" else "WS"
    client = (scope.get("client") or ("-", 0))[0]
    logger.log(
        level,
        "%s %s %s %dB %.1fms %s",
        *(method, path, status, size, seconds * 1000, client),
        extra={"method": method, "path": path, "status": status, "bytes": size}
        | {"duration_ms": round(seconds * 1000, 1), "client": client},
    )

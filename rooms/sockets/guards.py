"""Who may hold a socket, and how sockets end.

Close codes are chosen for what the htmx ws extension does next: it reconnects (with jittered
backoff) only after 1006, 1011, 1012 and 1013, and daphne's WebSocket library lets an application
send only 1000 and 3000-4999. So:

- a refusal is accept-then-close with a 4xxx code, which the browser does not retry (a refusal
  before accept reaches the browser as 1006, which it would retry forever);
- an end the browser *should* retry (the socket's maximum age, a lost channel layer, a database
  error) is ``RetryableClose``: raised out of the consumer, daphne ends the socket with 1011.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings

from rooms.retry import RetryableClose

__all__ = ["OriginGuard", "RetryableClose", "limits"]

logger = logging.getLogger("rooms.sockets")

CLOSE_REFUSED = 4003  # cross-origin, banned, or over the connection cap
CLOSE_FLOOD = 4008  # kept flooding after being told to slow down
CLOSE_NO_SUCH_ROOM = 4404


def client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client") or ("unknown", 0)
    return str(client[0])


async def refuse(send: Any, code: int) -> None:
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})


def _origin(scope: dict[str, Any]) -> Any:
    parsed = None
    for name, value in scope.get("headers", []):
        if name == b"origin":
            try:
                parsed = urlparse(value.decode("latin1"))
            except UnicodeDecodeError:
                parsed = None
    return parsed


class RefusingOriginValidator(OriginValidator):  # type: ignore[misc]
    """Channels' origin check, refusing with accept-then-close 4003 instead of a handshake 403."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        # This frame stays suspended for the socket's lifetime: it keeps no locals of its own.
        if self.valid_origin(_origin(scope)):
            return await self.application(scope, receive, send)
        logger.warning("refused socket: origin not allowed addr=%s path=%s", client_address(scope), scope.get("path"))
        message = await receive()  # websocket.connect
        if message["type"] == "websocket.connect":
            await refuse(send, CLOSE_REFUSED)
        return None


def OriginGuard(application: Any) -> RefusingOriginValidator:
    """AllowedHostsOriginValidator's allow-list (ALLOWED_HOSTS; localhost in DEBUG if empty)."""
    allowed_hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return RefusingOriginValidator(application, allowed_hosts)


class ConnectionLimits:
    """Open sockets per session and per client address, in this process.

    Counted per process: with N daphne processes behind a balancer the effective cap is up to N
    times the setting. The address is daphne's view of the client (run daphne with
    --proxy-headers behind a proxy, or every client shares the proxy's address).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_session: Counter[str] = Counter()
        self.by_address: Counter[str] = Counter()

    def acquire(self, session_key: str | None, address: str) -> bool:
        with self._lock:
            if session_key and self.by_session[session_key] >= settings.ROOMS_MAX_SOCKETS_PER_SESSION:
                return False
            if self.by_address[address] >= settings.ROOMS_MAX_SOCKETS_PER_ADDRESS:
                return False
            if session_key:
                self.by_session[session_key] += 1
            self.by_address[address] += 1
            return True

    def release(self, session_key: str | None, address: str) -> None:
        with self._lock:
            if session_key:
                self.by_session[session_key] -= 1
                if self.by_session[session_key] <= 0:
                    del self.by_session[session_key]
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]


limits = ConnectionLimits()

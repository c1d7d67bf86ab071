"""Session and user for WebSocket connections, in one step.

What Channels' ``AuthMiddlewareStack`` gives a consumer (``scope["cookies"]``,
``scope["session"]``, ``scope["user"]``, resolved with Channels' own ``get_user``), without its
two costs for a chat socket: a session-saving shim around every ``send`` (it matters only for
HTTP responses, yet ran once per delivered message per socket: about 2 % of the server's CPU
under fan-out, bench/README.md) and two extra copies of the scope kept for the socket's
lifetime. Sockets never modify the session, so nothing needs saving.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.auth import get_user
from django.conf import settings
from django.http.cookie import parse_cookie


class SocketSessionMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        # This frame stays suspended for the socket's lifetime: it keeps no locals of its own.
        return await self.inner(await self.with_session(scope), receive, send)

    async def with_session(self, scope: dict[str, Any]) -> dict[str, Any]:
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin1"))
                break
        session = self.session_store(cookies.get(settings.SESSION_COOKIE_NAME))
        scope = dict(scope, cookies=cookies, session=session)
        scope["user"] = await get_user(scope)  # loads the session in the database thread
        return scope

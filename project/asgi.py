"""ASGI entry point: HTTP through Django, WebSockets through the rooms router.

``get_asgi_application()`` runs first so Django's apps are loaded before the consumers (and the
models they import) are.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from project.access import AccessLog  # noqa: E402
from rooms.sockets.guards import OriginGuard  # noqa: E402
from rooms.sockets.routing import websocket_urlpatterns  # noqa: E402
from rooms.sockets.socketauth import SocketSessionMiddleware  # noqa: E402

# AccessLog: the access log through Python logging (health checks at debug only), see project/access.py.
application = AccessLog(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            # OriginGuard: Channels' AllowedHostsOriginValidator, refusing with accept-then-close 4003.
            # SocketSessionMiddleware: AuthMiddlewareStack's session and user, without its per-send shim.
            "websocket": OriginGuard(SocketSessionMiddleware(URLRouter(websocket_urlpatterns))),
        }
    )
)

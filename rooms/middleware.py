"""Content-Security-Policy: only our own scripts run and sockets go only to our own origin.

Even if some markup slipped through escaping, a browser would refuse to run inline scripts or
event handlers, load scripts from elsewhere, or open a socket to another host. htmx is configured
(meta htmx-config in _base.html) with allowScriptTags and allowEval off for the same reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from rooms import preferences

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(16)  # type: ignore[attr-defined]
        response = self.get_response(request)
        # The admin is Django's own, with inline styles of its own; it is staff-only.
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", POLICY.format(nonce=request.csp_nonce))  # type: ignore[attr-defined]
        return response


class TimeZoneMiddleware:
    """Every time on a page in the reader's zone (rooms.preferences): after LocaleMiddleware,
    whose language picks the default zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = getattr(request, "LANGUAGE_CODE", "")
        with timezone.override(preferences.zone_for(request.session, language)):
            return self.get_response(request)

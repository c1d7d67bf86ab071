from __future__ import annotations

from django.http import HttpRequest

from rooms.identity import author_for_request


def identity(request: HttpRequest) -> dict[str, object]:
    """``viewer``: who is looking (drives the header and the per-viewer "mine" CSS rule), and the
    request's CSP nonce for the one inline <style> we allow."""
    return {"viewer": author_for_request(request), "csp_nonce": getattr(request, "csp_nonce", None)}

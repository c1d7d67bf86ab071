from __future__ import annotations

from django.http import HttpRequest

from rooms.identity import author_for_request
from rooms.preferences import current_theme


def identity(request: HttpRequest) -> dict[str, object]:
    """``viewer``: who is looking (drives the header and the per-viewer "mine" CSS rule), and the
    request's CSP nonce for the one inline <style> we allow, and the chosen colour theme ("" for
    the system's), and ``page_path``: where the header's forms lead back to (views answering for
    another page, and the sockets' rename fragment, pass it themselves)."""
    return {
        "page_path": request.get_full_path(),
        "viewer": author_for_request(request),
        "csp_nonce": getattr(request, "csp_nonce", None),
        "theme": current_theme(request),
    }

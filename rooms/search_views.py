"""HTTP: search (``/search/``) and a message's permalink (``/rooms/<slug>/messages/<seq>/``).

Search is a plain GET form: without JavaScript each search, and each "more", is a page; with htmx
the form asks for the results region only (and pushes the search's address), and "more" for the
next results only. htmx swaps only 2xx answers, so for htmx a refused search (too long, too
often) is a 200 with the sentence in the region; a page answers 400 or 429.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from rooms import search, throttle
from rooms.models import Message, Room
from rooms.views import HtmxHttpRequest, viewer_context


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@require_GET
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def search_page(request: HtmxHttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    slug = request.GET.get("room", "")
    room = get_object_or_404(Room, slug=slug) if slug else None
    before = _number(request.GET.get("before"))
    context: dict[str, object] = {"q": q, "room": room, "page": None, "error_code": "", "error_text": ""}
    status = 200
    if q.strip():
        if not throttle.allow_request("search", request):
            context.update(error_code="rate_limited", error_text=throttle.REFUSALS["search"])
            status = 429
        else:
            try:
                context["page"] = search.find(q, room=room, before=before)
            except search.QueryProblem as problem:
                context.update(error_code=problem.code, error_text=problem.text)
                status = 200 if problem.code == "nothing_to_search" else 400
    # A history restore (back to a pushed search, htmx's history cache being off) needs the page.
    if request.htmx and not request.htmx.history_restore_request:
        more = before is not None and context["page"] is not None
        return render(request, "rooms/_search_items.html" if more else "rooms/_search_results.html", context)
    return render(request, "rooms/search.html", context, status=status)


@require_GET
def permalink(request: HtmxHttpRequest, slug: str, seq: int) -> HttpResponse:
    """The room's history around message ``seq``: PERMALINK_CONTEXT messages before and after,
    "load older" above and "load newer" below; the link's ``#message-<pk>`` marks it
    (``:target``). Like history pages, it marks nothing read."""
    room = get_object_or_404(Room, slug=slug)
    target = Message.objects.in_room(room).filter(seq=seq).first()
    if target is None:
        raise Http404
    around = settings.ROOMS_PERMALINK_CONTEXT
    messages, has_older = Message.objects.in_room(room).page_before(seq + around + 1, 2 * around + 1)
    context = {
        "room": room,
        "target": target,
        "messages": messages,
        "has_older": has_older,
        "has_newer": messages[-1].seq < room.last_seq,
        **viewer_context(request),
    }
    return render(request, "rooms/permalink.html", context)

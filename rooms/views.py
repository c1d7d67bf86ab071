"""HTTP views: the lobby, a room, its history, and posting without JavaScript."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.middleware import HtmxDetails

from rooms import broadcast, fragments, identity, permissions, throttle, unread, writes
from rooms.forms import MessageForm, RoomForm
from rooms.models import Message, Room


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def viewer_context(request: HttpRequest) -> dict[str, object]:
    """What pages with messages need to know about who is looking (rooms/_viewer_style.html)."""
    return {"moderator": permissions.is_moderator(request.user), "palette": settings.ROOMS_REACTION_PALETTE}


@require_GET
def lobby(request: HttpRequest) -> HttpResponse:
    return _lobby(request, RoomForm())


def _lobby(request: HttpRequest, form: RoomForm, status: int = 200) -> HttpResponse:
    rooms = list(Room.objects.listed())
    found = unread.counts(identity.author_for_request(request).key, [room.pk for room in rooms])
    for room in rooms:
        room.unread = found.get(room.pk)
    return render(request, "rooms/lobby.html", {"rooms": rooms, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
def create_room(request: HttpRequest) -> HttpResponse:
    # A refused name leaves /rooms/ in the address bar: reloading it (a GET) goes to the lobby.
    if request.method == "GET":
        return redirect("rooms:lobby")
    form = RoomForm(request.POST)
    if not form.is_valid():
        return _lobby(request, form, status=400)
    name = form.cleaned_data["name"]
    existing = Room.objects.named(name).first()
    if existing is not None:  # entering a room is never limited; creating one is (rooms.throttle)
        return redirect(existing)
    if not throttle.allow_request("room", request):
        form.add_error("name", ValidationError(throttle.REFUSALS["room"], code="rate_limited"))
        return _lobby(request, form, status=429)
    room, _created = writes.get_or_create_room(name)
    return redirect(room)


@require_GET
def room(request: HttpRequest, slug: str) -> HttpResponse:
    room = get_object_or_404(Room, slug=slug)
    return _room(request, room)


def _room(
    request: HttpRequest,
    room: Room,
    *,
    draft: str = "",
    error_code: str = "",
    error_text: str = "",
    status: int = 200,
) -> HttpResponse:
    # The cursor (the room's newest event) is read with the page, so any change after this render
    # is caught up by the socket's resume and nothing in between can be missed or shown twice.
    cursor = room.last_event
    messages, has_older = Message.objects.in_room(room).page_before(room.last_seq + 1, settings.ROOMS_PAGE_SIZE)
    # Opening the room reads it (history pages and message links do not): every lobby of this
    # person, in every tab and process, counts again.
    reader = identity.author_for_request(request).key
    unread.mark_read([reader], room.pk, room.last_seq)
    broadcast.read_moved(room.pk, [reader])
    context = {
        "room": room,
        "messages": messages,
        "has_older": has_older,
        "cursor": cursor,
        "nonce": fragments.new_nonce(),
        "ws_url": f"/ws/rooms/{quote(room.slug)}/",
        "draft": draft,
        "error_code": error_code,
        "error_text": error_text,
        **viewer_context(request),
    }
    return render(request, "rooms/room.html", context, status=status)


@require_http_methods(["GET", "POST"])
def messages(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """GET: a page of history (``?before=<seq>``). POST: post a message without JavaScript."""
    room = get_object_or_404(Room, slug=slug)
    if request.method == "POST":
        return _post_message(request, room)
    return _history(request, room)


def _post_message(request: HttpRequest, room: Room) -> HttpResponse:
    if identity.is_banned(request.session):
        raise PermissionDenied
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _room(
            request,
            room,
            draft=request.POST.get("message", ""),
            error_code=form.error_code(),
            error_text=form.error_text(),
            status=400,
        )
    if not throttle.allow_request("post", request):  # the socket's own limit is rooms.ratelimit
        draft = request.POST.get("message", "")
        return _room(
            request, room, draft=draft, error_code="rate_limited", error_text=throttle.REFUSALS["post"], status=429
        )
    author = identity.author_for_request(request)
    writes.post_message(room.pk, author, form.cleaned_data["message"], form.cleaned_data["nonce"])
    return redirect(room)


def _history(request: HtmxHttpRequest, room: Room) -> HttpResponse:
    """The page of messages before ``?before=<seq>``: a fragment for htmx, a page otherwise."""
    if "after" in request.GET:
        return _newer(request, room)
    try:
        before = int(request.GET.get("before", ""))
    except ValueError:
        before = room.last_seq + 1
    page, has_older = Message.objects.in_room(room).page_before(max(before, 0), settings.ROOMS_PAGE_SIZE)
    context = {"room": room, "messages": page, "has_older": has_older, **viewer_context(request)}
    if request.htmx:  # the page's socket rechecks what changed since this read (rooms/_history.html)
        context["since"] = room.last_event
    template = "rooms/_history.html" if request.htmx else "rooms/history_page.html"
    return render(request, template, context)


def _newer(request: HtmxHttpRequest, room: Room) -> HttpResponse:
    """The messages after ``?after=<seq>`` and the next "load newer" (below a permalink,
    rooms.search_views): a fragment for htmx, a page otherwise."""
    try:
        after = max(int(request.GET.get("after", "")), 0)
    except ValueError:
        after = 0
    page, has_newer = Message.objects.in_room(room).page_after(after, settings.ROOMS_PAGE_SIZE)
    has_older = bool(page) and page[0].seq > 1
    context = {
        "room": room,
        "messages": page,
        "has_older": has_older,
        "has_newer": has_newer,
        **viewer_context(request),
    }
    template = "rooms/_history_newer.html" if request.htmx else "rooms/permalink.html"
    return render(request, template, context)

"""HTTP views: the lobby, a room, and the no-JavaScript paths that write."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from rooms import broadcast, fragments, identity, permissions, unread, writes
from rooms.forms import DisplayNameForm, MessageForm, RoomForm, SignupForm
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
    room, _created = writes.get_or_create_room(form.cleaned_data["name"])
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


@require_POST
def display_name(request: HtmxHttpRequest) -> HttpResponse:
    """A guest's new name. Like any change, every open socket of that person (each tab, in every
    process) takes it at once (``broadcast.author_renamed``). With htmx the answer is the header's
    identity area (no reload: drafts and scroll stay); without, a redirect back."""
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = "/"
    form = DisplayNameForm(request.POST)
    if not form.is_valid():
        if request.htmx:  # htmx swaps only 2xx answers: the error goes inside the identity area
            context = {"page_path": next_url, "name_error": form.errors["display_name"][0]}
            return render(request, "_identity.html", context)
        return render(request, "rooms/display_name.html", {"form": form, "next": next_url}, status=400)
    name = form.cleaned_data["display_name"]
    identity.set_guest_name(request.session, name)
    request.session.save()  # stored before anyone is told: a socket opened after the event reads it
    broadcast.author_renamed(identity.author_for_request(request).key, name)
    if request.htmx:
        return render(request, "_identity.html", {"page_path": next_url})
    return HttpResponseRedirect(next_url)


def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user)
            return redirect(settings.LOGIN_REDIRECT_URL)
        status = 400
    else:
        form, status = SignupForm(), 200
    return render(request, "registration/signup.html", {"form": form}, status=status)

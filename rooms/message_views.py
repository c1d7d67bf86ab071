"""HTTP views that change one message: edit, delete, react.

Each answers htmx with a fragment for the message's editor slot (#message-<pk>-editor), and once
the change is stored with nothing, which closes the slot: the message itself changes on every
page, this one too, through the broadcast. (Answering the new state here as well would race it:
a reaction from someone else that reached the page first would be overwritten by this older
state.) Without JavaScript: a page, then a redirect back to the message. Someone else's message
is 403, a message that is gone 404. ``?cancel`` on a GET (htmx) answers nothing: the slot closes.
Past the change rate (rooms.throttle) the form comes back as it was sent, saying so: 429 as a
page, in the slot for htmx; nothing is changed.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from rooms import identity, permissions, throttle, writes
from rooms.forms import ConfirmForm, MessageForm, ReactionForm
from rooms.models import Message
from rooms.views import HtmxHttpRequest, viewer_context


def _message(request: HtmxHttpRequest, slug: str, pk: int, *, own: bool) -> Message:
    message = get_object_or_404(Message.objects.select_related("room"), pk=pk, room__slug=slug)
    if message.gone:
        raise Http404
    if identity.is_banned(request.session):
        raise PermissionDenied
    if own and not permissions.may_change(message, identity.author_for_request(request), request.user):
        raise PermissionDenied
    return message


def _done(request: HtmxHttpRequest, message: Message) -> HttpResponse:
    """After a change (or a cancel): htmx gets an empty slot; a plain form goes back to the room."""
    if request.htmx:
        return HttpResponse("")
    return HttpResponseRedirect(f"{message.room.get_absolute_url()}#message-{message.pk}")


def _cancelled(request: HtmxHttpRequest) -> bool:
    return request.method == "GET" and bool(request.htmx) and "cancel" in request.GET


def _too_often(
    request: HtmxHttpRequest, message: Message, action: str, form: MessageForm | ReactionForm | ConfirmForm
) -> HttpResponse | None:
    """Counts this change; past the rate, the form again (what was sent kept) with the refusal."""
    if throttle.allow_request("change", request):
        return None
    form.add_error(None, ValidationError(throttle.REFUSALS["change"], code="rate_limited"))
    return _form_response(request, message, action, form, status=429)


def _form_response(
    request: HtmxHttpRequest, message: Message, action: str, form: object, *, status: int = 200
) -> HttpResponse:
    """The form for ``action`` ("edit", "delete", "react"): in the editor slot, or a page."""
    context = {"message": message, "room": message.room, "form": form, "action": action, **viewer_context(request)}
    if request.htmx:
        # htmx swaps only 2xx answers: a refused form is still a 200 here, its error inside.
        return render(request, f"rooms/_{action}_form.html", {**context, "in_slot": True})
    return render(request, "rooms/message_action.html", context, status=status)


@require_http_methods(["GET", "POST"])
def edit(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    message = _message(request, slug, pk, own=True)
    if _cancelled(request):
        return _done(request, message)
    if request.method == "GET":
        return _form_response(request, message, "edit", MessageForm(initial={"message": message.text}))
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _form_response(request, message, "edit", form, status=400)
    if refused := _too_often(request, message, "edit", form):
        return refused
    writes.edit_message(message, form.cleaned_data["message"])
    return _done(request, message)


@require_http_methods(["GET", "POST"])
def delete(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    message = _message(request, slug, pk, own=True)
    if _cancelled(request):
        return _done(request, message)
    if request.method == "GET":
        return _form_response(request, message, "delete", ConfirmForm())
    if refused := _too_often(request, message, "delete", ConfirmForm({})):
        return refused
    writes.delete_messages([message])
    return _done(request, message)


@require_http_methods(["GET", "POST"])
def reactions(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    message = _message(request, slug, pk, own=False)
    if _cancelled(request):
        return _done(request, message)
    if request.method == "GET":
        return _form_response(request, message, "react", ReactionForm(initial=request.GET))
    form = ReactionForm(request.POST)
    if not form.is_valid():
        return _form_response(request, message, "react", form, status=400)
    if refused := _too_often(request, message, "react", form):
        return refused
    try:
        writes.toggle_reaction(message, identity.author_for_request(request), form.cleaned_data["emoji"])
    except writes.TooManyReactions:
        form.add_error("emoji", writes.TooManyReactions.message)
        return _form_response(request, message, "react", form, status=400)
    except Message.DoesNotExist:
        raise Http404 from None
    return _done(request, message)

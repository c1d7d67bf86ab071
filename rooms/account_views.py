"""HTTP views of who someone is: a guest's display name, signing up and logging in (Django's view,
with attempts limited: rooms.throttle)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from rooms import broadcast, identity, throttle
from rooms.forms import DisplayNameForm, SignupForm
from rooms.views import HtmxHttpRequest


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
            draft = request.POST.get("display_name", "")[:1000]
            context = {"page_path": next_url, "name_error": form.errors["display_name"][0], "name_draft": draft}
            return render(request, "_identity.html", context)
        return render(request, "rooms/display_name.html", {"form": form, "next": next_url}, status=400)
    name = form.cleaned_data["display_name"]
    if not throttle.allow_request("name", request):  # each new name is a broadcast to every process
        refusal = throttle.REFUSALS["name"]
        if request.htmx:  # what was typed stays in the field
            context = {"page_path": next_url, "name_error": refusal, "name_draft": name}
            return render(request, "_identity.html", context)
        form.add_error("display_name", ValidationError(refusal, code="rate_limited"))
        return render(request, "rooms/display_name.html", {"form": form, "next": next_url}, status=429)
    identity.set_guest_name(request.session, name)
    request.session.save()  # stored before anyone is told: a socket opened after the event reads it
    broadcast.author_renamed(identity.author_for_request(request).key, name)
    if request.htmx:
        return render(request, "_identity.html", {"page_path": next_url})
    return HttpResponseRedirect(next_url)


class LoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if throttle.allow_request("account", request):
            return super().post(request, *args, **kwargs)
        form = _refused(self.get_form_class()(request, initial=_username(request)))
        return self.render_to_response(self.get_context_data(form=form), status=429)


def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not throttle.allow_request("account", request):
            form = _refused(SignupForm(initial=_username(request)))
            return render(request, "registration/signup.html", {"form": form}, status=429)
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user)
            return redirect(settings.LOGIN_REDIRECT_URL)
        status = 400
    else:
        form, status = SignupForm(), 200
    return render(request, "registration/signup.html", {"form": form}, status=status)


def _username(request: HttpRequest) -> dict[str, str]:
    return {"username": request.POST.get("username", "")[:150]}


def _refused(form: BaseForm) -> BaseForm:
    """An attempt past the rate: the form, unbound, saying so. Nothing sent is checked: a refused
    log-in must not tell a right password from a wrong one (or cost a password hash)."""
    form.cleaned_data = {}
    form.add_error(None, ValidationError(throttle.REFUSALS["account"], code="rate_limited"))
    return form

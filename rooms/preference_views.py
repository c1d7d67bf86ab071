"""The reader's time zone and theme: plain forms (no script) that keep the choice and go back."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from rooms import preferences, variants


def _zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in sorted(variants.known_zones())]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False, choices=())

    def __init__(self, *args: object, language: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        automatic = _("Automatic (%(zone)s)") % {"zone": variants.default_zone(language)}
        self.fields["time_zone"].choices = [("", automatic), *_zone_choices()]  # type: ignore[attr-defined]


def _next_url(request: HttpRequest) -> str:
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return "/"
    return next_url


@require_http_methods(["GET", "POST"])
def time_zone(request: HttpRequest) -> HttpResponse:
    language = getattr(request, "LANGUAGE_CODE", "")
    if request.method == "POST":
        form = TimeZoneForm(request.POST, language=language)
        if form.is_valid():
            preferences.set_zone(request.session, request.user, form.cleaned_data["time_zone"])
            return HttpResponseRedirect(_next_url(request))
        status = 400
    else:
        form = TimeZoneForm(initial={"time_zone": preferences.chosen_zone(request.session)}, language=language)
        status = 200
    context = {"form": form, "next": _next_url(request), "now": timezone.localtime()}
    return render(request, "rooms/time_zone.html", context, status=status)


@require_POST
def theme(request: HttpRequest) -> HttpResponse:
    """The header's theme buttons (auto, light, dark): back to the page they were on."""
    choice = request.POST.get("theme", "")
    if choice not in (*preferences.THEMES, "auto"):
        return HttpResponseBadRequest("Choose auto, light or dark.", content_type="text/plain; charset=utf-8")
    preferences.set_theme(request.session, choice)
    return HttpResponseRedirect(_next_url(request))

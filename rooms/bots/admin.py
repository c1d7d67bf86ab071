"""Bots in the Django admin: create one (its account comes with it), choose its rooms and webhook,
issue a new token. A token is shown once, in the message after the save that made it; only its
hash is kept, so a lost token is replaced, never shown again."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rooms.bots import tokens
from rooms.models import Bot

# What rooms.mentions reads as a name after "@": a username it cannot read is no mention.
MENTIONABLE = re.compile(r"[\w.+-]*[\w+-]")


def _https_by_default(field: models.Field, **kwargs: Any) -> forms.Field | None:
    # Django 6's default for an address typed without a scheme; silences its deprecation warning.
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class BotForm(forms.ModelForm):
    username = forms.CharField(
        label=_("username"),
        max_length=150,
        help_text=_("Its name in mentions: @username. Letters, digits and . + - _"),
    )

    class Meta:
        model = Bot
        fields = ["name", "is_active", "rooms", "webhook_url"]
        formfield_callback = _https_by_default

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # the account exists: its name is fixed (stored mentions name it)
            del self.fields["username"]

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if not MENTIONABLE.fullmatch(username):
            raise forms.ValidationError(_("Use letters, digits and . + - _ only, not ending in a dot."))
        if get_user_model()._default_manager.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("An account with that username already exists."))
        return username


def _show_token(request: HttpRequest, bot: Bot, token: str) -> None:
    text = gettext("The token of %(bot)s is %(token)s . Copy it now: it will not be shown again.")
    messages.warning(request, text % {"bot": bot, "token": token})


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    form = BotForm
    list_display = ["name", "user", "is_active", "webhook_url", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "user__username"]
    filter_horizontal = ["rooms"]
    readonly_fields = ["user", "token_id", "webhook_secret", "created_at"]
    actions = ["new_token", "new_webhook_secret"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_fields(self, request: HttpRequest, obj: Bot | None = None) -> list[str]:
        editable = ["name", "is_active", "rooms", "webhook_url"]
        return (
            ["username", *editable] if obj is None else ["user", *editable, "token_id", "webhook_secret", "created_at"]
        )

    def save_model(self, request: HttpRequest, obj: Bot, form: BotForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token = tokens.prepare(obj, form.cleaned_data["username"])
        super().save_model(request, obj, form, change)
        _show_token(request, obj, token)

    @admin.action(description=_("Issue a new token (the old one stops working)"))
    def new_token(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            token = tokens.issue(bot)
            bot.save(update_fields=["token_id", "token_hash"])
            _show_token(request, bot, token)

    @admin.action(description=_("Generate a new webhook secret"))
    def new_webhook_secret(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            bot.webhook_secret = tokens.new_webhook_secret()
            bot.save(update_fields=["webhook_secret"])
        self.message_user(request, gettext("New secrets are on each bot's page."))

    def delete_model(self, request: HttpRequest, obj: Bot) -> None:
        obj.user.delete()  # the account goes with the bot (and the bot with it, on cascade)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        get_user_model()._default_manager.filter(madang_bot__in=queryset).delete()

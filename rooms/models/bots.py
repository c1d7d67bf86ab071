"""Bots: programs that post over HTTP (rooms.bots.api) and hear their mentions (rooms.bots.webhooks).

A bot is its own row linked one-to-one to a Django account it owns. The account is what makes
``@botname`` a mention like any other (rooms.mentions looks up active accounts); it has no usable
password, so nobody signs in as it. The bot's messages carry the author key ``b-<bot pk>``: never
equal to an account's ``u-`` or a guest's ``g-`` key, and what tells, with no query, that a
message was written by a bot (so it triggers no webhook at all: no loops).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from rooms.identity import Author
from rooms.models.rooms import Room


class BotQuerySet(models.QuerySet["Bot"]):
    def active(self) -> BotQuerySet:
        return self.filter(is_active=True)

    def with_webhook(self) -> BotQuerySet:
        return self.active().exclude(webhook_url="")


class Bot(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="madang_bot",
        editable=False,
        verbose_name=_("account"),
    )
    name = models.CharField(_("display name"), max_length=32, help_text=_("Shown as the author of its messages."))
    is_active = models.BooleanField(_("active"), default=True)
    rooms = models.ManyToManyField(
        "rooms.Room",
        blank=True,
        related_name="bots",
        verbose_name=_("rooms"),
        help_text=_("The rooms it may post in and hear mentions from. None selected: every room."),
    )
    # The token is "mdb_<token_id>_<secret>": the id finds the row, the SHA-256 of the whole token
    # is compared in constant time (rooms.bots.tokens). The token itself is never stored.
    token_id = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    webhook_url = models.URLField(
        _("webhook URL"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        blank=True,
        default="",
        help_text=_("Receives a signed JSON POST when someone mentions the bot. Empty: no webhook."),
    )
    # Signs each delivery (HMAC-SHA256); the receiver holds a copy, so it is kept as it is.
    webhook_secret = models.CharField(_("webhook secret"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = BotQuerySet.as_manager()

    class Meta:
        verbose_name = _("bot")
        verbose_name_plural = _("bots")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # An inactive bot is not mentionable either: rooms.mentions looks up active accounts only.
        if self.user.is_active != self.is_active:
            self.user.is_active = self.is_active
            self.user.save(update_fields=["is_active"])

    @property
    def author_key(self) -> str:
        return f"b-{self.pk}"

    @property
    def author(self) -> Author:
        return Author(key=self.author_key, name=self.name, user_id=self.user_id)

    def may_post_in(self, room: Room) -> bool:
        """No rooms chosen means every room."""
        chosen = self.rooms.values_list("pk", flat=True)
        return not chosen.exists() or chosen.filter(pk=room.pk).exists()

"""What is kept per person: an account's preferences, and how far each person has read each room."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Preference(models.Model):
    """An account's own settings, kept across sessions (rooms.preferences)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="madang_preference")
    # An IANA zone name ("Asia/Seoul"), or "" for the default of the reader's language.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("preference")
        verbose_name_plural = _("preferences")

    def __str__(self) -> str:
        return f"{self.user} {self.time_zone or '-'}"


class ReadPosition(models.Model):
    """How far one person (an author key: accounts and guests alike) has read in one room: every
    message up to ``seq``. Unread counts are computed from it and the stream (rooms.unread), never
    kept: a counter would drift with every deletion and hide."""

    key = models.CharField(max_length=40)
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="read_positions")
    seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "room"], name="read_position_once")]

    def __str__(self) -> str:
        return f"{self.key} read {self.room_id} to {self.seq}"

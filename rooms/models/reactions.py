"""Reactions: one person's emoji on one message."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReactionSummary:
    """One emoji on one message: its count, the reactors' names (for the title) and keys (for
    the per-viewer "mine" rule, ``[data-reactors~="<key>"]``)."""

    def __init__(self, emoji: str, reactions: list[Reaction]) -> None:
        self.emoji = emoji
        self.count = len(reactions)
        self.names = ", ".join(r.reactor_name for r in reactions)
        self.keys = " ".join(r.reactor_key for r in reactions)


class Reaction(models.Model):
    """One person's emoji on one message; choosing it again takes it back (``writes.toggle_reaction``)."""

    message = models.ForeignKey("rooms.Message", on_delete=models.CASCADE, related_name="reactions")
    emoji = models.CharField(max_length=16)
    # Who reacted, as Message.author_key / author_name are for the author.
    reactor_key = models.CharField(max_length=40)
    reactor_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        constraints = [
            models.UniqueConstraint(fields=["message", "emoji", "reactor_key"], name="reaction_once_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} {self.reactor_name} on {self.message_id}"

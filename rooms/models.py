"""Rooms and their messages.

A room's messages are numbered by ``seq``: 1, 2, 3... with no gaps, assigned under the room's row
lock in the transaction that saves the message. Commit order is therefore seq order, which is what
lets every socket resume from a cursor and detect a missed broadcast as a jump in seq.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RoomQuerySet(models.QuerySet["Room"]):
    def listed(self) -> RoomQuerySet:
        """Rooms as the lobby shows them: most recent activity first."""
        return self.order_by("-last_activity_at", "-pk")

    def named(self, name: str) -> RoomQuerySet:
        """The room whose name equals ``name`` ignoring case (names are stored NFC-normalised)."""
        return self.filter(name_key=name.casefold())


class Room(models.Model):
    name = models.CharField(_("name"), max_length=64)
    # The case-folded name: "the same name" means equal after str.casefold().
    name_key = models.CharField(max_length=256, unique=True, editable=False)
    slug = models.SlugField(_("slug"), max_length=80, unique=True, allow_unicode=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now, db_index=True)
    # The seq of the newest message; also the number of messages ever posted in the room.
    last_seq = models.PositiveBigIntegerField(_("messages"), default=0)

    objects = RoomQuerySet.as_manager()

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.name_key = self.name.casefold()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("rooms:room", kwargs={"slug": self.slug})

    @property
    def group_name(self) -> str:
        # From the primary key, never the name: the channel layer accepts only short ASCII names.
        return f"room-{self.pk}"


class MessageQuerySet(models.QuerySet["Message"]):
    def visible(self) -> MessageQuerySet:
        return self.filter(hidden=False)

    def in_room(self, room: Room | int) -> MessageQuerySet:
        return self.filter(room=room)

    def sent_with_nonce(self, author_key: str, nonce: str) -> MessageQuerySet:
        """What ``author_key`` sent with ``nonce`` (at most one message per room: a resend).

        The ``nonce != ""`` term repeats the condition of the partial unique index, which is what
        lets SQLite search that index: without it, it walks every message of the room.
        """
        return self.filter(author_key=author_key, nonce=nonce).exclude(nonce="")

    def page_before(self, before_seq: int, size: int) -> tuple[list[Message], bool]:
        """Up to ``size`` visible messages with seq < ``before_seq``, oldest first, and whether
        there are older ones still (one extra row is fetched to know, instead of a COUNT)."""
        newest_first = list(self.visible().filter(seq__lt=before_seq).order_by("-seq")[: size + 1])
        return list(reversed(newest_first[:size])), len(newest_first) > size

    def between(self, after_seq: int, up_to_seq: int) -> MessageQuerySet:
        """Visible messages with ``after_seq`` < seq <= ``up_to_seq``, in seq order."""
        return self.visible().filter(seq__gt=after_seq, seq__lte=up_to_seq).order_by("seq")


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages", verbose_name=_("room"))
    seq = models.PositiveBigIntegerField(_("sequence number"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_messages",
        verbose_name=_("account"),
    )
    # The name shown with the message, as it was when it was posted (guests have no account).
    author_name = models.CharField(_("author"), max_length=150)
    # Who posted it, as "u-<user pk>" or "g-<random id kept in the guest's session>": drives the
    # per-viewer "mine" styling and scopes send nonces. Never derived from anything a user typed.
    author_key = models.CharField(max_length=40, db_index=True)
    text = models.TextField(_("text"))
    # The composer's one-time token: a replayed or double-submitted send stores once.
    nonce = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(_("posted"), default=timezone.now)
    hidden = models.BooleanField(_("hidden"), default=False)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_seq_unique_in_room"),
            models.UniqueConstraint(
                fields=["room", "author_key", "nonce"],
                condition=~models.Q(nonce=""),
                name="message_nonce_unique_per_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room} #{self.seq}"

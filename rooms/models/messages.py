"""Messages: what was said in a room, in seq order, with the stream's event numbers (rooms.models)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rooms.models.reactions import Reaction, ReactionSummary
from rooms.models.rooms import Room


class MessageQuerySet(models.QuerySet["Message"]):
    def visible(self) -> MessageQuerySet:
        """Messages people may read: neither hidden by a moderator nor deleted."""
        return self.filter(hidden=False, deleted_at__isnull=True)

    def for_display(self) -> MessageQuerySet:
        """With what a message fragment shows, in as few queries as a page allows."""
        return self.prefetch_related("reactions")

    def changed_since(self, event: int) -> MessageQuerySet:
        """Messages whose latest change came after ``event``, oldest change first: what a page at
        cursor ``event`` is missing. Ordered by event so a slice reads only that many rows of the
        (room, event) index (in posting order a stale cursor would sort the whole room first)."""
        return self.filter(event__gt=event).order_by("event")

    def in_room(self, room: Room | int) -> MessageQuerySet:
        return self.filter(room=room)

    def sent_with_nonce(self, author_key: str, nonce: str) -> MessageQuerySet:
        """What ``author_key`` sent with ``nonce`` (at most one message per room: a resend).

        The ``nonce != ""`` term repeats the condition of the partial unique index, which is what
        lets SQLite search that index: without it, it walks every message of the room.
        """
        return self.filter(author_key=author_key, nonce=nonce).exclude(nonce="")

    def page_before(self, before_seq: int, size: int) -> tuple[list[Message], bool]:
        """Up to ``size`` messages with seq < ``before_seq``, oldest first, and whether there are
        older ones still (one extra row is fetched to know, instead of a COUNT).

        Hidden and deleted messages are included: the page shows them as empty placeholders, so
        its seqs stay gap-free and a later change (an unhide) has an element to land in."""
        newest_first = list(self.for_display().filter(seq__lt=before_seq).order_by("-seq")[: size + 1])
        page = list(reversed(newest_first[:size]))
        # The extra row is also the one just before the page: where the page's first day starts.
        with_previous_times(page, newest_first[size].created_at if len(newest_first) > size else None)
        return page, len(newest_first) > size

    def page_after(self, after_seq: int, size: int) -> tuple[list[Message], bool]:
        """Up to ``size`` messages with seq > ``after_seq``, oldest first, and whether there are
        newer ones still: "load newer" below a permalink. Placeholders included, as above."""
        rows = list(self.for_display().filter(seq__gt=after_seq).order_by("seq")[: size + 1])
        page = rows[:size]
        if page:
            with_previous_times(page, self.time_before(page[0].seq))
        return page, len(rows) > size

    def time_before(self, seq: int) -> datetime.datetime | None:
        """When the message before ``seq`` was posted (None before the room's first)."""
        return self.filter(seq=seq - 1).values_list("created_at", flat=True).first()


class Message(models.Model):
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="messages", verbose_name=_("room"))
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
    # The accounts the text mentions, decided when it was written (rooms.mentions): "u-4:bob u-9:alice".
    mentions = models.TextField(_("mentions"), blank=True, default="")
    # The composer's one-time token: a replayed or double-submitted send stores once.
    nonce = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(_("posted"), default=timezone.now)
    hidden = models.BooleanField(_("hidden"), default=False)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)
    # A deleted message stays as a tombstone (its text erased) so the deletion can be replayed to
    # a page that was away, and its seq is never reused.
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)
    # The room event that posted it, and the room event of its latest change (rooms.models docstring).
    posted_event = models.PositiveBigIntegerField(default=0)
    event = models.PositiveBigIntegerField(default=0)

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
        indexes = [models.Index(fields=["room", "event"], name="message_room_event")]

    # ``previous_at`` (set by whoever reads messages for a page or a frame, never stored): when
    # the message before this one in the room was posted, None for the room's first. Without it
    # (a message shown on its own) no day separator is drawn.
    UNKNOWN = object()
    previous_at: datetime.datetime | object | None = UNKNOWN

    def __str__(self) -> str:
        return f"{self.room} #{self.seq}"

    @property
    def starts_day(self) -> bool:
        """Whether a day separator goes before this message: its date differs from the previous
        message's in the active time zone (the variant being rendered, rooms.variants). Hidden and
        deleted messages count too, so deleting the first message of a day keeps the separator."""
        if self.previous_at is Message.UNKNOWN:
            return False
        return self.previous_at is None or timezone.localdate(self.previous_at) != timezone.localdate(self.created_at)

    @property
    def days_ago(self) -> int:
        """How many days before today (both in the active time zone) it was posted."""
        return (timezone.localdate() - timezone.localdate(self.created_at)).days

    @property
    def mention_keys(self) -> str:
        """The mentioned accounts' keys, space-separated (``data-mentions``, matched with ``~=``)."""
        return " ".join(item.partition(":")[0] for item in self.mentions.split())

    @property
    def gone(self) -> bool:
        """Hidden or deleted: the page shows an empty placeholder in its place."""
        return self.hidden or self.deleted_at is not None

    def known_to_have_no_reactions(self) -> Message:
        """Tell the fragment a new (or sample) message has no reactions, so rendering it costs
        no query."""
        none = Reaction.objects.none()
        none._result_cache, none._prefetch_done = [], True  # as prefetch_related leaves it: no SQL compiled
        self._prefetched_objects_cache = {"reactions": none}
        return self

    def reaction_summary(self) -> list[ReactionSummary]:
        """Each emoji with who chose it, in the order the emoji were first chosen (uses the
        prefetched ``reactions`` when there are any)."""
        groups: dict[str, list[Reaction]] = {}
        for reaction in sorted(self.reactions.all(), key=lambda r: (r.created_at, r.pk)):
            groups.setdefault(reaction.emoji, []).append(reaction)
        return [ReactionSummary(emoji, group) for emoji, group in groups.items()]


def with_previous_times(messages: list[Message], before_first: datetime.datetime | None) -> list[Message]:
    """Set ``previous_at`` on consecutive messages (in seq order), the first one's from
    ``before_first``: what each needs to know whether it starts a day."""
    previous = before_first
    for message in messages:
        message.previous_at = previous
        previous = message.created_at
    return messages

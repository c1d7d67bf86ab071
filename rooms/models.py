"""Rooms, their messages and reactions, and the room's one ordered stream of changes.

Two numbers, both assigned under the room's row lock in the transaction that makes the change, so
commit order is number order:

- ``Message.seq``: the message's place in the room, 1, 2, 3... with no gaps, given when it is
  posted and never reused (a deleted message keeps its row as a tombstone and its seq).
- ``Room.last_event``: the room's stream. Every change others see (a post, an edit, a deletion,
  a hide or unhide, a reaction) takes the next event number, and the message it changed records
  it in ``Message.event``. A page's cursor is an event number: "I show every change up to N".
  What a page missed since N is then one query, ``changed_since(N)``: the *current state* of each
  message changed after N, so ten edits of one message replay as one replacement.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
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
    # The number of the room's newest event (rooms.models docstring): what a fresh page's cursor is.
    last_event = models.PositiveBigIntegerField(_("events"), default=0)

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

    @cached_property
    def messages_url(self) -> str:
        """``/rooms/<slug>/messages/``: every message's own URLs start here. Reversed once per
        room object, not once per link: a message fragment has four (bench/README.md)."""
        return reverse("rooms:messages", kwargs={"slug": self.slug})

    @property
    def group_name(self) -> str:
        # From the primary key, never the name: the channel layer accepts only short ASCII names.
        return f"room-{self.pk}"


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
        return list(reversed(newest_first[:size])), len(newest_first) > size


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

    def __str__(self) -> str:
        return f"{self.room} #{self.seq}"

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

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
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

"""Rooms: where people talk, and the room's stream numbers (rooms.models)."""

from __future__ import annotations

from django.db import connections, models
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


class RoomQuerySet(models.QuerySet["Room"]):
    def listed(self) -> RoomQuerySet:
        """Rooms as the lobby shows them: most recent activity first."""
        return self.order_by("-last_activity_at", "-pk")

    def store_counters(self, room: Room) -> None:
        """Write a room's stream counters (``last_seq``, ``last_event``, ``last_activity_at``)
        after posts, in one UPDATE. Written as SQL: the ORM's ``filter().update()`` spent more
        on cloning its query than the database spent on the statement, a tenth of a post's CPU
        on the hot path (bench/README.md, "The write path")."""
        connection = connections[self.db]
        fields = [Room._meta.get_field(name) for name in ("last_seq", "last_event", "last_activity_at")]
        columns = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields)
        table, pk = connection.ops.quote_name(Room._meta.db_table), connection.ops.quote_name(Room._meta.pk.column)
        values = [field.get_db_prep_save(getattr(room, field.attname), connection) for field in fields]
        with connection.cursor() as cursor:
            # Names from the model, quoted by the backend; every value a parameter.
            cursor.execute(f"UPDATE {table} SET {columns} WHERE {pk} = %s", [*values, room.pk])  # noqa: S608

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

    # What a lobby row shows beside the stored fields, set only where it is known for the reader
    # (rooms/_room_row.html). Defaults on the class: a template's lookup of a missing attribute
    # costs a dir() of the whole model, a third of a live row's render.
    here: int | None = None
    unread: object | None = None

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

"""Creating a room (or finding the one of that name)."""

from __future__ import annotations

from functools import partial

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from rooms import broadcast
from rooms.models import Room


def _free_slug(name: str) -> str:
    base = slugify(name, allow_unicode=True)[:70].strip("-") or "room"
    slug, n = base, 1
    while Room.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def get_or_create_room(name: str) -> tuple[Room, bool]:
    """The room called ``name`` (ignoring case), created if there is none yet.

    ``name`` must already be cleaned (``RoomForm``). Two people creating the same name at once
    both end up in one room: the unique name key decides, and the loser reads the winner's row.
    """
    for _attempt in range(5):
        existing = Room.objects.named(name).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                room = Room.objects.create(name=name, slug=_free_slug(name))
                transaction.on_commit(partial(broadcast.room_changed, room, created=True), robust=True)
            return room, True
        except IntegrityError:
            continue  # lost a race for the name or the slug: look again
    raise RuntimeError("could not create a room after repeated conflicts")

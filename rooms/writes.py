"""Every write that other people see: creating a room and posting a message.

Both HTTP views and the WebSocket consumer call these, so there is one order of events for all
of them: validate (the caller did, with the forms), save under the room's row lock, and broadcast
only after the transaction commits. The database is the source of truth; a broadcast that the
channel layer drops is repaired from it by the consumers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from rooms import broadcast
from rooms.identity import Author
from rooms.models import Message, Room


@dataclass(frozen=True)
class Posted:
    message: Message
    created: bool  # False when the nonce matched an earlier send: nothing new was stored


def post_message(room_id: int, author: Author, text: str, nonce: str = "") -> Posted:
    """Store ``text`` as the room's next message and broadcast it once the transaction commits.

    ``text`` must already be validated (``MessageForm``). A non-empty ``nonce`` makes the send
    idempotent per author: a replay returns the message the first send stored.
    """
    with transaction.atomic():
        # The row lock serialises writers per room, so seq order is commit order.
        room = Room.objects.select_for_update().get(pk=room_id)
        now = timezone.now()
        try:
            # Insert first: a resend is rare, and the unique (room, author, nonce) index finds it
            # as part of the insert, where a lookup before every insert cost each post a query.
            with transaction.atomic():
                message = Message.objects.create(
                    room=room,
                    seq=room.last_seq + 1,
                    author_id=author.user_id,
                    author_name=author.name,
                    author_key=author.key,
                    text=text,
                    nonce=nonce,
                    created_at=now,
                )
        except IntegrityError:
            # sent_with_nonce finds nothing for an empty nonce: then this was no resend.
            earlier = Message.objects.in_room(room).sent_with_nonce(author.key, nonce).first()
            if earlier is None:
                raise
            return Posted(earlier, created=False)
        room.last_seq = message.seq
        room.last_activity_at = now
        room.save(update_fields=["last_seq", "last_activity_at"])  # message.room is this object
        transaction.on_commit(partial(broadcast.message_posted, message), robust=True)
    return Posted(message, created=True)


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


def hide_messages(messages: Iterable[Message], *, hidden: bool = True) -> int:
    """Hide (or show again) messages: hidden ones leave every open page now and every page,
    catch-up and "load older" from then on. Showing one again takes effect on the next load."""
    changed = 0
    for message in messages:
        if message.hidden == hidden:
            continue
        Message.objects.filter(pk=message.pk).update(hidden=hidden)
        changed += 1
        if hidden:
            transaction.on_commit(partial(broadcast.message_removed, message.room, message.pk), robust=True)
    return changed


def delete_messages(messages: Iterable[Message]) -> int:
    """Delete messages for good, removing them from every open page. Seqs are never reused."""
    removed = [(message.room, message.pk) for message in messages]
    Message.objects.filter(pk__in=[pk for _room, pk in removed]).delete()
    for room, pk in removed:
        transaction.on_commit(partial(broadcast.message_removed, room, pk), robust=True)
    return len(removed)

"""Posting a message: the hot path of the whole chat, so it costs one row lock, one insert and
one room update, and its broadcast is rendered once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from rooms import broadcast, mentions
from rooms.identity import Author
from rooms.models import Message
from rooms.writes.stream import locked_room, next_event


@dataclass(frozen=True)
class Posted:
    message: Message
    created: bool  # False when the nonce matched an earlier send: nothing new was stored


def post_message(room_id: int, author: Author, text: str, nonce: str = "") -> Posted:
    """Store ``text`` as the room's next message and broadcast it once the transaction commits.

    ``text`` must already be validated (``MessageForm``). A non-empty ``nonce`` makes the send
    idempotent per author: a replay returns the message the first send stored.
    """
    mentioned = mentions.stored(mentions.find(text, author.key))  # before the lock: no query inside it
    with transaction.atomic():
        room = locked_room(room_id)
        now = timezone.now()
        event = room.last_event + 1
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
                    mentions=mentioned,
                    nonce=nonce,
                    created_at=now,
                    posted_event=event,
                    event=event,
                )
        except IntegrityError:
            # sent_with_nonce finds nothing for an empty nonce: then this was no resend.
            earlier = Message.objects.in_room(room).sent_with_nonce(author.key, nonce).first()
            if earlier is None:
                raise
            return Posted(earlier, created=False)
        next_event(room)
        # Only posts move last_activity_at, so until now it was the previous message's time:
        # where a day starts (rooms.models.Message.starts_day) costs the hot path no query.
        message.previous_at = room.last_activity_at if room.last_seq else None
        room.last_seq = message.seq
        room.last_activity_at = now
        room.save(update_fields=["last_seq", "last_event", "last_activity_at"])  # message.room is this object
        # A new message has no reactions: its fragment needs no query to know.
        message.known_to_have_no_reactions()
        transaction.on_commit(partial(broadcast.message_posted, message), robust=True)
    return Posted(message, created=True)

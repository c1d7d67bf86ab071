"""Posting messages: the hot path of the whole chat. A batch of posts, from any rooms, costs one
transaction: one read of the rooms, one insert, one update per room, one commit; each message is
rendered once after the commit (rooms.broadcast)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from rooms import broadcast, mentions
from rooms.bots import trigger
from rooms.identity import Author
from rooms.models import Message, Room
from rooms.variants import Variant
from rooms.writes.stream import locked_rooms, next_event


@dataclass(frozen=True)
class NewPost:
    """One validated post (``MessageForm``): who, where, what, and the variant it is rendered in
    for everyone (the poster's: None means the one active where it is written)."""

    room_id: int
    author: Author
    text: str
    nonce: str = ""
    variant: Variant | None = None


@dataclass(frozen=True)
class Posted:
    message: Message
    created: bool  # False when the nonce matched an earlier send: nothing new was stored


def post_message(room_id: int, author: Author, text: str, nonce: str = "") -> Posted:
    """Store ``text`` as the room's next message and broadcast it once the transaction commits.

    ``text`` must already be validated (``MessageForm``). A non-empty ``nonce`` makes the send
    idempotent per author: a replay returns the message the first send stored.
    """
    result = post_messages([NewPost(room_id, author, text, nonce)])[0]
    if isinstance(result, Exception):
        raise result
    return result


def post_messages(posts: list[NewPost]) -> list[Posted | Exception]:
    """Store a batch of posts, in order, as their rooms' next messages; one result per post (an
    exception for a post that could not be stored, such as one to a room that is gone).

    Inserts first, all together: a resend is rare, and the unique (room, author, nonce) index
    finds it as part of the insert. Only then (or when something else fails the batch) is each
    post written on its own, where a resend is looked up and returned instead.
    """
    found = [mentions.stored(mentions.find(post.text, post.author.key)) for post in posts]  # no query under the lock
    try:
        with transaction.atomic():
            return _insert_together(posts, found)
    except (IntegrityError, Room.DoesNotExist):
        pass  # rolled back: a resend or a room that is gone, which each post on its own tells
    return [_one_or_error(post, mentioned) for post, mentioned in zip(posts, found, strict=True)]


def _insert_together(posts: list[NewPost], found: list[str]) -> list[Posted]:
    rooms = locked_rooms({post.room_id for post in posts})
    if len(rooms) < len({post.room_id for post in posts}):
        raise Room.DoesNotExist  # rare: each post on its own says which
    now = timezone.now()
    pairs = zip(posts, found, strict=True)
    messages = [_next_message(rooms[post.room_id], post, mentioned, now) for post, mentioned in pairs]
    Message.objects.bulk_create(messages)
    for room in rooms.values():
        Room.objects.store_counters(room)
    posted = list(zip(messages, [post.variant for post in posts], strict=True))
    transaction.on_commit(partial(broadcast.messages_posted, posted), robust=True)
    if any(found):  # someone may have mentioned a bot with a webhook: rooms.bots.trigger
        transaction.on_commit(partial(trigger.posted, messages), robust=True)
    return [Posted(message, created=True) for message in messages]


def _one_or_error(post: NewPost, mentioned: str) -> Posted | Exception:
    """One post in a transaction of its own: a batch of one, where a resend is found and returned."""
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    return _insert_together([post], [mentioned])[0]
            except IntegrityError:
                # sent_with_nonce finds nothing for an empty nonce: then this was no resend.
                earlier = Message.objects.in_room(post.room_id).sent_with_nonce(post.author.key, post.nonce).first()
                if earlier is None:
                    raise
                _publish_again(earlier, post.variant)
                return Posted(earlier, created=False)
    except Exception as error:  # the caller decides: a single post raises it, a socket reports it
        return error


def _publish_again(earlier: Message, variant: Variant | None) -> None:
    """A resend found its message stored: publish it again if it is still as it was posted.

    The first send may have been stored by a process that stopped before it published (a view
    mid-write when SIGTERM came: rooms.live.hop), and a client resends exactly then. Pages that
    have it drop the copy (its event number is behind their cursor); pages that missed it show it
    now instead of at the room's next event. A message changed since is left to the catch-up: the
    event that changed it was published by whoever changed it."""
    if earlier.event != earlier.posted_event or earlier.gone:
        return
    earlier.previous_at = Message.objects.in_room(earlier.room_id).time_before(earlier.seq)
    earlier.known_to_have_no_reactions()  # a reaction would have moved its event
    transaction.on_commit(partial(broadcast.messages_posted, [(earlier, variant)]), robust=True)


def _next_message(room: Room, post: NewPost, mentioned: str, now: object) -> Message:
    """The room's next message (seq and event numbers taken, the room moved on; not saved)."""
    event = next_event(room)
    message = Message(
        room=room,
        seq=room.last_seq + 1,
        author_id=post.author.user_id,
        author_name=post.author.name,
        author_key=post.author.key,
        text=post.text,
        mentions=mentioned,
        nonce=post.nonce,
        created_at=now,
        posted_event=event,
        event=event,
    )
    # Only posts move last_activity_at, so until now it was the previous message's time:
    # where a day starts (rooms.models.Message.starts_day) costs the hot path no query.
    message.previous_at = room.last_activity_at if room.last_seq else None
    room.last_seq = message.seq
    room.last_activity_at = now
    # A new message has no reactions: its fragment needs no query to know.
    message.known_to_have_no_reactions()
    return message

"""Changes to a message already on people's pages: edit, delete, hide and unhide.

Each is one event of the room's stream (rooms.writes.stream). Who may make a change is decided
by the caller (rooms.permissions); what the new text may be, by ``MessageForm``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from rooms import mentions
from rooms.models import Message, Reaction
from rooms.writes.stream import change_message


def edit_message(message: Message, text: str) -> bool:
    """Replace the text (already validated) and mark the message edited. False if the text is
    the same or the message is gone (nothing to change, no event)."""

    mentioned = mentions.stored(mentions.find(text, message.author_key))  # an edit can add or drop some

    def apply(current: Message) -> bool:
        if current.gone or current.text == text:
            return False
        current.text = text
        current.mentions = mentioned
        current.edited_at = timezone.now()
        return True

    return change_message(message, apply)


def _delete(current: Message) -> bool:
    if current.deleted_at is not None:
        return False
    # A tombstone: the row and its seq stay (so the deletion replays to pages that were away),
    # what was said does not.
    current.text = current.mentions = ""
    current.deleted_at = timezone.now()
    Reaction.objects.filter(message=current).delete()
    return True


def delete_messages(messages: Iterable[Message]) -> int:
    """Delete messages for everyone: each leaves every open page and every later load. Seqs are
    never reused. Returns how many were deleted (already deleted ones are skipped)."""
    return sum(change_message(message, _delete) for message in messages)


def hide_messages(messages: Iterable[Message], *, hidden: bool = True) -> int:
    """A moderator hides messages (or shows them again): each leaves (or comes back to) every
    open page, and every later load, catch-up and "load older" agrees."""

    def apply(current: Message) -> bool:
        if current.hidden == hidden or current.deleted_at is not None:
            return False
        current.hidden = hidden
        return True

    return sum(change_message(message, apply) for message in messages)

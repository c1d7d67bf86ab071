"""Who may change a message: its author, or a moderator (staff, or a member of the group named
by ``ROOMS_MODERATORS_GROUP``). Enforced by the views; the page's per-viewer style only decides
which controls are shown."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from rooms.identity import Author
from rooms.models import Message


def is_moderator(user: Any) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff or user.groups.filter(name=settings.ROOMS_MODERATORS_GROUP).exists())


def may_change(message: Message, author: Author, user: Any) -> bool:
    """Edit or delete: the author's own message, or any message for a moderator."""
    return message.author_key == author.key or is_moderator(user)

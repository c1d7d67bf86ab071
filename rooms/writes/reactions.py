"""Reactions: choosing an emoji on a message adds yours; choosing it again takes it back."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from rooms.identity import Author
from rooms.models import Message, Reaction
from rooms.writes.stream import change_message


class TooManyReactions(Exception):
    """The message already carries ``ROOMS_MAX_REACTIONS_PER_MESSAGE`` different emoji."""

    message = ValidationError(
        _("This message has as many different reactions as it can take."), code="too_many_reactions"
    )


def toggle_reaction(message: Message, reactor: Author, emoji: str) -> bool:
    """Add ``reactor``'s ``emoji`` to the message, or take it back if it is there. Returns True
    when the reaction is now there. ``emoji`` must be validated (``ReactionForm``). Raises
    ``TooManyReactions``, or ``Message.DoesNotExist`` when the message is gone."""
    added = False

    def apply(current: Message) -> bool:
        nonlocal added
        if current.gone:
            raise Message.DoesNotExist
        mine = Reaction.objects.filter(message=current, emoji=emoji, reactor_key=reactor.key)
        if mine.delete()[0]:
            return True
        emoji_now = set(Reaction.objects.filter(message=current).values_list("emoji", flat=True))
        if emoji not in emoji_now and len(emoji_now) >= settings.ROOMS_MAX_REACTIONS_PER_MESSAGE:
            raise TooManyReactions
        try:
            with transaction.atomic():
                Reaction.objects.create(
                    message=current, emoji=emoji, reactor_key=reactor.key, reactor_name=reactor.name
                )
        except IntegrityError:  # a double click that raced past the row lock: already there
            return False
        added = True
        return True

    change_message(message, apply)
    return added

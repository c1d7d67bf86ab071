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

from rooms.models.bots import Bot, BotQuerySet
from rooms.models.messages import Message, MessageQuerySet, with_previous_times
from rooms.models.people import Preference, ReadPosition
from rooms.models.reactions import Reaction, ReactionSummary
from rooms.models.rooms import Room, RoomQuerySet

__all__ = [
    "Bot",
    "BotQuerySet",
    "Message",
    "MessageQuerySet",
    "Preference",
    "Reaction",
    "ReactionSummary",
    "ReadPosition",
    "Room",
    "RoomQuerySet",
    "with_previous_times",
]

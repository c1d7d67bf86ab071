"""Every write that other people see, one function each. HTTP views, sockets and the admin all
call these, so every change takes one road: validated by its form (the caller did), written here
under the room's row lock with the room's next event number (rooms.models), and published by
rooms.broadcast only after the transaction commits. The database is the source of truth; a
broadcast the channel layer drops is repaired from it by the sockets (rooms.catchup).

- posts.py: posting a message (idempotent with a nonce)
- changes.py: editing, deleting, hiding and unhiding a message
- reactions.py: toggling a reaction
- room.py: creating a room
"""

from rooms.writes.changes import delete_messages, edit_message, hide_messages
from rooms.writes.posts import NewPost, Posted, post_message, post_messages
from rooms.writes.reactions import TooManyReactions, toggle_reaction
from rooms.writes.room import get_or_create_room

__all__ = [
    "NewPost",
    "Posted",
    "TooManyReactions",
    "delete_messages",
    "edit_message",
    "get_or_create_room",
    "hide_messages",
    "post_message",
    "post_messages",
    "toggle_reaction",
]

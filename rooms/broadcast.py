"""The one place that renders what everyone sees, then hands it on (rooms.publishing).

Called after the write's transaction commits. Each event is rendered once, in the variant of
whoever wrote it (rooms.variants), whatever the number of recipients, and travels with a snapshot
of what it was rendered from: a process whose sockets read in another language or time zone
renders that variant once from the snapshot (``render_snapshot``). Consumers forward the HTML as
it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.db.models import prefetch_related_objects

from rooms import fragments, publishing, snapshots, variants
from rooms.live import fanout
from rooms.models import Message, Room
from rooms.publishing import Collected, Moved, Send, collected, publish

__all__ = ["LOBBY_GROUP", "Collected", "Send", "collected", "publish"]  # and the kinds of change below

LOBBY_GROUP = "lobby"


def messages_posted(posted: Sequence[tuple[Message, variants.Variant | None]]) -> None:
    """New messages, each rendered in the variant of the person who posted it (None: the one
    active here), then one lobby row per room: the room as its last post left it."""
    moved: dict[int, Moved] = {}
    sends: list[Send] = []
    for message, variant in posted:
        with _in(variant):
            sends.append(_room_event(message, "posted"))
        moved[message.room_id] = (message.room, variant)
    collecting = publishing.collecting()
    if collecting is None:
        sends.extend(lobby_rows(moved.values()))
    else:
        collecting.moved.update(moved)  # the collector renders their rows when it chooses
    publishing.send(*sends)


def lobby_rows(moved: Iterable[Moved]) -> list[Send]:
    """Each room's lobby row, in the variant of whoever moved it last."""
    rows = []
    for room, variant in moved:
        with _in(variant):
            rows.append(_lobby_event(room))
    return rows


def _in(variant: variants.Variant | None) -> AbstractContextManager[None]:
    return nullcontext() if variant is None else variant.active()


def message_changed(message: Message) -> None:
    """An edit, deletion, hide, unhide or reaction: the message's parts, replaced in place."""
    if "reactions" not in getattr(message, "_prefetched_objects_cache", {}):
        prefetch_related_objects([message], "reactions")  # one query, shared by the render and the snapshot
    publishing.send(_room_event(message, "changed"))


def render_snapshot(snapshot: dict[str, Any]) -> str:
    """An event's fragment from its snapshot, in the active variant (rooms.variants.html_for)."""
    kind = snapshot["kind"]
    if kind in SIDE_RENDERS:
        return SIDE_RENDERS[kind](snapshot)
    if kind == "lobby_row":
        return fragments.lobby_row_event(snapshots.unpack(Room, snapshot["room"]), created=snapshot["created"])
    message = snapshots.unpack_message(snapshot)
    return fragments.message_event(message) if kind == "posted" else fragments.message_changed(message)


# Presence and typing: whole states, rendered in each process from what its hub read or keeps.
SIDE_RENDERS = {
    "presence": lambda snapshot: fragments.presence(snapshot["people"]),
    "typing": lambda snapshot: fragments.typing(snapshot["typists"]),
    "here": lambda snapshot: fragments.here(snapshot["counts"]),
}


def _in_writer_variant(snapshot: dict[str, Any], render: Any) -> dict[str, Any]:
    variant = variants.current()
    return {"html": {variant.key: variants.render(snapshot["kind"], variant.key, render)}, "snapshot": snapshot}


def _room_event(message: Message, kind: str) -> Send:
    render = fragments.message_event if kind == "posted" else fragments.message_changed
    snapshot = {"kind": kind, **snapshots.pack_message(message)}
    # "event" is the room's stream number: sockets apply events in that order, exactly once.
    event = {"type": "room.event", "event": message.event, **_in_writer_variant(snapshot, lambda: render(message))}
    return message.room.group_name, event


def account_banned(user_id: int) -> None:
    """Close every open socket of a deactivated account (in every process)."""
    publishing.send((fanout.CONTROL_GROUP, {"type": "user.banned", "user_id": user_id}))


def author_renamed(author_key: str, name: str) -> None:
    """A guest took a new name: every open socket of that author key (in every process) takes it
    for its next post and shows it in its page's header."""
    publishing.send((fanout.CONTROL_GROUP, {"type": "author.renamed", "author_key": author_key, "name": name}))


def read_moved(room_id: int, keys: list[str]) -> None:
    """These people read further in a room: their lobbies (every tab, every process) count again."""
    publishing.send((LOBBY_GROUP, {"type": "lobby.read", "room": room_id, "keys": keys}))


def room_changed(room: Room, *, created: bool = False) -> None:
    publishing.send(_lobby_event(room, created=created))


def _lobby_event(room: Room, *, created: bool = False) -> Send:
    snapshot = {"kind": "lobby_row", "room": snapshots.pack(room), "created": created}
    render = lambda: fragments.lobby_row_event(room, created=created)  # noqa: E731
    # "state": the room's event number the row shows, so a hub can drop a row older than one it
    # already handed out (rooms.live.order.RowStates).
    event = {"type": "lobby.event", "room_pk": room.pk, "state": room.last_event}
    return LOBBY_GROUP, {**event, **_in_writer_variant(snapshot, render)}

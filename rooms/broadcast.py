"""The one place that renders what everyone sees and hands it to the channel layer.

Called after the write's transaction commits. Each event is rendered once, in the variant of
whoever wrote it (rooms.variants), whatever the number of recipients, and travels with a snapshot
of what it was rendered from: a process whose sockets read in another language or time zone
renders that variant once from the snapshot (``render_snapshot``). Consumers forward the HTML as
it is.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import prefetch_related_objects

from rooms import fragments, snapshots, variants
from rooms.live import fanout, hop, layerwatch
from rooms.models import Message, Room

logger = logging.getLogger(__name__)

LOBBY_GROUP = "lobby"

Send = tuple[str, dict[str, Any]]
Moved = tuple[Room, variants.Variant | None]


@dataclass
class Collected:
    """What writes broadcast while a caller collects (``collected``): rendered events to publish,
    and the rooms whose lobby row moved (their latest state, and who moved it), for the caller to
    render when it chooses (``lobby_rows``)."""

    sends: list[Send] = field(default_factory=list)
    moved: dict[int, Moved] = field(default_factory=dict)


_collecting: contextvars.ContextVar[Collected | None] = contextvars.ContextVar("collecting", default=None)


def messages_posted(posted: Sequence[tuple[Message, variants.Variant | None]]) -> None:
    """New messages, each rendered in the variant of the person who posted it (None: the one
    active here), then one lobby row per room: the room as its last post left it."""
    moved: dict[int, Moved] = {}
    sends: list[Send] = []
    for message, variant in posted:
        with _in(variant):
            sends.append(_room_event(message, "posted"))
        moved[message.room_id] = (message.room, variant)
    collecting = _collecting.get()
    if collecting is None:
        sends.extend(lobby_rows(moved.values()))
    else:
        collecting.moved.update(moved)  # the collector renders their rows when it chooses
    _group_send(*sends)


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
    _group_send(_room_event(message, "changed"))


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
    _group_send((fanout.CONTROL_GROUP, {"type": "user.banned", "user_id": user_id}))


def author_renamed(author_key: str, name: str) -> None:
    """A guest took a new name: every open socket of that author key (in every process) takes it
    for its next post and shows it in its page's header."""
    _group_send((fanout.CONTROL_GROUP, {"type": "author.renamed", "author_key": author_key, "name": name}))


def read_moved(room_id: int, keys: list[str]) -> None:
    """These people read further in a room: their lobbies (every tab, every process) count again."""
    _group_send((LOBBY_GROUP, {"type": "lobby.read", "room": room_id, "keys": keys}))


def room_changed(room: Room, *, created: bool = False) -> None:
    _group_send(_lobby_event(room, created=created))


def _lobby_event(room: Room, *, created: bool = False) -> Send:
    snapshot = {"kind": "lobby_row", "room": snapshots.pack(room), "created": created}
    render = lambda: fragments.lobby_row_event(room, created=created)  # noqa: E731
    # "state": the room's event number the row shows, so a hub can drop a row older than one it
    # already handed out (rooms.live.order.RowStates).
    event = {"type": "lobby.event", "room_pk": room.pk, "state": room.last_event}
    return LOBBY_GROUP, {**event, **_in_writer_variant(snapshot, render)}


@contextmanager
def collected() -> Iterator[Collected]:
    """What is broadcast inside (on this thread, after its commits) is rendered as usual and
    kept here instead of sent: for a caller on the event loop that publishes it itself
    (``publish``), which spares each write a hop from the database thread back to the loop."""
    collecting = Collected()
    token = _collecting.set(collecting)
    try:
        yield collecting
    finally:
        _collecting.reset(token)


async def publish(sends: Sequence[Send]) -> None:
    """Hand rendered events to the channel layer, in order (on the event loop)."""
    layer = get_channel_layer()
    if layer is None:
        return
    for group, event in sends:
        try:
            await layer.group_send(group, event)
        except Exception:
            # The write has committed, so a layer outage must not turn a saved message into an
            # error: the layer watch sends the event again once the layer is back, and sockets
            # repair anything else they missed from the database.
            logger.exception("broadcast to %s failed", group)
            layerwatch.broadcast_failed(layer, group, event)


def _group_send(*sends: Send) -> None:
    collecting = _collecting.get()
    if collecting is not None:
        collecting.sends.extend(sends)
        return
    if get_channel_layer() is None:
        return
    loop = hop.home_loop()
    try:
        if loop is None:  # no server here (a management command, the shell): a loop of its own
            async_to_sync(publish)(sends)
        else:
            # One hop to the server's event loop for all of them, bounded (rooms.live.hop).
            hop.run_on(loop, publish(sends), f"{len(sends)} events")
    except Exception:
        logger.exception("broadcast failed")

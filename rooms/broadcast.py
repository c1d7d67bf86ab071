"""The one place that renders what everyone sees and hands it to the channel layer.

Called after the write's transaction commits. Each event is rendered exactly once, whatever the
number of recipients; consumers forward the HTML as it is.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from rooms import fragments
from rooms.live import fanout, layerwatch
from rooms.models import Message, Room

logger = logging.getLogger(__name__)

LOBBY_GROUP = "lobby"


def message_posted(message: Message) -> None:
    # Both events in one hop to the event loop: the writer's database thread waits for it.
    _group_send(_room_event(message, fragments.message_event(message)), _lobby_event(message.room))


def message_changed(message: Message) -> None:
    """An edit, deletion, hide, unhide or reaction: the message's parts, replaced in place."""
    _group_send(_room_event(message, fragments.message_changed(message)))


def _room_event(message: Message, html: str) -> tuple[str, dict[str, object]]:
    # "event" is the room's stream number: sockets apply events in that order, exactly once.
    return message.room.group_name, {"type": "room.event", "event": message.event, "html": html}


def account_banned(user_id: int) -> None:
    """Close every open socket of a deactivated account (in every process)."""
    _group_send((fanout.CONTROL_GROUP, {"type": "user.banned", "user_id": user_id}))


def room_changed(room: Room, *, created: bool = False) -> None:
    _group_send(_lobby_event(room, created=created))


def _lobby_event(room: Room, *, created: bool = False) -> tuple[str, dict[str, object]]:
    return LOBBY_GROUP, {"type": "lobby.event", "html": fragments.lobby_row_event(room, created=created)}


def _group_send(*sends: tuple[str, dict[str, object]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def publish() -> None:
        for group, event in sends:
            try:
                await layer.group_send(group, event)
            except Exception:
                # The write has committed, so a layer outage must not turn a saved message into an
                # error: the layer watch sends the event again once the layer is back, and sockets
                # repair anything else they missed from the database.
                logger.exception("broadcast to %s failed", group)
                layerwatch.broadcast_failed(layer, group, event)

    try:
        async_to_sync(publish)()
    except Exception:
        logger.exception("broadcast failed")

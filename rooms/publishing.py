"""Handing rendered events to the channel layer (rooms.broadcast renders them).

A write on a thread (an HTTP view, a webhook reply) publishes at once, through one bounded hop to
the server's event loop (rooms.live.hop). A caller on the event loop that writes through the
database thread (the socket's post queue) collects instead (``collected``) and publishes itself
(``publish``), which spares each write a hop back from the database thread to the loop.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from rooms.live import hop, layerwatch

if TYPE_CHECKING:
    from rooms.models import Room
    from rooms.variants import Variant

logger = logging.getLogger("rooms.broadcast")

Send = tuple[str, dict[str, Any]]
Moved = tuple["Room", "Variant | None"]


@dataclass
class Collected:
    """What writes broadcast while a caller collects (``collected``): rendered events to publish,
    and the rooms whose lobby row moved (their latest state, and who moved it), for the caller to
    render when it chooses (``lobby_rows``)."""

    sends: list[Send] = field(default_factory=list)
    moved: dict[int, Moved] = field(default_factory=dict)


_collecting: contextvars.ContextVar[Collected | None] = contextvars.ContextVar("collecting", default=None)


def collecting() -> Collected | None:
    """The collector on this thread, if a caller is collecting."""
    return _collecting.get()


@contextmanager
def collected() -> Iterator[Collected]:
    """What is broadcast inside (on this thread, after its commits) is rendered as usual and
    kept here instead of sent: for a caller on the event loop that publishes it itself
    (``publish``), which spares each write a hop from the database thread back to the loop."""
    collector = Collected()
    token = _collecting.set(collector)
    try:
        yield collector
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


def send(*sends: Send) -> None:
    """Hand rendered events on: to the caller collecting them on this thread, if any, else to
    the channel layer, from this thread, on the server's event loop."""
    collector = _collecting.get()
    if collector is not None:
        collector.sends.extend(sends)
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

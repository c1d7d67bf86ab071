"""What lives once per event loop (a process runs one, daphne's; tests run one per test): the hubs
by group (rooms.live.fanout), the process's sockets (rooms.live.local), and the few objects each
feature keeps per process (the presence registry, the read writer, the post queue)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from channels.layers import BaseChannelLayer
from django.conf import settings

from rooms.live.fanout import Hub

if TYPE_CHECKING:
    from rooms.live.local import LocalSockets

T = TypeVar("T")


class _LoopState:
    def __init__(self) -> None:
        self.hubs: dict[str, Hub] = {}
        self.sockets: LocalSockets | None = None  # rooms.live.local
        self.others: dict[str, Any] = {}  # for_this_loop's objects, by name


_state: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()


def _loop_state() -> _LoopState:
    # Per event loop: a process runs one (daphne), tests run one per test.
    return _state.setdefault(asyncio.get_running_loop(), _LoopState())


def hub_for(layer: BaseChannelLayer, group: str) -> Hub:
    hubs = _loop_state().hubs
    hub = hubs.get(group)
    if hub is None or hub.layer is not layer:
        hub = hubs[group] = Hub(layer, group)
    return hub


def for_this_loop(name: str, layer: BaseChannelLayer, make: Callable[[BaseChannelLayer], T]) -> T:
    """One ``make(layer)`` per event loop and layer (a process runs one loop, tests one per test):
    the presence registry, the read writer (rooms.live.presence, rooms.live.reads)."""
    others = _loop_state().others
    found = others.get(name)
    if found is None or found.layer is not layer:
        found = others[name] = make(layer)
    return found


def local_sockets(layer: BaseChannelLayer) -> LocalSockets:
    from rooms.live.local import LocalSockets  # it joins the control group's hub: imports this module

    state = _loop_state()
    if state.sockets is None or state.sockets.layer is not layer:
        state.sockets = LocalSockets(layer)
    return state.sockets


def layer_recovered() -> None:
    """After a channel-layer outage: resubscribe on next use, and end every open socket for a
    reconnect (each may have missed events; its reconnect resumes from the database). The ends
    are spread over ``ROOMS_RECOVERY_SPREAD_SECONDS``: all at once, every page of the process
    would reconnect at once, a crowd as big as a restart's."""
    state = _loop_state()
    for hub in state.hubs.values():
        hub.forget_subscription()
    if state.sockets is not None:
        state.sockets.tell_all({"type": "layer.lost"}, spread=settings.ROOMS_RECOVERY_SPREAD_SECONDS)

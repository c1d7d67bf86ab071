"""Reading what a browser's ws-send (or a script) sends: one JSON object per text frame.

Everything wrong with a frame becomes a ``FrameError`` with a stable code for the sender's error
fragment; nothing here touches the database or the channel layer.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

ERROR_TEXT = {
    "binary": _("Binary frames are not accepted; send text."),
    "too_large": _("That was too large to send."),
    "invalid_json": _("The server could not read that (it was not valid JSON)."),
    "bad_schema": _("The server could not read that (expected a JSON object)."),
    "bad_type": _("The server could not read that (a field had the wrong type)."),
    "rate_limited": _("You are sending messages too quickly. Wait a moment and try again."),
    "unavailable": _("The message could not be sent right now. Please try again."),
    "not_resumed": _("Still connecting; the message was not sent. Please try again."),
}


class FrameError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def text(self) -> str:
        return str(ERROR_TEXT[self.code])


def parse(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    """The frame's JSON object, or ``FrameError``. Unknown keys are kept (and later ignored)."""
    if text_data is None:
        raise FrameError("binary")
    # A str holds at most 4 UTF-8 bytes per character: skip the encode for the common case.
    limit = settings.ROOMS_MAX_FRAME_BYTES
    if len(text_data) * 4 > limit and len(text_data.encode("utf-8", "surrogatepass")) > limit:
        raise FrameError("too_large")
    try:
        data = json.loads(text_data)
    except (ValueError, RecursionError):
        raise FrameError("invalid_json") from None
    if not isinstance(data, dict):
        raise FrameError("bad_schema")
    return data


def cursor_of(data: dict[str, Any]) -> int | None:
    """The resume cursor (a form sends it as a string), or None when the frame has none."""
    if "cursor" not in data:
        return None
    value = data["cursor"]
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise FrameError("bad_type")
    try:
        cursor = int(value)
    except ValueError:
        raise FrameError("bad_type") from None
    if cursor < 0:
        raise FrameError("bad_type")
    return cursor


def recheck_of(data: dict[str, Any]) -> tuple[int, int, int] | None:
    """A "load older" page's ``{"recheck": {"first": seq, "last": seq, "since": event}}``
    (rooms.catchup.rechecked), or None when the frame has none."""
    if "recheck" not in data:
        return None
    value = data["recheck"]
    if not isinstance(value, dict):
        raise FrameError("bad_type")
    numbers = [value.get(name) for name in ("first", "last", "since")]
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
        raise FrameError("bad_type")
    first, last, since = numbers
    if first > last:
        raise FrameError("bad_type")
    return first, last, since

"""What counts as text a person typed: the rules shared by room names, display names and messages.

Kept apart from the forms so the rules have one home and a name: a name that is only zero-width
spaces is empty, a bidi override cannot reorder a neighbour's name, and a NUL byte or a lone
surrogate (both reachable through JSON) never reaches the database.
"""

from __future__ import annotations

import unicodedata

# Characters that render as nothing. Whitespace is handled with str.isspace(); these are the
# rest: format characters (zero-width space and joiners, word joiner, BOM, soft hyphen, tags),
# Hangul fillers, the braille blank, the combining grapheme joiner and variation selectors.
_INVISIBLE_EXTRA = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0" + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)

# Explicit directional embeddings, overrides and isolates: in a name they can visually reorder
# the text around the name (a "Trojan Source" style trick), so names refuse them outright.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

# Messages may span lines; every other control character is refused.
_MESSAGE_ALLOWED_CONTROLS = frozenset("\n\t")


def is_invisible(char: str) -> bool:
    return char.isspace() or char in _INVISIBLE_EXTRA or unicodedata.category(char) == "Cf"


def is_blank(text: str) -> bool:
    """True when nothing in ``text`` would be visible on the page."""
    return all(is_invisible(char) for char in text)


def has_surrogates(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def has_control_characters(text: str, *, allowed: frozenset[str] = frozenset()) -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def has_bidi_controls(text: str) -> bool:
    return any(char in BIDI_CONTROLS for char in text)


def clean_name(text: str) -> str:
    """Trim and NFC-normalise a room or display name (validity is checked by the caller)."""
    return unicodedata.normalize("NFC", text.strip())


def name_problem(text: str) -> str | None:
    """The error code for an already-cleaned name, or None when it is acceptable."""
    if has_surrogates(text) or has_control_characters(text):
        return "control_chars"
    if has_bidi_controls(text):
        return "bidi_controls"
    if is_blank(text):
        return "empty"
    return None


def message_problem(text: str) -> str | None:
    """The error code for a trimmed message body, or None when it is acceptable."""
    if has_surrogates(text) or has_control_characters(text, allowed=_MESSAGE_ALLOWED_CONTROLS):
        return "control_chars"
    if is_blank(text):
        return "empty"
    return None

"""Which parts of a message's text are links: http and https addresses, nothing else.

Not Django's ``urlize``: it also links bare domains, ``www.`` and e-mail addresses, and has had
several denial-of-service fixes. This linker splits the plain text on whitespace (one linear pass,
no backtracking over the whole text) and takes a token as a link only when, after any opening
brackets or quotes, it starts with ``http://`` or ``https://`` and has a host. Trailing sentence
punctuation and unbalanced closing brackets stay text, so "see (https://ex.am/a_(b))." links
``https://ex.am/a_(b)``.

It returns parts, never HTML: ``rooms/_message_content.html`` writes each part, so the text and
the href are escaped by the template like any other value and no scheme but http(s) can reach an
href (``javascript:``, ``data:`` and markup stay inert text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_WHITESPACE = re.compile(r"(\s+)")
_SCHEME = re.compile(r"https?://", re.IGNORECASE)
_OPENERS = "([{<\"'«「『"
_TRAILING = ".,:;!?\"'»」』…。、"
_PAIRS = {")": "(", "]": "[", "}": "{", ">": "<"}


@dataclass(frozen=True, slots=True)
class Part:
    """A run of a message's text; ``href`` is set when the run is a link, ``mention`` (an account
    key, rooms.mentions) when it mentions someone."""

    text: str
    href: str = ""
    mention: str = ""


def text_parts(text: str) -> list[Part]:
    """``text`` as consecutive parts whose texts join back to ``text`` exactly."""
    if "://" not in text:  # the common case costs one substring search
        return [Part(text)]
    parts: list[Part] = []
    plain: list[str] = []
    for token in _WHITESPACE.split(text):
        link = _link_in(token) if token and not token[0].isspace() else None
        if link is None:
            plain.append(token)
            continue
        start, end = link
        plain.append(token[:start])
        if any(plain):
            parts.append(Part("".join(plain)))
        address = token[start:end]
        parts.append(Part(address, href=address))
        plain = [token[end:]]
    if any(plain):
        parts.append(Part("".join(plain)))
    return parts


def _link_in(token: str) -> tuple[int, int] | None:
    """Where the link in one whitespace-free token starts and ends, or None."""
    start = len(token) - len(token.lstrip(_OPENERS))
    if not _SCHEME.match(token, start):
        return None
    end = len(token)
    # Closing brackets are kept only while the link has their opener: counted once, then kept up
    # to date as characters come off the end, so a token of a thousand ")" stays linear.
    balance = {closer: token.count(closer, start) - token.count(opener, start) for closer, opener in _PAIRS.items()}
    while end > start:
        last = token[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last in _PAIRS and balance[last] > 0:
            balance[last] -= 1
            end -= 1
        else:
            break
    return (start, end) if _has_host(token[start:end]) else None


def _has_host(address: str) -> bool:
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 - reading it raises ValueError for a port that is not a number
    except ValueError:  # a malformed port or IPv6 literal: the token stays text
        return False
    return bool(parts.hostname)

"""Who a message mentions: ``@username`` of an active account, decided when it is written.

Only accounts can be mentioned. A guest's display name is neither unique nor stable (two guests
can both be "Kim", a guest renames at will, names hold spaces), so "@Kim" could never say whom it
meant, and a mention that changes meaning when someone renames is worse than none.

A mention is an ``@`` that does not follow a letter, digit or ``@`` (so ``bob@example.com`` is no
mention), then the username (letters, digits and ``. + - _``, as Django's usernames; a trailing
``.`` ends the sentence, not the name). It is looked up case-insensitively when the message is
posted or edited, and stored on the message as ``mentions``: ``"u-4:bob u-9:alice"``, the
account keys with the names as they matched. The page renders those ``@names`` as mentions and
puts the keys in ``data-mentions``, where each reader's per-viewer style finds its own; the
unread counts (rooms.unread) count them. Mentioning yourself is no mention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from rooms.links import Part

MENTION = re.compile(r"(?<![\w@])@([\w.+-]*[\w+-])", re.UNICODE)
# Names looked up per message at most: a message of 500 "@x" costs one bounded query.
MAX_LOOKUPS = 20


@dataclass(frozen=True, slots=True)
class Mentioned:
    key: str  # the account's author key, "u-<pk>"
    name: str  # the username as it matched, case-folded


def find(text: str, author_key: str) -> list[Mentioned]:
    """The accounts ``text`` mentions, in order of first mention (one query, none without an @)."""
    if "@" not in text:
        return []
    wanted: list[str] = []
    for match in MENTION.finditer(text):
        name = match.group(1).casefold()
        if name not in wanted:
            wanted.append(name)
        if len(wanted) == MAX_LOOKUPS:
            break
    if not wanted:
        return []
    query = Q()
    for name in wanted:
        query |= Q(username__iexact=name)
    users = get_user_model().objects.filter(query, is_active=True).values_list("pk", "username")
    by_name = {username.casefold(): f"u-{pk}" for pk, username in users}
    return [Mentioned(by_name[name], name) for name in wanted if name in by_name and by_name[name] != author_key]


def stored(mentioned: list[Mentioned]) -> str:
    """What ``Message.mentions`` holds for these."""
    return " ".join(f"{m.key}:{m.name}" for m in mentioned)


def parse(value: str) -> dict[str, str]:
    """``Message.mentions`` as {case-folded name: key}."""
    found = {}
    for item in value.split():
        key, _, name = item.partition(":")
        found[name] = key
    return found


def marked(parts: list[Part], value: str) -> list[Part]:
    """``parts`` (rooms.links) with each stored mention (``Message.mentions``) in the plain runs
    made a part of its own; links are left whole, and an ``@name`` that matched no account stays text."""
    names = parse(value)
    if not names:
        return parts
    found: list[Part] = []
    for part in parts:
        if part.href:
            found.append(part)
            continue
        at = 0
        for match in MENTION.finditer(part.text):
            key = names.get(match.group(1).casefold())
            if key is None:
                continue
            if match.start() > at:
                found.append(Part(part.text[at : match.start()]))
            found.append(Part(match.group(0), mention=key))
            at = match.end()
        if at < len(part.text):
            found.append(Part(part.text[at:]))
    return found

"""Full-text search over message text: one interface, the engine chosen by the database.

``find(q, room=None, before=None)`` answers the newest visible messages (neither hidden nor
deleted) whose text contains every word of ``q``, 20 at a time, newest first; ``before`` (a
message pk, the last one of the previous page) continues after a page (keyset pagination: pks
grow in posting order, so "newer" is "larger pk"). What a word is and which queries are refused:
``rooms.search.query``. How each engine finds a word: ``rooms.search.sqlite`` (FTS5 trigram,
LIKE for words under three characters) and ``rooms.search.postgres`` (pg_trgm, ILIKE).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from rooms.models import Message, MessageQuerySet, Room
from rooms.search import postgres, sqlite
from rooms.search.query import QueryProblem, Segment, segments, terms

__all__ = ["QueryProblem", "Result", "SearchPage", "Segment", "find", "terms"]


@dataclass(frozen=True)
class Result:
    message: Message
    parts: list[Segment]


@dataclass
class SearchPage:
    words: tuple[str, ...]
    results: list[Result] = field(default_factory=list)
    has_more: bool = False
    # Set when every word is shorter than a trigram: no index can find such words, so only the
    # newest this many messages (of the room, or of all) are read (``find``).
    window: int | None = None

    @property
    def next_before(self) -> int | None:
        """Where the next page starts (``?before=``), or None when this is the last."""
        return self.results[-1].message.pk if self.has_more and self.results else None


def matching(messages: MessageQuerySet, words: tuple[str, ...]) -> MessageQuerySet:
    """``messages`` narrowed to those whose text contains every word, by this database's engine."""
    if connection.vendor == "sqlite":
        return sqlite.matching(messages, words)
    if connection.vendor == "postgresql":
        return postgres.matching(messages, words)
    for word in words:  # any other database: correct, unindexed
        messages = messages.filter(text__icontains=word)
    return messages


def find(q: str, room: Room | None = None, before: int | None = None, limit: int | None = None) -> SearchPage:
    """The page of results for ``q`` (raises ``QueryProblem`` for a query that cannot be searched)."""
    words = terms(q)
    limit = limit or settings.ROOMS_SEARCH_PAGE_SIZE
    candidates = Message.objects.visible()
    if room is not None:
        candidates = candidates.in_room(room)
    if before is not None:
        candidates = candidates.filter(pk__lt=before)
    # Only pks first, newest first, one more than a page to know whether there is more: the
    # engine's filter over a narrow row; then the page's messages with their rooms.
    window = None
    if all(len(word) < 3 for word in words):
        # Each search costs a bounded read: a rare one- or two-letter word would otherwise be
        # looked for in every message ever posted (about 50 ms per 100,000 on PostgreSQL, and
        # growing with the history). Pks grow in posting order, and rooms number their messages.
        window = settings.ROOMS_SEARCH_SHORT_WORD_WINDOW
        if room is not None:
            newest = Message.objects.in_room(room).order_by("-seq").values_list("seq", flat=True).first() or 0
            candidates = candidates.filter(seq__gt=newest - window)
        else:
            newest = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            candidates = candidates.filter(pk__gt=newest - window)
    pks = list(matching(candidates, words).order_by("-pk").values_list("pk", flat=True)[: limit + 1])
    found = Message.objects.visible().filter(pk__in=pks[:limit]).select_related("room").order_by("-pk")
    around = settings.ROOMS_SEARCH_SNIPPET_CHARACTERS
    results = [Result(message, segments(message.text, words, around=around)) for message in found]
    return SearchPage(words, results, has_more=len(pks) > limit, window=window)

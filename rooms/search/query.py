"""What a person typed into the search box, as terms an engine can look for, and the highlight.

Nothing a person types is ever handed to an engine as syntax: each term is a plain substring
(every word must occur, in any order, case-insensitively for Latin letters). So a query is
reduced here, in Python, to words: split on whitespace, punctuation trimmed from both ends of each
word (``"hello,"`` and ``hello`` are the same search; ``don't`` and ``a"b`` keep theirs), words
without a letter or digit dropped, and FTS5's operator words in capitals (``AND``, ``OR``,
``NOT``, ``NEAR``) dropped as the operators they look like. What is left is ANDed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})


class QueryProblem(ValueError):
    """A query that cannot be searched, with a code (``data-error``) and a sentence for people."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"  # letters, numbers, combining marks (Hangul jamo, accents)


def _trim(word: str) -> str:
    start, end = 0, len(word)
    while start < end and not _is_word_char(word[start]):
        start += 1
    while end > start and not _is_word_char(word[end - 1]):
        end -= 1
    return word[start:end]


def terms(q: str) -> tuple[str, ...]:
    """The words to look for, in the order typed, each once. Raises ``QueryProblem`` for a query
    that is too long, has too many words, or has nothing to search for (only punctuation and
    operators)."""
    q = unicodedata.normalize("NFC", q.strip())
    if len(q) > settings.ROOMS_SEARCH_MAX_LENGTH:
        raise QueryProblem(
            "too_long",
            str(_("Searches are at most %(limit)d characters.") % {"limit": settings.ROOMS_SEARCH_MAX_LENGTH}),
        )
    found: dict[str, str] = {}
    for word in q.split():
        word = _trim(word)
        if word and word not in OPERATORS and any(_is_word_char(char) for char in word):
            found.setdefault(word.casefold(), word)
    if not found:
        raise QueryProblem("nothing_to_search", str(_("Nothing to search for: type a word or part of one.")))
    if len(found) > settings.ROOMS_SEARCH_MAX_TERMS:
        limit = settings.ROOMS_SEARCH_MAX_TERMS
        raise QueryProblem("too_many_words", str(_("Search for at most %(limit)d words.") % {"limit": limit}))
    return tuple(found.values())


@dataclass(frozen=True)
class Segment:
    """A piece of a result's text: ``match`` pieces are wrapped in <mark> by the template."""

    text: str
    match: bool


def segments(text: str, words: tuple[str, ...], *, around: int | None = None) -> list[Segment]:
    """``text`` cut into plain and matching pieces (every occurrence of every word, ignoring
    case; where two overlap, the longer word wins). With ``around``, only a window of about that
    many characters before and after the first match, with an ellipsis where text was left out:
    a result shows where it matched, not all of a 4,000-character message."""
    if not words:
        return [Segment(text, False)]
    pattern = re.compile("|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    spans = [match.span() for match in pattern.finditer(text)]
    prefix = suffix = ""
    if around is not None and spans and len(text) > 2 * around:
        start = max(0, spans[0][0] - around)
        end = min(len(text), spans[0][1] + around)
        prefix, suffix = ("…" if start else ""), ("…" if end < len(text) else "")
        text = text[start:end]
        spans = [(a - start, b - start) for a, b in spans if a >= start and b <= end]
    pieces: list[Segment] = [Segment(prefix, False)] if prefix else []
    position = 0
    for a, b in spans:
        if a > position:
            pieces.append(Segment(text[position:a], False))
        pieces.append(Segment(text[a:b], True))
        position = b
    if position < len(text):
        pieces.append(Segment(text[position:], False))
    if suffix:
        pieces.append(Segment(suffix, False))
    return pieces

"""PostgreSQL: a pg_trgm GIN index on ``rooms_message.text`` and ILIKE '%word%' per word.

ILIKE is a substring match, so Korean works as it is typed ("한국어" finds "한국어가 좋아요",
"회의" finds "회의를"), where the full-text search's word parser would need the exact word form.
Words without case (Hangul, digits) use LIKE, the same answer for less work. pg_trgm's GIN index
serves both for words of three or more characters; a word of one or two characters has no
trigram, so PostgreSQL reads rows until it has a page: quick for a common word, every row for a
rare one (bench/README.md "Search"). The index (migration 0007) follows edits and deletions by
itself: it is an index on the column.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Lookup
from django.db.models.functions import Collate

from rooms.models import MessageQuerySet


class ILike(Lookup):
    """``lhs ILIKE rhs``, the form pg_trgm's index serves (Django's ``icontains`` is
    ``UPPER(text) LIKE UPPER(...)``, which an index on ``text`` does not)."""

    lookup_name = "madang_ilike"
    operator = "ILIKE"

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} {self.operator} {rhs}", [*lhs_params, *rhs_params]


class Like(ILike):
    """``lhs LIKE rhs``: for words without case (Hangul, digits) the same answer as ILIKE, and
    where the index cannot help (one or two characters) a scan four times faster: ILIKE folds
    the case of every row's text first (bench/README.md "Search")."""

    lookup_name = "madang_like"
    operator = "LIKE"


def pattern(word: str) -> str:
    """``%word%`` with LIKE's own characters escaped (backslash is PostgreSQL's LIKE escape)."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching(messages: MessageQuerySet, words: tuple[str, ...]) -> MessageQuerySet:
    for word in words:
        if word.lower() == word.upper():
            lookup = Like(F("text"), pattern(word))
        elif len(word) < 3 and word.isascii():
            # A scan either way: under the "C" collation ILIKE folds ASCII letters only, half the
            # work of the database's Unicode folding and the same answer for an ASCII word (what
            # SQLite's LIKE does too). Longer words keep the plain column, which the index serves.
            lookup = ILike(Collate(F("text"), "C"), pattern(word))
        else:
            lookup = ILike(F("text"), pattern(word))
        messages = messages.filter(lookup)
    return messages

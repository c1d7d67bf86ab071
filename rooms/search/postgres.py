"""PostgreSQL: a pg_trgm GIN index on ``rooms_message.text`` and ILIKE '%word%' per word.

ILIKE is a substring match, so Korean works as it is typed ("한국어" finds "한국어가 좋아요",
"회의" finds "회의를"), where the full-text search's word parser would need the exact word form.
pg_trgm's GIN index serves ILIKE for words of three or more characters; a word of one or two
characters has no trigram, so PostgreSQL reads rows newest first until it has a page (quick for
a common word, every row for a rare one: bench/README.md "Search"). The index (migration 0007)
follows edits and deletions by itself: it is an index on the column.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Lookup

from rooms.models import MessageQuerySet


class ILike(Lookup):
    """``lhs ILIKE rhs``, the form pg_trgm's index serves (Django's ``icontains`` is
    ``UPPER(text) LIKE UPPER(...)``, which an index on ``text`` does not)."""

    lookup_name = "madang_ilike"

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


def pattern(word: str) -> str:
    """``%word%`` with LIKE's own characters escaped (backslash is PostgreSQL's LIKE escape)."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching(messages: MessageQuerySet, words: tuple[str, ...]) -> MessageQuerySet:
    for word in words:
        messages = messages.filter(ILike(F("text"), pattern(word)))
    return messages

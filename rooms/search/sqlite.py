"""SQLite: an FTS5 table with the trigram tokenizer over ``rooms_message.text``.

The table (``rooms_message_fts``) is external-content: it stores only the index and reads text
from ``rooms_message`` itself; triggers on INSERT, UPDATE OF text and DELETE keep it following
every post, edit and deletion (a deletion erases the text, so the tombstone matches nothing).
Created by migration 0007 (rooms/migrations/0007_message_search.py), which holds its SQL.

Trigram indexes every run of three characters, so any substring of three or more characters is
one indexed MATCH, in any script ("한국어" finds "한국어가 좋아요"; case-insensitive). Each word
goes to MATCH as an FTS5 string literal (in double quotes, inner quotes doubled), so no FTS5
syntax from a person ever reaches the engine. Words of one or two characters (Korean two-syllable
words: "회의") are shorter than a trigram, which the index cannot find; they are LIKE '%word%'
(``%``, ``_`` and ``\\`` escaped by Django's ``contains``) on the message rows: among the MATCH
results when the query also has a longer word, otherwise over the room's (or every) visible
message, newest first, stopping at the page's end: quick for a common word, a scan of every
message for a rare one (bench/README.md "Search" measures both).
"""

from __future__ import annotations

from django.db.models.expressions import RawSQL

from rooms.models import MessageQuerySet

# The messages whose text holds all of the FTS5 expression (a parameter).
MATCHING_ROWS = "SELECT rowid FROM rooms_message_fts WHERE rooms_message_fts MATCH %s"


def literal(word: str) -> str:
    """``word`` as an FTS5 string: whatever it holds (``"``, ``*``, ``OR``, ``NEAR(``) is text."""
    return '"' + word.replace('"', '""') + '"'


def matching(messages: MessageQuerySet, words: tuple[str, ...]) -> MessageQuerySet:
    long_words = [word for word in words if len(word) >= 3]
    if long_words:
        expression = " ".join(literal(word) for word in long_words)  # juxtaposed strings: AND
        messages = messages.filter(pk__in=RawSQL(MATCHING_ROWS, [expression]))  # noqa: S611 - constant SQL
    for word in words:
        if len(word) < 3:
            messages = messages.filter(text__contains=word)  # SQLite's LIKE: ASCII case-insensitive
    return messages

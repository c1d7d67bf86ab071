"""Search indexes over message text (rooms.search), one per engine; no model state changes.

SQLite: an external-content FTS5 table with the trigram tokenizer, kept by triggers on
rooms_message (insert, update of text, delete) and filled from the messages already there.
PostgreSQL: the pg_trgm extension and a GIN trigram index on rooms_message.text.

The SQL is written out here rather than imported, so this migration keeps doing what it did.
On SQLite, a later migration that makes Django rebuild rooms_message (most column changes do:
create a new table, copy, drop, rename) drops the triggers with the old table: such a migration
must run FORWARD_SQLITE's triggers again and rebuild. tests/test_search.py fails if it does not
(an edited message would no longer be found by its new text).
"""

from __future__ import annotations

from django.db import migrations

FORWARD_SQLITE = [
    "CREATE VIRTUAL TABLE rooms_message_fts USING fts5("
    "text, content='rooms_message', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER rooms_message_fts_insert AFTER INSERT ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER rooms_message_fts_delete AFTER DELETE ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rooms_message_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER rooms_message_fts_update AFTER UPDATE OF text ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rooms_message_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO rooms_message_fts(rowid, text) VALUES (new.id, new.text); END",
    # Index the messages already there.
    "INSERT INTO rooms_message_fts(rooms_message_fts) VALUES ('rebuild')",
]
BACKWARD_SQLITE = [
    "DROP TRIGGER IF EXISTS rooms_message_fts_update",
    "DROP TRIGGER IF EXISTS rooms_message_fts_delete",
    "DROP TRIGGER IF EXISTS rooms_message_fts_insert",
    "DROP TABLE IF EXISTS rooms_message_fts",
]
FORWARD_POSTGRESQL = [
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS rooms_message_text_trgm ON rooms_message USING gin (text gin_trgm_ops)",
]
# The extension stays: something else in the database may use it.
BACKWARD_POSTGRESQL = ["DROP INDEX IF EXISTS rooms_message_text_trgm"]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor) -> None:  # noqa: ANN001
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("rooms", "0006_bots")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": FORWARD_SQLITE, "postgresql": FORWARD_POSTGRESQL}),
            _run({"sqlite": BACKWARD_SQLITE, "postgresql": BACKWARD_POSTGRESQL}),
            elidable=False,
        )
    ]

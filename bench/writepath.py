"""The write path's parts in one process, without sockets: what a post costs to write and render,
alone and in a batch, and what each hot fragment costs to render. CPU time (time.process_time),
medians of five rounds. One command:

    .venv/bin/python bench/writepath.py                 # SQLite, a fresh file in a temporary folder
    .venv/bin/python bench/writepath.py --database-url postgres://postgres@127.0.0.1:5432/madang_wp

With a PostgreSQL URL the database must exist and be disposable (it is migrated and written to).
``make bench-post`` measures the same path through daphne and its sockets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(label: str, action: Callable[[], object], calls: int, per: int = 1) -> None:
    for _ in range(max(3, calls // 10)):
        action()
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            action()
        rounds.append((time.process_time() - start) / calls / per * 1e6)
    print(f"  {label:52s} {statistics.median(rounds):7.0f} us  ({min(rounds):.0f}-{max(rounds):.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="madang-writepath-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{folder}/db.sqlite3"
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from rooms import broadcast, fragments, writes
    from rooms.identity import Author
    from rooms.variants import Variant

    call_command("migrate", verbosity=0)
    rooms = [writes.get_or_create_room(f"writepath {n}")[0] for n in range(10)]
    author, variant = Author(key="g-bench", name="Bench"), Variant("en", "UTC")
    count = [0]

    def posts(size: int) -> broadcast.Collected:
        count[0] += 1
        batch = [
            writes.NewPost(rooms[(count[0] + k) % 10].pk, author, f"hello {count[0]}", f"{count[0]}.{k}", variant)
            for k in range(size)
        ]
        with broadcast.collected() as collected:
            writes.post_messages(batch)
        return collected

    def post_and_row() -> None:
        broadcast.lobby_rows(posts(1).moved.values())

    message = writes.post_message(rooms[0].pk, author, "hello @nobody, see https://example.com/a").message
    print(f"{django.db.connection.vendor}, {args.calls} calls a round:")
    measure("one post: write + its message fragment", lambda: posts(1), args.calls)
    measure("one post + its lobby row", post_and_row, args.calls)
    measure("ten posts of ten rooms in one batch, per post", lambda: posts(10), args.calls // 10, per=10)
    with variant.active():
        measure("render: new-message fragment", lambda: fragments.message_event(message), args.calls)
        measure("render: lobby row", lambda: fragments.lobby_row_event(rooms[0]), args.calls)
        measure("render: acknowledgement", lambda: fragments.sent("n.1"), args.calls)


if __name__ == "__main__":
    main()

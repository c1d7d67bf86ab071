"""What a second (language, time zone) variant costs a process, per event (rooms.variants).

    .venv/bin/python bench/variants.py [--runs 2000]

In one process, on a scratch SQLite database: the writer's render of a new message's fragment (what
every post pays, one variant or many), the snapshot it ships (``pack_message``: paid by every
post), and what a hub pays for each further variant its sockets use (``unpack_message`` plus the
render in that variant). Medians in microseconds, each over ``--runs`` repetitions; also for a
message with three reactions and an edit (the "changed" frame).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_us(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        DATABASE_URL=f"sqlite:///{scratch}/bench.sqlite3",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from rooms import broadcast, fragments, snapshots, variants, writes
    from rooms.identity import Author
    from rooms.models import Message

    room, _ = writes.get_or_create_room("bench")
    # Not the room's first: the usual new message continues the day (no day separator).
    writes.post_message(room.pk, Author("g-b", "Junho"), "good morning")
    new = writes.post_message(room.pk, Author("g-a", "민지"), "안녕하세요, 여러분! " * 8).message
    changed = writes.post_message(room.pk, Author("g-b", "Junho"), "a message with reactions " * 6).message
    for n, emoji in enumerate(["👍", "❤️", "🎉"]):
        writes.toggle_reaction(changed, Author(f"g-r{n}", f"R{n}"), emoji)
    writes.edit_message(changed, "edited text " * 10)
    changed = Message.objects.for_display().select_related("room").get(pk=changed.pk)
    writer, other = variants.Variant("en", "UTC"), variants.Variant("ko", "Asia/Seoul")
    rows = []
    first_of_day = writes.post_message(room.pk, Author("g-a", "민지"), "안녕하세요, 여러분! " * 8).message
    first_of_day.previous_at = None  # as the room's first message, or the first after midnight
    for label, message, kind, render in (
        ("new message", new, "posted", fragments.message_event),
        ("new message, first of its day", first_of_day, "posted", fragments.message_event),
        ("changed (3 reactions, edited)", changed, "changed", fragments.message_changed),
    ):
        with writer.active():
            rendered = median_us(lambda m=message, r=render: r(m), args.runs)
            packed = median_us(lambda m=message: snapshots.pack_message(m), args.runs)
        snapshot = {"kind": kind, **snapshots.pack_message(message)}
        with other.active():
            again = median_us(lambda s=snapshot: broadcast.render_snapshot(s), args.runs)
        rows.append((label, rendered, packed, again))
    print(f"{'fragment':32} {'writer render':>14} {'snapshot':>10} {'each further variant':>21}")
    for label, rendered, packed, again in rows:
        print(f"{label:32} {rendered:12.0f} us {packed:8.0f} us {again:19.0f} us")


if __name__ == "__main__":
    main()

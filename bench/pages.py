"""Room page load time and catch-up time in a big room (issue: "Fast fan-out", page targets).

    .venv/bin/python bench/pages.py [--messages 100000] [--missed 1000] [--runs 30]

Fills a fresh SQLite room with ``--messages`` messages, starts daphne on it the production way,
then measures, each as the median (and p90) of ``--runs`` tries:

- the room page (``GET /rooms/<slug>/``, latest 50 messages) over real HTTP;
- "load older" deep in the history (``GET /rooms/<slug>/messages/?before=<middle>``, htmx);
- catch-up: a socket that resumes ``--missed`` messages behind (send the resume frame, time until
  the whole reply has arrived). With the default catch-up limit (100), a client that missed 1,000
  gets the latest page and "load older" instead; a second server with the limit raised to
  ``--missed`` measures the full replay too.
- resume after ``--changes`` changes (edits, reactions, deletions, through ``rooms.writes``, each
  an event of the stream) made after the page's cursor: once spread over ``--changes`` different
  messages (past the default limit: the latest page; with the raised limit: every one replaced in
  place) and once concentrated on 50 messages (50 replacements whatever the number of events:
  replay costs what changed, not how many events there were).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a script (bench/pages.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers

ROOT = Path(__file__).resolve().parent.parent


def fill(db_url: str, count: int, changes: int) -> dict[str, int | str]:
    """Create the room and ``count`` messages directly (bulk), then two more rooms of ``count //
    10`` messages with ``changes`` changes each after their cursor (spread over that many
    messages, and concentrated on 50). Returns the slugs and cursors."""
    code = f"""
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.utils import timezone
from rooms.models import Message, Room
room = Room.objects.create(name="big room", slug="big-room")
now = timezone.now()
def bulk(room, count):
    batch = []
    for seq in range(1, count + 1):
        batch.append(Message(room=room, seq=seq, author_name="Bench", author_key="g-bench", posted_event=seq,
                             event=seq, text=f"message number {{seq}} with some ordinary chat text", created_at=now))
        if len(batch) == 5000:
            Message.objects.bulk_create(batch); batch = []
    Message.objects.bulk_create(batch)
    Room.objects.filter(pk=room.pk).update(last_seq=count, last_event=count, last_activity_at=now)
bulk(room, {count})
from rooms import writes
from rooms.identity import Author
def change(name, spread):
    target = Room.objects.create(name=name, slug=name)
    bulk(target, {count} // 10)
    shown = list(Message.objects.filter(room=target).order_by("-seq")[:spread])
    for n in range({changes}):
        message = shown[n % len(shown)]
        if n % 50 == 49:
            writes.delete_messages([message])
        elif n % 2:
            writes.edit_message(message, f"edited {{n}}")
        else:
            writes.toggle_reaction(message, Author(key=f"g-r{{n % 7}}", name=f"Reactor {{n % 7}}"), "👍")
    return target.slug
import json
print(json.dumps({{"big": room.slug, "cursor": {count}, "spread": change("spread", {changes}),
                  "concentrated": change("concentrated", 50), "change_cursor": {count} // 10}}))
"""
    env = {**os.environ, "DATABASE_URL": db_url}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed_get(url: str, headers: dict[str, str] | None = None) -> float:
    request = urllib.request.Request(url, headers=headers or {})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


async def timed_catch_up(base: str, slug: str, cursor: int) -> tuple[float, int]:
    from websockets.asyncio.client import connect

    async with connect(f"{base.replace('http', 'ws')}/ws/rooms/{slug}/", origin=base, max_size=None) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"cursor": str(cursor), "HEADERS": {}}))
        frame = ""
        while 'data-state="live"' not in frame:  # a long replay comes in several frames, the last marks it live
            frame += await asyncio.wait_for(ws.recv(), 30)
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, frame.count("data-seq=") + len(re.findall(r'-content"[^>]*hx-swap-oob="true"', frame))


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"median {statistics.median(ordered):.1f} ms, p90 {p90:.1f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--missed", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="madang-pages-"))
    db_url = f"sqlite:///{workdir / 'db.sqlite3'}"
    started = time.perf_counter()
    rooms = fill(db_url, args.messages, args.changes)
    slug = rooms["big"]
    took = time.perf_counter() - started
    print(f"filled {args.messages} messages and made {2 * args.changes} changes in {took:.1f} s")

    results = {}
    for limit in (None, max(args.missed, args.changes)):
        port = servers.free_port()
        env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_DEBUG": "1", "ROOMS_LOG_LEVEL": "WARNING"}
        if limit:
            env["ROOMS_CATCHUP_LIMIT"] = str(limit)
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            servers.wait_for_port(port, server)
            if limit is None:
                timed_get(f"{base}/rooms/{slug}/")  # warm up (templates, connections)
                results[f"room page (latest 50 of {args.messages})"] = summary(
                    [timed_get(f"{base}/rooms/{slug}/") for _ in range(args.runs)]
                )
                middle = args.messages // 2
                results[f"load older at seq {middle} (htmx fragment)"] = summary(
                    [
                        timed_get(f"{base}/rooms/{slug}/messages/?before={middle}", {"HX-Request": "true"})
                        for _ in range(args.runs)
                    ]
                )
                label = f"resume {args.missed} behind (default limit: latest page + load older)"
            else:
                label = f"resume {args.missed} behind (catch-up limit {limit}: full replay)"
            shape = "latest page" if limit is None else "every change replayed"
            resumes = [
                (label, slug, args.messages - args.missed),
                (f"resume after {args.changes} changes to {args.changes} messages ({shape})", rooms["spread"], None),
                (f"resume after {args.changes} changes to 50 messages", rooms["concentrated"], None),
            ]
            for name, room_slug, cursor in resumes:
                samples, counts = [], set()
                for _ in range(args.runs):
                    at = rooms["change_cursor"] if cursor is None else cursor
                    elapsed, shown = asyncio.run(timed_catch_up(base, room_slug, at))
                    samples.append(elapsed)
                    counts.add(shown)
                if limit is not None and cursor is None and "50 messages" in name:
                    name += f" (catch-up limit {limit})"
                results[name] = summary(samples) + f", {sorted(counts)} messages in the reply"
        finally:
            server.terminate()
            server.wait()
    for name, value in results.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()

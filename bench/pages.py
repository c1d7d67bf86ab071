"""Room page load time and catch-up time in a big room (issue: "Fast fan-out", page targets).

    .venv/bin/python bench/pages.py [--messages 100000] [--missed 1000] [--runs 30]

Fills a fresh SQLite room with ``--messages`` messages, starts daphne on it the production way,
then measures, each as the median (and p90) of ``--runs`` tries:

- the room page (``GET /rooms/<slug>/``, latest 50 messages) over real HTTP;
- "load older" deep in the history (``GET /rooms/<slug>/messages/?before=<middle>``, htmx);
- catch-up: a socket that resumes ``--missed`` messages behind (send the resume frame, time until
  the whole reply has arrived). With the default catch-up limit (100), a client that missed 1,000
  gets the latest page and "load older" instead; ``--catchup-limit`` raises the limit on the
  server so the full replay is measured too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def fill(db_url: str, count: int) -> str:
    """Create the room and ``count`` messages directly (bulk), return the slug."""
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
batch = []
for seq in range(1, {count} + 1):
    batch.append(Message(room=room, seq=seq, author_name="Bench", author_key="g-bench",
                         text=f"message number {{seq}} with some ordinary chat text", created_at=now))
    if len(batch) == 5000:
        Message.objects.bulk_create(batch); batch = []
Message.objects.bulk_create(batch)
Room.objects.filter(pk=room.pk).update(last_seq={count}, last_activity_at=now)
print(room.slug)
"""
    env = {**os.environ, "DATABASE_URL": db_url}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


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
        frame = await asyncio.wait_for(ws.recv(), 30)
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, frame.count("data-seq=")


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"median {statistics.median(ordered):.1f} ms, p90 {p90:.1f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--missed", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="madang-pages-"))
    db_url = f"sqlite:///{workdir / 'db.sqlite3'}"
    started = time.perf_counter()
    slug = fill(db_url, args.messages)
    print(f"filled {args.messages} messages in {time.perf_counter() - started:.1f} s")

    results = {}
    for limit in (None, args.missed):
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
            samples, counts = [], set()
            for _ in range(args.runs):
                elapsed, shown = asyncio.run(timed_catch_up(base, slug, args.messages - args.missed))
                samples.append(elapsed)
                counts.add(shown)
            results[label] = summary(samples) + f", {sorted(counts)} messages in the reply"
        finally:
            server.terminate()
            server.wait()
    for name, value in results.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()

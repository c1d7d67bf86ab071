"""A post's server CPU: validate, store, render, publish, acknowledge, with as little fan-out as a
room can have. One command, to run again after a change and compare:

    .venv/bin/python bench/postcost.py                        # SQLite, 50 rooms, 2,000 posts, 3 runs
    .venv/bin/python bench/postcost.py --database-url postgres://postgres@127.0.0.1:5432/postgres

Each run starts one daphne process the production way (``bench/servers.py``: in-memory channel
layer, ``DJANGO_DEBUG=0``, rate limits off) on a fresh database holding ``--rooms`` rooms, and
opens two sockets per room, both sessionless guests that send the resume frame and wait until
live: a sender and a receiver. Every sender first posts ``--warmup`` messages (not measured), then
its share of ``--posts``, each ``{"message": ..., "nonce": ...}`` followed by a wait for its own
acknowledgement (the fresh composer), the rooms' posts spread evenly over time at ``--rate``
posts a second in all (0: each sender posts again as soon as it is acknowledged). The phase ends
when every receiver has every acknowledged post.

Per run: the daphne process's own CPU (utime + stime from ``/proc/<pid>/stat``) over the phase,
per post (so two deliveries per post are in it: the sender's and the receiver's); posts a second;
acknowledgement latency; and the CPU other processes used meanwhile ("other CPU %", from
``/proc/stat``), which says how noisy the run was. The summary gives the median and the spread of
the runs. CPU per post is the figure to compare: on a shared machine wall-clock throughput moves
with whatever else runs, CPU time much less.

``--database-url`` with a PostgreSQL URL: the script creates a scratch database on that server
(migrated once, copied per run with ``CREATE DATABASE ... TEMPLATE``) and drops it afterwards;
the database named in the URL is only used to connect. The CPU of the PostgreSQL session(s)
serving the run's database is reported beside daphne's, not added to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import uvloop
from websockets.asyncio.client import connect

if __package__ in (None, ""):  # run as a script (bench/postcost.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers

ROOT = Path(__file__).resolve().parent.parent
TEXT = re.compile(r'<p class="message-text" dir="auto">postcost ([^<]*)</p>')
ERROR = re.compile(r'data-error="([^"]*)"')
SERVER_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-" + "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "ROOMS_LOG_LEVEL": "WARNING",
}


def setup(db_url: str, rooms: int) -> list[str]:
    """Migrate the database at ``db_url`` and create the rooms; their slugs."""
    code = f"""
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from rooms.writes import get_or_create_room
print(" ".join(get_or_create_room(f"postcost-{{i}}")[0].slug for i in range({rooms})))
"""
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_DEBUG": "1"}
    env.pop("REDIS_URL", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1].split()


class Postgres:
    """A scratch template database on the server of ``url``, and a fresh copy of it per run."""

    def __init__(self, url: str) -> None:
        self.parsed = urlparse(url)
        self.name = f"madang_postcost_{uuid.uuid4().hex[:8]}"
        self.made: list[str] = []

    def url(self, name: str) -> str:
        return urlunparse(self.parsed._replace(path=f"/{name}"))

    def sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(urlunparse(self.parsed), autocommit=True) as conn:
            conn.execute(statement)

    def create(self, template: str | None = None) -> str:
        name = f"{self.name}_{len(self.made)}" if template else self.name
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)
        return name

    def backends(self, name: str) -> list[int]:
        """The server processes serving connections to database ``name``."""
        import psycopg

        with psycopg.connect(urlunparse(self.parsed), autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name]).fetchall()
        return [pid for (pid,) in rows]

    def drop(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.remove(name)

    def drop_all(self) -> None:
        for name in reversed(self.made[:]):
            self.drop(name)


def host_busy_s() -> float:
    """CPU seconds every process on the machine has used so far (/proc/stat, all cores)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / servers.CLK_TCK


def cpu_s(pids: list[int]) -> float:
    """utime + stime of ``pids`` (a process that has gone counts nothing)."""
    total = 0.0
    for pid in pids:
        try:
            total += servers.ProcStats.read(pid).cpu_s
        except OSError:
            pass
    return total


class Socket:
    def __init__(self, port: int, slug: str) -> None:
        self.port, self.slug = port, slug
        self.seen: set[str] = set()
        self.acks: asyncio.Queue[str] = asyncio.Queue()  # "" for an acknowledgement, else the error code
        self.received_at = 0.0

    async def open(self) -> None:
        base = f"127.0.0.1:{self.port}"
        self.socket = await connect(
            f"ws://{base}/ws/rooms/{self.slug}/", origin=f"http://{base}", max_size=None, ping_interval=None
        )
        await self.socket.send(json.dumps({"cursor": "0"}))
        while 'data-state="live"' not in await asyncio.wait_for(self.socket.recv(), 60):
            pass
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for frame in self.socket:
            text = str(frame)
            self.received_at = time.monotonic()
            self.seen.update(TEXT.findall(text))
            error = ERROR.search(text)
            if error:
                self.acks.put_nowait(error.group(1))
            elif 'id="composer-nonce"' in text:
                self.acks.put_nowait("")

    async def post(self, ident: str) -> tuple[float, str]:
        """Post and wait for the answer: (seconds it took, "" or the error code)."""
        begun = time.monotonic()
        await self.socket.send(json.dumps({"message": f"postcost {ident}", "nonce": ident}))
        try:
            answer = await asyncio.wait_for(self.acks.get(), 30)
        except TimeoutError:
            answer = "unanswered"
        return time.monotonic() - begun, answer


async def open_all(sockets: list[Socket]) -> None:
    for first in range(0, len(sockets), 100):
        await asyncio.gather(*(s.open() for s in sockets[first : first + 100]))


async def wait_for(receivers: list[Socket], idents: list[set[str]], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(not want <= r.seen for r, want in zip(receivers, idents, strict=True)):
        await asyncio.sleep(0.02)


async def measure(
    port: int, pid: int, slugs: list[str], args: argparse.Namespace, db_pids: Callable[[], list[int]]
) -> dict:
    senders = [Socket(port, slug) for slug in slugs]
    receivers = [Socket(port, slug) for slug in slugs]
    everyone = [s for pair in zip(senders, receivers, strict=True) for s in pair]
    try:
        await open_all(everyone)
        tag = uuid.uuid4().hex[:6]
        # Warm-up: templates, statements, the database thread's connection; not measured.
        warm = [[f"w{tag}:{r}:{n}" for n in range(args.warmup)] for r in range(len(slugs))]
        for n in range(args.warmup):
            await asyncio.gather(*(s.post(warm[r][n]) for r, s in enumerate(senders)))
        await wait_for(receivers, [set(w) for w in warm])

        per_room = -(-args.posts // len(slugs))
        sent: list[set[str]] = [set() for _ in slugs]
        latencies: list[float] = []
        failed: dict[str, int] = {}
        interval = len(slugs) / args.rate if args.rate else 0.0

        async def send(r: int, sender: Socket, t0: float) -> None:
            for n in range(per_room):
                if interval:
                    # Rooms staggered evenly: the posts of all rooms arrive at ``--rate`` in all.
                    await asyncio.sleep(max(0.0, t0 + (n + r / len(slugs)) * interval - time.monotonic()))
                ident = f"{tag}:{r}:{n}"
                took, answer = await sender.post(ident)
                if answer:
                    failed[answer] = failed.get(answer, 0) + 1
                else:
                    sent[r].add(ident)
                    latencies.append(took * 1000)

        backends = db_pids()  # PostgreSQL: the session(s) the socket thread keeps open
        cpu0, host0, own0 = servers.ProcStats.read(pid).cpu_s, host_busy_s(), time.process_time()
        db0 = cpu_s(backends)
        t0 = time.monotonic()
        await asyncio.gather(*(send(r, s, t0) for r, s in enumerate(senders)))
        send_s = time.monotonic() - t0
        await wait_for(receivers, sent)
        cpu = servers.ProcStats.read(pid).cpu_s - cpu0
        db = cpu_s(backends) - db0
        elapsed = max(r.received_at for r in receivers) - t0
        other = host_busy_s() - host0 - cpu - db - (time.process_time() - own0)
        posts = sum(len(s) for s in sent)
        lost = sum(len(want - r.seen) for r, want in zip(receivers, sent, strict=True))
        latencies.sort()
        return {
            "rooms": len(slugs),
            "posts": posts,
            "failed": failed,
            "lost": lost,
            "cpu_us_per_post": cpu * 1e6 / max(posts, 1),
            "server_cpu_s": cpu,
            "db_backends": len(backends),
            "db_cpu_us_per_post": db * 1e6 / max(posts, 1) if backends else float("nan"),
            "posts_per_s": posts / send_s,
            "server_cpu_pct": cpu / elapsed * 100,
            "other_cpu_pct": max(0.0, other) / elapsed * 100,
            "ack_p50_ms": statistics.median(latencies) if latencies else float("nan"),
            "ack_p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
            "seconds": elapsed,
        }
    finally:
        for s in everyone:
            if hasattr(s, "socket"):
                await s.socket.close()


def spread(rows: list[dict], key: str, digits: int = 0) -> str:
    values = [r[key] for r in rows]
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--posts", type=int, default=2000, help="measured posts per run, spread over the rooms")
    parser.add_argument("--rate", type=float, default=100, help="posts a second in all; 0: closed loop")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured posts per room first")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="", help="postgres://... (default: a fresh SQLite file per run)")
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    workdir = Path(tempfile.mkdtemp(prefix="madang-postcost-"))
    postgres = Postgres(args.database_url) if args.database_url.startswith("postgres") else None
    if args.database_url and postgres is None:
        parser.error("--database-url: only postgres:// URLs (SQLite is the default)")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    rows = []
    # ServerSet copies this file for each run; with PostgreSQL the copy is an empty file nobody opens.
    template_path = workdir / "template.sqlite3"
    try:
        if postgres:
            template = postgres.create()
            slugs = setup(postgres.url(template), args.rooms)
        else:
            slugs = setup(f"sqlite:///{template_path}", args.rooms)
        for run in range(args.runs):
            env = dict(SERVER_ENV)
            database = None
            if postgres:
                database = postgres.create(template)
                env["DATABASE_URL"] = postgres.url(database)
            server = servers.ServerSet("memory", workdir, name=f"run{run}", extra_env=env)
            server.start(template_path)
            try:
                backends = partial(postgres.backends, database) if postgres and database else list
                row = uvloop.run(measure(server.ports[0], server.pids[0], slugs, args, backends))
            finally:
                server.stop()
                log = servers.scan_log(server.logs())
                server.cleanup_files()
                if database:
                    postgres.drop(database)
            row.update(run=run + 1, database="postgresql" if postgres else "sqlite", log=log)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if postgres:
            postgres.drop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    problems = sum(r["lost"] + sum(r["failed"].values()) + r["log"]["errors"] + r["log"]["tracebacks"] for r in rows)
    pace = f"paced at {args.rate:g}/s" if args.rate else "closed loop"
    lines = [
        f"{rows[0]['database']}, {args.rooms} rooms x 2 sockets, {rows[0]['posts']:,} posts per run, {pace}, "
        f"app at {commit.stdout.strip()}; median (min-max) of {len(rows)} runs:",
        f"  daphne CPU per post    {spread(rows, 'cpu_us_per_post')} us",
    ]
    if postgres:
        lines.append(f"  PostgreSQL backend CPU {spread(rows, 'db_cpu_us_per_post')} us per post (not in the above)")
    lines += [
        f"  posts/s                {spread(rows, 'posts_per_s')}",
        f"  ack p50 / p99          {spread(rows, 'ack_p50_ms', 1)} / {spread(rows, 'ack_p99_ms', 1)} ms",
        f"  daphne CPU %           {spread(rows, 'server_cpu_pct')}",
        f"  other processes' CPU   {spread(rows, 'other_cpu_pct')} % of a core (the noise)",
        f"  lost, failed, errors   {problems}",
    ]
    print("\n" + "\n".join(lines))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

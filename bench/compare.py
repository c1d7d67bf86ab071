"""Madang against the Channels tutorial's design and a bare ``websockets`` ceiling, side by side,
in every shape the fan-out issue names. One command:

    .venv/bin/python bench/compare.py                 # everything once, about 26 minutes
    .venv/bin/python bench/compare.py --quick         # 100 and 500 clients, no idle, a few minutes
    .venv/bin/python bench/compare.py --servers madang,tutorial,ceiling --sizes 1000 --repeat 5 --no-many-rooms

Servers, one after another on this machine (``--servers``):

- ``madang``: Madang on one daphne process, in-memory channel layer (the embedded default);
- ``madang-redis``: the same with ``REDIS_URL`` (the pub/sub layer);
- ``madang-redis-x2``: two daphne processes sharing one Redis and one database, the clients
  split between them, senders on both;
- ``madang-uvloop``: Madang on one daphne process whose event loop is uvloop (same daphne, same
  Twisted; only the asyncio loop under them differs), in-memory layer;
- ``madang-uvicorn``: Madang on uvicorn (uvloop, websockets), in-memory layer: not the project's
  server (daphne is), measured to show what another ASGI server would change;
- ``tutorial``: the Channels tutorial's design (``baselines/tutorial.py``: sync consumer, JSON,
  ``async_to_sync(group_send)``, channels_redis core) on daphne;
- ``ceiling``: a bare ``websockets`` broadcast server (``baselines/ceiling.py``);
- ``daphne-floor``: the same broadcast as a bare ASGI app on daphne (``baselines/daphne_floor.py``):
  what daphne itself costs, under anything it serves.

Shapes, each server:

- one room with 100, 500, 1,000 and 2,000 clients (``--sizes``; clients are added between sizes),
  each with a **saturation** phase (4 senders, each sending its next message as soon as its
  previous one came back) and then a **paced** phase (20 messages a second in total for
  ``--duration`` seconds, from 4 senders, open loop on an absolute schedule, their posts spread
  evenly over each interval; ``--lockstep``: all at the same instants, in bursts);
- **100 rooms of 10** clients: paced (2 messages a second in each room, 200 in all) and saturation
  (one closed-loop sender per room);
- **idle capacity**: a fresh process, ``--idle`` sockets connected and idle, server RSS growth per
  socket.

Per phase: deliveries expected and received, lost, duplicated and out-of-order counts, fan-out
latency (send to receipt, one clock) p50/p99/max, deliveries per second, frames per second (a
busy Madang room sends several messages in one frame), server CPU per delivery (every server
process, utime + stime), and the ratios the targets are stated in. Only messages sent in a phase
count for it: a server still delivering an earlier phase's backlog is given up to 3 minutes to go
quiet first, and its stragglers are ignored. "lost" is what had not arrived 20 s after the last
send. Bounded in time: every wait has a timeout. With ``--repeat N`` every phase runs N times in
a row and the tables show medians (losses summed, the spread of deliveries/s kept).

Also per server: connect times (handshake to live, per client) and server CPU per connect, peak
RSS, and the warning, error and traceback lines in its output (kept in
``bench/results/compare-<stamp>-logs``). The client runs on uvloop: on the stock event loop it
was the bottleneck of every row at 20,000 frames a second.
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
from dataclasses import dataclass, field
from pathlib import Path

import uvloop
from websockets.asyncio.client import connect

if __package__ in (None, ""):  # run as a script (bench/compare.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TEXT = re.compile(r'<p class="message-text" dir="auto">(bench [^<]*)</p>')
ROOMS, ROOM_SIZE = 100, 10
SENDERS = 4
KOREAN_EVERY = 0  # main() sets it from --korean-every
LOCKSTEP = False  # main() sets it from --lockstep


@dataclass
class Server:
    key: str
    name: str
    ports: list[int]
    path: Callable[[str], str]  # room name -> WebSocket path
    html: bool  # Madang speaks HTML fragments and wants a resume frame
    processes: list[subprocess.Popen[bytes]]
    cleanup: Callable[[], None] = lambda: None

    def url(self, room: str, index: int) -> tuple[str, str]:
        """The socket URL and Origin for client ``index`` (clients alternate between processes)."""
        port = self.ports[index % len(self.ports)]
        return f"ws://127.0.0.1:{port}{self.path(room)}", f"http://127.0.0.1:{port}"

    def stats(self) -> servers.ProcStats:
        """CPU seconds so far, resident and peak memory, summed over the server's processes."""
        return servers.sum_stats([servers.ProcStats.read(p.pid) for p in self.processes])

    def cpu(self) -> float:
        return self.stats().cpu_s

    def rss(self) -> int:
        return self.stats().rss_kb

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # the tutorial's sync consumers can hang daphne's shutdown
                process.kill()
                process.wait()
        self.cleanup()


LOG_DIR = Path(tempfile.gettempdir())  # main() sets bench/results/compare-<stamp>-logs
LOG_FILES: dict[int, Path] = {}  # server pid -> its output


def spawn(args: list[str], env: dict[str, str] | None = None) -> tuple[int, subprocess.Popen[bytes]]:
    """Start a server process on a free port (``{port}`` in ``args``) and wait until it listens.
    Its output goes to a log of its own in ``LOG_DIR``."""
    port = servers.free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *(arg.format(port=port) for arg in args)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    LOG_FILES[process.pid] = log
    servers.wait_for_port(port, process)
    return port, process


def logs(server: Server) -> str:
    """Everything the server's processes printed."""
    paths = [LOG_FILES.get(process.pid) for process in server.processes]
    return "\n".join(path.read_text(errors="replace") for path in paths if path and path.exists())


DAPHNE = ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}"]
UVLOOP_DAPHNE = [str(ROOT / "bench" / "uvloop_daphne.py"), "-b", "127.0.0.1", "-p", "{port}"]
# Not the project's server: measured to answer "would another ASGI server change the picture?"
UVICORN = ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--loop", "uvloop", "--ws", "websockets"]
UVICORN += ["--log-level", "warning", "--no-access-log"]
# uvicorn needs click, and with click importable autobahn (daphne's WebSocket library) styles the
# arguments of a debug log line on every send, debug on or not: 9% of a daphne fan-out's CPU under
# py-spy. The project's requirements never install click, so uvicorn lives in a directory of its
# own, on the path of its row's process only, and every daphne row runs as in production.
UVICORN_DIR = ROOT / "bench" / ".uvicorn"
UVICORN_REQUIREMENT = "uvicorn==0.54.0"


def uvicorn_path() -> str:
    """The directory uvicorn (and click, h11) are installed in, installing them on first use."""
    marker = UVICORN_DIR / f".{UVICORN_REQUIREMENT}"
    if not marker.exists():
        pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--upgrade"]
        subprocess.run([*pip, "--target", str(UVICORN_DIR), UVICORN_REQUIREMENT], check=True)
        marker.touch()
    return str(UVICORN_DIR)


def start_madang(
    *, redis_url: str | None = None, processes: int = 1, daphne: list[str] = DAPHNE, path: str = ""
) -> Server:
    workdir = Path(tempfile.mkdtemp(prefix="madang-compare-"))
    prefix = f"compare-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'madang.sqlite3'}",
        "ROOMS_RATE_BURST": "0",
        "ROOMS_RATE_PER_SEC": "0",
        "ROOMS_MAX_SOCKETS_PER_ADDRESS": "1000000",
        "ROOMS_MAX_SOCKETS_PER_SESSION": "1000000",
        # Every room is created through the lobby form from this one address (bench/loadgen.py).
        "ROOMS_NEW_ROOM_RATE": "0",
        "ROOMS_LOG_LEVEL": "WARNING",
        # As in production: with DEBUG on, Django also keeps every query's SQL (9,000 of them).
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        # The pub/sub layer REDIS_URL selects, under a key prefix of this run's own.
        env.update(DJANGO_SETTINGS_MODULE="bench.settings_pubsub", REDIS_URL=redis_url, BENCH_LAYER_PREFIX=prefix)
    setup = (
        "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','project.settings');django.setup();"
        "from django.core.management import call_command;call_command('migrate',verbosity=0);"
        "from rooms.writes import get_or_create_room;get_or_create_room('bench');"
        f"[get_or_create_room(f'bench-{{i}}') for i in range({ROOMS})]"
    )
    subprocess.run([sys.executable, "-c", setup], cwd=ROOT, env=env, check=True)
    app = "project.asgi:application"
    started = [spawn([*daphne, app], {**env, "PYTHONPATH": path} if path else env) for _ in range(processes)]
    return Server(
        "",
        "",
        [port for port, _ in started],
        lambda room: f"/ws/rooms/{room}/",
        True,
        [process for _, process in started],
        lambda: shutil.rmtree(workdir, ignore_errors=True),
    )


def start_tutorial(redis_url: str) -> Server:
    env = {**os.environ, "REDIS_URL": redis_url, "BENCH_LAYER_PREFIX": f"tutorial-{uuid.uuid4().hex[:8]}"}
    port, process = spawn([*DAPHNE, "bench.baselines.tutorial:application"], env)
    return Server("", "", [port], lambda room: f"/ws/chat/{room}/", False, [process])


def start_daphne_floor() -> Server:
    port, process = spawn([*DAPHNE, "bench.baselines.daphne_floor:application"], dict(os.environ))
    return Server("", "", [port], lambda room: f"/{room}", False, [process])


def start_ceiling() -> Server:
    port, process = spawn([str(ROOT / "bench" / "baselines" / "ceiling.py"), "--port", "{port}"])
    return Server("", "", [port], lambda room: f"/{room}", False, [process])


SERVERS: dict[str, tuple[str, Callable[[argparse.Namespace], Server]]] = {
    "madang": ("Madang (daphne, in-memory layer)", lambda a: start_madang()),
    "madang-redis": ("Madang (daphne, Redis pub/sub layer)", lambda a: start_madang(redis_url=a.redis_url)),
    "madang-redis-x2": (
        "Madang (2 daphne processes, Redis pub/sub)",
        lambda a: start_madang(redis_url=a.redis_url, processes=2),
    ),
    "madang-uvloop": ("Madang (daphne on uvloop, in-memory layer)", lambda a: start_madang(daphne=UVLOOP_DAPHNE)),
    "madang-uvicorn": (
        "Madang (uvicorn + uvloop, in-memory layer)",
        lambda a: start_madang(daphne=UVICORN, path=uvicorn_path()),
    ),
    "tutorial": ("Channels tutorial design (sync, JSON, Redis core)", lambda a: start_tutorial(a.redis_url)),
    "ceiling": ("bare websockets broadcast (ceiling)", lambda a: start_ceiling()),
    "daphne-floor": ("bare ASGI broadcast on daphne (daphne's floor)", lambda a: start_daphne_floor()),
}


def start(key: str, args: argparse.Namespace) -> Server:
    name, starter = SERVERS[key]
    server = starter(args)
    server.key, server.name = key, name
    return server


@dataclass
class Client:
    server: Server
    index: int
    room: str
    phase: str = ""
    seen: set[str] = field(default_factory=set)
    deliveries: int = 0
    frames: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    last: dict[str, int] = field(default_factory=dict)  # sender -> its last number received
    latencies: list[float] = field(default_factory=list)
    echoes: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    received_at: float = 0.0
    connect_s: float = 0.0  # handshake (and, for Madang, resume) until live

    async def open(self) -> None:
        url, origin = self.server.url(self.room, self.index)
        begun = time.monotonic()
        # Every KOREAN_EVERY-th client reads in Korean (so in Asia/Seoul): a second variant of every
        # fragment for Madang's hubs to render (rooms.variants); 0 keeps one variant.
        korean = KOREAN_EVERY and self.index % KOREAN_EVERY == 0
        headers = {"Accept-Language": "ko"} if korean else {}
        self.socket = await connect(
            url, origin=origin, open_timeout=60, max_size=None, ping_interval=None, additional_headers=headers
        )
        if self.server.html:
            await self.socket.send(json.dumps({"cursor": "0", "HEADERS": {}}))
            while 'data-state="live"' not in await asyncio.wait_for(self.socket.recv(), 60):
                pass
        self.connect_s = time.monotonic() - begun
        self.reader = asyncio.create_task(self.read())

    def texts(self, frame: str) -> list[str]:
        if self.server.html:
            return TEXT.findall(frame)
        return [json.loads(frame)["message"]]

    async def read(self) -> None:
        async for frame in self.socket:
            now = time.monotonic_ns()
            self.received_at = time.monotonic()
            counted = False
            for text in self.texts(str(frame)):
                _bench, ident, sent_ns = text.split(" ")
                phase, sender, n = ident.split(":")
                if phase != self.phase:
                    continue  # an earlier phase's straggler
                counted = True
                if ident in self.seen:
                    self.duplicates += 1
                    continue
                self.seen.add(ident)
                if int(n) < self.last.get(sender, -1):
                    self.out_of_order += 1
                self.last[sender] = max(int(n), self.last.get(sender, -1))
                self.deliveries += 1
                self.latencies.append((now - int(sent_ns)) / 1e6)
                if sender == str(self.index):
                    self.echoes.put_nowait(ident)
            self.frames += counted

    def reset(self, phase: str) -> None:
        self.phase = phase
        self.seen.clear()
        self.last.clear()
        self.latencies.clear()
        self.deliveries = self.frames = self.duplicates = self.out_of_order = 0
        while not self.echoes.empty():
            self.echoes.get_nowait()

    async def say(self, ident: str) -> None:
        text = f"bench {ident} {time.monotonic_ns()}"
        frame = {"message": text, "nonce": ident} if self.server.html else {"message": text}
        await self.socket.send(json.dumps(frame))


async def connect_all(clients: list[Client]) -> float:
    """Connect ``clients``, 100 at a time; the wall time it took."""
    started = time.monotonic()
    for first in range(0, len(clients), 100):
        await asyncio.gather(*(client.open() for client in clients[first : first + 100]))
    return time.monotonic() - started


def connect_row(server: Server, shape: str, clients: list[Client], took: float, cpu: float) -> dict:
    times = sorted(c.connect_s * 1000 for c in clients)
    return {
        "server": server.key,
        "shape": shape,
        "mode": "connect",
        "clients": len(clients),
        "seconds": took,
        "connect_p50_ms": statistics.median(times),
        "connect_p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
        "cpu_ms_per_connect": cpu * 1000 / len(clients),
    }


async def quiet(clients: list[Client], seconds: float = 2.0, limit: float = 180.0) -> None:
    """Wait until no client has received anything for ``seconds`` (a backlog drained)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if time.monotonic() - max((c.received_at for c in clients), default=0.0) >= seconds:
            return
        await asyncio.sleep(0.2)


async def phase(
    server: Server,
    rooms: dict[str, list[Client]],
    senders: list[Client],
    mode: str,
    rate: float,
    duration: float,
    shape: str,
) -> dict:
    """One measured stretch: ``senders`` post (paced at ``rate`` messages/s in all, or closed
    loop), every client of each sender's room should receive every post of that room."""
    everyone = [c for members in rooms.values() for c in members]
    await quiet(everyone)
    tag = uuid.uuid4().hex[:6]
    for client in everyone:
        client.reset(tag)
    sent: dict[str, int] = dict.fromkeys(rooms, 0)
    cpu0, t0 = server.cpu(), time.monotonic()

    async def pace(sender: Client, each: float, offset: float) -> None:
        # Each sender's schedule starts ``offset`` into the first interval, so the posts of all
        # senders together are evenly spaced at ``rate`` (with --lockstep every sender posts at the
        # same instants: bursts of one post per sender, the way this bench paced before 2026-12-04).
        await asyncio.sleep(offset)
        n, begun = 0, time.monotonic()
        while time.monotonic() - begun < duration:
            await sender.say(f"{tag}:{sender.index}:{n}")
            n += 1
            sent[sender.room] += 1
            await asyncio.sleep(max(0.0, begun + n / each - time.monotonic()))

    async def saturate(sender: Client) -> None:
        n, begun = 0, time.monotonic()
        while time.monotonic() - begun < duration:
            await sender.say(f"{tag}:{sender.index}:{n}")
            n += 1
            sent[sender.room] += 1
            try:
                await asyncio.wait_for(sender.echoes.get(), 10)
            except TimeoutError:
                break

    if mode == "paced":
        each = rate / len(senders)
        spacing = 0.0 if LOCKSTEP else 1 / rate
        await asyncio.gather(*(pace(s, each, k * spacing) for k, s in enumerate(senders)))
    else:
        await asyncio.gather(*(saturate(s) for s in senders))
    send_end = time.monotonic()
    expected = sum(sent[room] * len(members) for room, members in rooms.items())
    deadline = time.monotonic() + 20
    while sum(c.deliveries for c in everyone) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed = max(c.received_at for c in everyone) - t0 if expected else time.monotonic() - t0
    cpu = server.cpu() - cpu0
    delivered = sum(c.deliveries for c in everyone)
    frames = sum(c.frames for c in everyone)
    latencies = sorted(x for c in everyone for x in c.latencies)
    nan = float("nan")

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * q))] if latencies else nan

    return {
        "server": server.key,
        "name": server.name,
        "shape": shape,
        "mode": mode,
        "clients": len(everyone),
        "sent": sum(sent.values()),
        "expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "duplicated": sum(c.duplicates for c in everyone),
        "out_of_order": sum(c.out_of_order for c in everyone),
        "deliveries_per_s": delivered / elapsed if elapsed > 0 else nan,
        "frames_per_s": frames / elapsed if elapsed > 0 else nan,
        "send_s": send_end - t0,
        "p50_ms": statistics.median(latencies) if latencies else nan,
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else nan,
        "cpu_us_per_delivery": cpu * 1e6 / max(delivered, 1),
        "server_cpu_s": cpu,
        "server_cpu_pct": cpu / (time.monotonic() - t0) * 100,
        "server_rss_mb": server.rss() / 1024,
    }


async def one_room(server: Server, args: argparse.Namespace, emit: Callable[[dict], None]) -> None:
    clients: list[Client] = []
    try:
        for size in args.sizes:
            shape = f"1 room x {size}"
            more = [Client(server, i, "bench") for i in range(len(clients), size)]
            cpu0 = server.cpu()
            took = await connect_all(more)
            emit(connect_row(server, shape, more, took, server.cpu() - cpu0))
            clients += more
            # Saturation first: it is closed loop, so it leaves no backlog; an overloaded server's
            # paced backlog (the tutorial's) is then drained while the next size connects.
            for _ in range(args.repeat):
                for mode in ("saturate", "paced"):
                    emit(await phase(server, {"bench": clients}, clients[:SENDERS], mode, 20, args.duration, shape))
    finally:
        for client in clients:
            await client.socket.close()


async def many_rooms(server: Server, args: argparse.Namespace, emit: Callable[[dict], None]) -> None:
    rooms = {
        f"bench-{r}": [Client(server, r * ROOM_SIZE + i, f"bench-{r}") for i in range(ROOM_SIZE)] for r in range(ROOMS)
    }
    everyone = [c for members in rooms.values() for c in members]
    shape = f"{ROOMS} rooms x {ROOM_SIZE}"
    try:
        cpu0 = server.cpu()
        took = await connect_all(everyone)
        emit(connect_row(server, shape, everyone, took, server.cpu() - cpu0))
        senders = [members[0] for members in rooms.values()]
        for _ in range(args.repeat):
            for mode in ("saturate", "paced"):
                emit(await phase(server, rooms, senders, mode, 2 * ROOMS, args.duration, shape))
    finally:
        for client in everyone:
            if hasattr(client, "socket"):
                await client.socket.close()


async def idle_capacity(server: Server, count: int) -> float:
    warm = [Client(server, i, "bench") for i in range(50)]
    await connect_all(warm)
    await asyncio.sleep(1)
    before = server.rss()
    clients = [Client(server, 50 + i, "bench") for i in range(count)]
    await connect_all(clients)
    await asyncio.sleep(2)
    after = server.rss()
    for client in warm + clients:
        await client.socket.close()
    return (after - before) / count


async def run(args: argparse.Namespace, emit: Callable[[dict], None]) -> None:
    for key in args.servers:
        server = start(key, args)
        try:
            await one_room(server, args, emit)
            if args.many_rooms and not args.quick:
                await many_rooms(server, args, emit)
        finally:
            peak = server.stats().hwm_kb / 1024
            server.stop()
            text = logs(server)
            log, first = servers.scan_log(text), servers.first_problem_lines(text, limit=5)
            emit({"server": key, "mode": "stop", "peak_rss_mb": peak, "log": log, "first": first})
        if args.idle and not args.quick:
            # On a fresh process: after a load phase, freed memory would be reused and the growth
            # per socket would read too low.
            server = start(key, args)
            try:
                kb = await idle_capacity(server, args.idle)
                shape = f"idle x {args.idle}"
                emit({"server": key, "name": server.name, "shape": shape, "mode": "idle", "kb_per_socket": kb})
            finally:
                server.stop()


def fmt(value: float, digits: int = 0) -> str:
    return "" if value != value else f"{value:,.{digits}f}"  # NaN -> blank


def medians(rows: list[dict]) -> list[dict]:
    """One row per (server, shape, mode): the median of each figure over the repeats, losses and
    disorder summed, the spread of deliveries/s kept."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        if r["mode"] in ("paced", "saturate"):
            groups.setdefault((r["server"], r["shape"], r["mode"]), []).append(r)
    out = []
    for runs in groups.values():
        row = dict(runs[0])
        for key, value in runs[0].items():
            if isinstance(value, float):
                row[key] = statistics.median(r[key] for r in runs)
        for key in ("lost", "expected", "duplicated", "out_of_order"):
            row[key] = sum(r[key] for r in runs)
        rates = [r["deliveries_per_s"] for r in runs]
        row.update(runs=len(runs), rate_low=min(rates), rate_high=max(rates))
        row["per_frame"] = statistics.median(
            r["deliveries_per_s"] / r["frames_per_s"] if r["frames_per_s"] else float("nan") for r in runs
        )
        out.append(row)
    return out


def report(rows: list[dict]) -> str:
    names = {r["server"]: r["name"] for r in rows if "name" in r}
    phases = medians(rows)
    lines = [
        "| server | shape | mode | runs | deliveries/s | range | msgs/frame | p50 ms | p90 ms | p99 ms | max ms "
        "| lost | dup | ooo | CPU us/delivery | server CPU % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in phases:
        lost = f"{r['lost']:,} of {r['expected']:,}" if r["lost"] else "0"
        spread = f"{fmt(r['rate_low'])}-{fmt(r['rate_high'])}" if r["runs"] > 1 else ""
        lines.append(
            f"| {names[r['server']]} | {r['shape']} | {r['mode']} | {r['runs']} | {fmt(r['deliveries_per_s'])} "
            f"| {spread} | {fmt(r['per_frame'], 2)} | {fmt(r['p50_ms'], 1)} | {fmt(r.get('p90_ms', float('nan')), 1)} "
            f"| {fmt(r['p99_ms'], 1)} | {fmt(r['max_ms'], 1)} | {lost} | {r['duplicated']} | {r['out_of_order']} "
            f"| {fmt(r['cpu_us_per_delivery'], 1)} | {fmt(r['server_cpu_pct'])} |"
        )
    lines += server_lines(rows, names)
    ratios = ratio_lines(phases, names)
    if ratios:
        lines += ["", *ratios]
    targets = target_lines(rows, phases)
    if targets:
        lines += ["", *targets]
    return "\n".join(lines)


def server_lines(rows: list[dict], names: dict[str, str]) -> list[str]:
    """Per server: connect times per shape, peak RSS, idle memory per socket."""
    connects = [r for r in rows if r["mode"] == "connect" and "connect_p50_ms" in r]
    peaks = {r["server"]: r["peak_rss_mb"] for r in rows if r["mode"] == "stop"}
    logged = {
        r["server"]: "{warnings}/{errors}".format(
            warnings=r["log"]["warnings"], errors=r["log"]["errors"] + r["log"]["tracebacks"]
        )
        for r in rows
        if r["mode"] == "stop" and "log" in r
    }
    idle = {r["server"]: r for r in rows if r["mode"] == "idle"}
    if not (connects or peaks or idle):
        return []
    lines = [
        "",
        "| server | clients connected | took s | connect p50 ms | connect p99 ms | server CPU ms per connect |",
        "|---|---|---|---|---|---|",
    ]
    for r in connects:
        lines.append(
            f"| {names.get(r['server'], r['server'])} | {r['shape']} (+{r['clients']:,}) | {r['seconds']:.1f} "
            f"| {fmt(r['connect_p50_ms'], 1)} | {fmt(r['connect_p99_ms'], 1)} | {fmt(r['cpu_ms_per_connect'], 2)} |"
        )
    lines += [
        "",
        "| server | peak RSS MB (load run) | warnings/errors+tracebacks logged | idle sockets | RSS per idle socket |",
        "|---|---|---|---|---|",
    ]
    for key in dict.fromkeys([*peaks, *idle]):
        i = idle.get(key)
        count = i["shape"].split(" x ")[1] if i else ""
        per = f"{i['kb_per_socket']:.1f} KB" if i else ""
        peak = fmt(peaks.get(key, float("nan")))
        lines.append(f"| {names.get(key, key)} | {peak} | {logged.get(key, '')} | {count} | {per} |")
    return lines


def ratio_lines(phases: list[dict], names: dict[str, str]) -> list[str]:
    """Saturation throughput and CPU per delivery against the tutorial and the ceiling, per shape."""
    sat = {(r["server"], r["shape"]): r for r in phases if r["mode"] == "saturate"}
    out = []
    for (key, shape), row in sat.items():
        if not key.startswith("madang"):
            continue
        parts = []
        for other, label in (("tutorial", "tutorial"), ("ceiling", "ceiling")):
            base = sat.get((other, shape))
            if base and base["deliveries_per_s"] > 0 and row["cpu_us_per_delivery"] > 0:
                parts.append(
                    f"{row['deliveries_per_s'] / base['deliveries_per_s']:.2f}x the {label}'s deliveries/s "
                    f"({base['cpu_us_per_delivery'] / row['cpu_us_per_delivery']:.2f}x its CPU efficiency)"
                )
        if parts:
            out.append(f"- {names[key]}, {shape}, saturation: " + "; ".join(parts))
    return out


def target_lines(rows: list[dict], phases: list[dict]) -> list[str]:
    """The fan-out issue's targets for one daphne process (``madang``), met or missed."""
    by = {(r["server"], r["shape"], r["mode"]): r for r in phases}
    paced, sat = by.get(("madang", "1 room x 1000", "paced")), by.get(("madang", "1 room x 1000", "saturate"))
    tutorial, ceiling = (
        by.get(("tutorial", "1 room x 1000", "saturate")),
        by.get(("ceiling", "1 room x 1000", "saturate")),
    )
    idle = next((r for r in rows if r["server"] == "madang" and r["mode"] == "idle"), None)
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- {'met' if ok else 'MISSED'}: {text}")

    if paced:
        ok = paced["p99_ms"] < 250 and paced["lost"] == 0 and paced["duplicated"] == 0
        p99, lost, dup = paced["p99_ms"], paced["lost"], paced["duplicated"]
        line(ok, f"1,000 clients at 20 msg/s: p99 {p99:.0f} ms (< 250), lost {lost}, dup {dup}")
    if sat and tutorial:
        ratio = sat["deliveries_per_s"] / tutorial["deliveries_per_s"]
        line(ratio >= 10, f"saturation {ratio:.1f}x the tutorial design (>= 10x)")
    if sat and ceiling:
        ratio = sat["deliveries_per_s"] / ceiling["deliveries_per_s"]
        line(ratio >= 0.5, f"saturation {ratio:.2f}x the bare websockets ceiling (>= 0.5x)")
    if idle:
        line(idle["kb_per_socket"] < 30, f"{idle['kb_per_socket']:.1f} KB of server RSS per idle socket (< 30)")
    return ["Targets (one daphne process, one room of 1,000):", *out] if out else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, of: {', '.join(SERVERS)}")
    parser.add_argument("--sizes", default="100,500,1000,2000", help="one-room sizes, ascending")
    parser.add_argument("--idle", type=int, default=2000, help="idle sockets for the memory measure (0: skip)")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="phases per shape and mode; tables show medians")
    parser.add_argument("--quick", action="store_true", help="100 and 500 clients in one room only")
    parser.add_argument(
        "--many-rooms", action=argparse.BooleanOptionalAction, default=True, help=f"the {ROOMS} rooms of {ROOM_SIZE}"
    )
    parser.add_argument(
        "--korean-every", type=int, default=0, help="every N-th client reads in Korean: two variants (0: one)"
    )
    parser.add_argument(
        "--lockstep", action="store_true", help="paced senders post at the same instants (bursts), not spread evenly"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--report", type=Path, help="print the tables of an earlier run's .jsonl and exit")
    args = parser.parse_args()
    global KOREAN_EVERY, LOCKSTEP
    KOREAN_EVERY, LOCKSTEP = args.korean_every, args.lockstep
    if args.report:
        print(report([json.loads(line) for line in args.report.read_text().splitlines() if line.strip()]))
        return
    args.servers = [s for s in args.servers.split(",") if s]
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    args.sizes = [100, 500] if args.quick else sorted(int(s) for s in args.sizes.split(","))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    global LOG_DIR
    LOG_DIR = RESULTS / f"compare-{stamp}-logs"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    rows: list[dict] = []
    jsonl = (RESULTS / f"compare-{stamp}.jsonl").open("w")

    def emit(row: dict) -> None:
        rows.append(row)
        jsonl.write(json.dumps(row) + "\n")
        jsonl.flush()
        print(json.dumps(row), flush=True)

    started = time.monotonic()
    # The client on uvloop: it shares the machine with the server, and at 20,000 frames a second
    # the stock event loop made it the bottleneck of every row (bench/README.md).
    uvloop.run(run(args, emit))
    took = time.monotonic() - started
    text = report(rows) + f"\n\n(run compare-{stamp}, {took:.0f} s, app at {commit.stdout.strip()})\n"
    (RESULTS / f"compare-{stamp}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Madang against the Channels tutorial's design and a bare ``websockets`` ceiling, side by side.

    .venv/bin/python bench/compare.py [--clients 1000] [--idle 2000] [--duration 10]

For each server (Madang on daphne with the in-memory layer; the tutorial design on daphne with
the Redis core layer it configures; the bare websockets broadcast server) it connects
``--clients`` sockets to one room and runs, in this order:

- paced: 20 messages a second for ``--duration`` seconds from 4 senders;
- saturation: 4 senders, each sending its next message as soon as its previous one came back;
- idle capacity: ``--idle`` sockets connected and idle, server RSS growth per socket.

It reports deliveries/s, fan-out latency (send to receipt, one clock), lost and duplicated
deliveries, server CPU per 1,000 deliveries, and the ratios the project's targets are stated in.
Bounded in time: every wait has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import connect

if __package__ in (None, ""):  # run as a script (bench/compare.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers

ROOT = Path(__file__).resolve().parent.parent
TEXT = re.compile(r'<p class="message-text" dir="auto">(bench [^<]*)</p>')
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


@dataclass
class Server:
    name: str
    url: str  # the room's WebSocket URL
    origin: str
    html: bool  # Madang speaks HTML fragments and wants a resume frame
    process: subprocess.Popen | None = None


def spawn(args: list[str], env: dict[str, str] | None = None) -> tuple[int, subprocess.Popen[bytes]]:
    """Start a server process on a free port (``{port}`` in ``args``) and wait until it listens."""
    port = servers.free_port()
    process = subprocess.Popen(
        [sys.executable, *(arg.format(port=port) for arg in args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers.wait_for_port(port, process)
    return port, process


DAPHNE = ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}"]


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # the tutorial's sync consumers can hang daphne's shutdown
        server.process.kill()
        server.process.wait()


def start_madang(workdir: Path) -> Server:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'madang.sqlite3'}",
        "ROOMS_RATE_BURST": "0",
        "ROOMS_RATE_PER_SEC": "0",
        "ROOMS_MAX_SOCKETS_PER_ADDRESS": "1000000",
        "ROOMS_MAX_SOCKETS_PER_SESSION": "1000000",
        "ROOMS_LOG_LEVEL": "WARNING",
        # As in production: with DEBUG on, Django also keeps every query's SQL (9,000 of them).
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    env.pop("REDIS_URL", None)
    setup = (
        "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='project.settings';django.setup();"
        "from django.core.management import call_command;call_command('migrate',verbosity=0);"
        "from rooms.writes import get_or_create_room;get_or_create_room('bench')"
    )
    subprocess.run([sys.executable, "-c", setup], cwd=ROOT, env=env, check=True)
    port, process = spawn([*DAPHNE, "project.asgi:application"], env)
    return Server(
        "Madang (daphne, in-memory layer)",
        f"ws://127.0.0.1:{port}/ws/rooms/bench/",
        f"http://127.0.0.1:{port}",
        True,
        process,
    )


def start_tutorial(redis_url: str) -> Server:
    env = {**os.environ, "REDIS_URL": redis_url, "BENCH_LAYER_PREFIX": f"tutorial-{time.monotonic_ns()}"}
    port, process = spawn([*DAPHNE, "bench.baselines.tutorial:application"], env)
    return Server(
        "Channels tutorial (sync consumer, JSON, Redis core)",
        f"ws://127.0.0.1:{port}/ws/chat/bench/",
        f"http://127.0.0.1:{port}",
        False,
        process,
    )


def start_ceiling() -> Server:
    port, process = spawn([str(ROOT / "bench" / "baselines" / "ceiling.py"), "--port", "{port}"])
    return Server(
        "bare websockets broadcast (ceiling)", f"ws://127.0.0.1:{port}/", f"http://127.0.0.1:{port}", False, process
    )


@dataclass
class Client:
    server: Server
    index: int
    seen: set[str] = field(default_factory=set)
    deliveries: int = 0
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    echoes: asyncio.Queue | None = None

    async def open(self) -> None:
        self.echoes = asyncio.Queue()
        self.socket = await connect(
            self.server.url, origin=self.server.origin, open_timeout=30, max_size=None, ping_interval=None
        )
        if self.server.html:
            await self.socket.send(json.dumps({"cursor": "0", "HEADERS": {}}))
            while 'data-state="live"' not in await asyncio.wait_for(self.socket.recv(), 30):
                pass
        self.reader = asyncio.create_task(self.read())

    def texts(self, frame: str) -> list[str]:
        if self.server.html:
            return TEXT.findall(frame)
        return [json.loads(frame)["message"]]

    async def read(self) -> None:
        async for frame in self.socket:
            now = time.monotonic_ns()
            for text in self.texts(str(frame)):
                _bench, ident, sent_ns = text.split(" ")
                if ident in self.seen:
                    self.duplicates += 1
                    continue
                self.seen.add(ident)
                self.deliveries += 1
                self.latencies.append((now - int(sent_ns)) / 1e6)
                if ident.startswith(f"s{self.index}-"):
                    self.echoes.put_nowait(ident)

    async def say(self, ident: str) -> None:
        text = f"bench {ident} {time.monotonic_ns()}"
        frame = {"message": text, "nonce": ident} if self.server.html else {"message": text}
        await self.socket.send(json.dumps(frame))


async def connect_all(server: Server, count: int) -> list[Client]:
    clients = [Client(server, i) for i in range(count)]
    for start in range(0, count, 100):
        await asyncio.gather(*(client.open() for client in clients[start : start + 100]))
    return clients


async def phase(server: Server, clients: list[Client], mode: str, duration: float, senders: int = 4) -> dict:
    for client in clients:
        client.latencies.clear()
        client.deliveries = client.duplicates = 0
    sent = 0
    cpu0, t0 = cpu_seconds(server.process.pid), time.monotonic()

    async def pace(sender: Client, rate: float) -> None:
        nonlocal sent
        n, start = 0, time.monotonic()
        while time.monotonic() - start < duration:
            await sender.say(f"s{sender.index}-{mode}{n}")
            n += 1
            sent += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))

    async def saturate(sender: Client) -> None:
        nonlocal sent
        n, start = 0, time.monotonic()
        while time.monotonic() - start < duration:
            await sender.say(f"s{sender.index}-{mode}{n}")
            n += 1
            sent += 1
            try:
                await asyncio.wait_for(sender.echoes.get(), 10)
            except TimeoutError:
                break

    work = [pace(c, 20 / senders) if mode == "paced" else saturate(c) for c in clients[:senders]]
    await asyncio.gather(*work)
    expected = sent * len(clients)
    deadline = time.monotonic() + 20
    while sum(c.deliveries for c in clients) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(server.process.pid) - cpu0
    delivered = sum(c.deliveries for c in clients)
    latencies = sorted(x for c in clients for x in c.latencies)
    pct = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] if latencies else float("nan")  # noqa: E731
    return {
        "server": server.name,
        "mode": mode,
        "clients": len(clients),
        "sent": sent,
        "expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "duplicated": sum(c.duplicates for c in clients),
        "deliveries_per_s": delivered / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "cpu_ms_per_1k": cpu * 1e6 / max(delivered, 1),
        "server_cpu_pct": cpu / elapsed * 100,
    }


async def idle_capacity(server: Server, count: int) -> float:
    warm = await connect_all(server, 50)
    await asyncio.sleep(1)
    before = rss_kb(server.process.pid)
    clients = await connect_all(server, count)
    await asyncio.sleep(2)
    after = rss_kb(server.process.pid)
    for client in warm + clients:
        await client.socket.close()
    return (after - before) / count


async def run(args: argparse.Namespace) -> list[dict]:
    rows = []
    for start in (
        lambda: start_madang(Path(tempfile.mkdtemp(prefix="madang-compare-"))),
        lambda: start_tutorial(args.redis_url),
        start_ceiling,
    ):
        server = start()
        try:
            clients = await connect_all(server, args.clients)
            for mode in ("paced", "saturate"):
                row = await phase(server, clients, mode, args.duration)
                rows.append(row)
                print(json.dumps(row), flush=True)
            for client in clients:
                await client.socket.close()
        finally:
            stop(server)
        # Idle memory on a fresh process: after a load phase, freed memory would be reused and
        # the growth per socket would read too low.
        server = start()
        try:
            kb = await idle_capacity(server, args.idle)
            rows.append({"server": server.name, "mode": "idle", "clients": args.idle, "kb_per_socket": kb})
            print(json.dumps(rows[-1]), flush=True)
        finally:
            stop(server)
    return rows


def report(rows: list[dict]) -> str:
    lines = [
        "| server | mode | clients | deliveries/s | p50 ms | p99 ms | max ms | lost | dup | CPU ms/1k "
        "| idle KB/socket |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["mode"] == "idle":
            lines.append(f"| {r['server']} | idle | {r['clients']} | | | | | | | | {r['kb_per_socket']:.1f} |")
        else:
            lines.append(
                f"| {r['server']} | {r['mode']} | {r['clients']} | {r['deliveries_per_s']:,.0f} | {r['p50_ms']:.1f} "
                f"| {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['lost']} | {r['duplicated']} "
                f"| {r['cpu_ms_per_1k']:.1f} | |"
            )
    sat = {r["server"].split(" ")[0]: r for r in rows if r["mode"] == "saturate"}
    madang, tutorial, ceiling = sat.get("Madang"), sat.get("Channels"), sat.get("bare")
    if madang and tutorial and ceiling:
        rate, cost = "deliveries_per_s", "cpu_ms_per_1k"
        lines.append("")
        lines.append(
            f"saturation deliveries/s: Madang / tutorial = {madang[rate] / tutorial[rate]:.1f}x, "
            f"Madang / ceiling = {madang[rate] / ceiling[rate]:.2f}x; "
            f"server CPU per delivery: tutorial / Madang = {tutorial[cost] / madang[cost]:.1f}x, "
            f"Madang / ceiling = {madang[cost] / ceiling[cost]:.1f}x"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.monotonic()
    rows = asyncio.run(run(args))
    print(report(rows))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    print(f"({time.monotonic() - started:.0f} s; app at {commit.stdout.strip()})")


if __name__ == "__main__":
    main()

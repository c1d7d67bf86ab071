"""The servers under test: daphne processes running Madang exactly as production starts it.

Each benchmark row gets fresh processes on a fresh SQLite file (copied from one migrated
template), with the per-connection rate limit switched off, and a channel layer chosen by a
settings module:

    memory  project.settings, REDIS_URL unset   -> rooms.live.memory.ProcessChannelLayer
    core    bench.settings_core                 -> channels_redis.core.RedisChannelLayer
    pubsub  bench.settings_pubsub               -> channels_redis.pubsub.RedisPubSubChannelLayer

Everything a process prints goes to a log file that ``scan_log`` reads afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

LAYERS: dict[str, dict[str, str | None]] = {
    "memory": {"settings": "project.settings", "redis": None},
    "core": {"settings": "bench.settings_core", "redis": "yes"},
    "pubsub": {"settings": "bench.settings_pubsub", "redis": "yes"},
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


@dataclass
class ProcStats:
    """One reading of /proc/<pid>: CPU seconds so far, current and peak resident memory."""

    cpu_s: float
    rss_kb: int
    hwm_kb: int
    threads: int

    @classmethod
    def read(cls, pid: int) -> ProcStats:
        with open(f"/proc/{pid}/stat") as f:
            # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            rest = f.read().rsplit(")", 1)[1].split()
        cpu = (int(rest[11]) + int(rest[12])) / CLK_TCK
        status: dict[str, str] = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                status[key] = value.strip()

        def kb(key: str) -> int:
            return int(status.get(key, "0 kB").split()[0])

        return cls(cpu, kb("VmRSS"), kb("VmHWM"), int(status.get("Threads", "0")))


def sum_stats(stats: list[ProcStats]) -> ProcStats:
    return ProcStats(
        sum(s.cpu_s for s in stats),
        sum(s.rss_kb for s in stats),
        sum(s.hwm_kb for s in stats),
        sum(s.threads for s in stats),
    )


def migrate_template(workdir: Path) -> Path:
    """One migrated SQLite file; every server set starts from a copy of it."""
    path = workdir / "template.sqlite3"
    if path.exists():
        return path
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{path}",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}\n{result.stderr}")
    return path


def copy_database(template: Path, target: Path) -> None:
    """A consistent copy (the backup API), whatever state the template's WAL is in."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(template)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@dataclass
class ServerSet:
    """``count`` daphne processes sharing one database and one channel layer."""

    layer: str
    workdir: Path
    count: int = 1
    redis_url: str = DEFAULT_REDIS_URL
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = ""
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_paths: list[Path] = field(default_factory=list)
    prefix: str = ""

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"unknown layer {self.layer!r}; one of {sorted(LAYERS)}")
        if self.count > 1 and self.layer == "memory":
            raise ValueError("the in-memory layer is per process: it cannot serve one room from several")
        self.name = self.name or f"{self.layer}-{uuid.uuid4().hex[:6]}"
        # Unique per server set: nothing left in Redis by an earlier run (group members of dead
        # processes, queued messages) can reach this one, and cleanup knows exactly what is ours.
        self.prefix = f"madangbench{uuid.uuid4().hex[:10]}"
        self.db_path = self.workdir / f"{self.name}.sqlite3"

    @property
    def uses_redis(self) -> bool:
        return LAYERS[self.layer]["redis"] is not None

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": str(LAYERS[self.layer]["settings"]),
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "ROOMS_RATE_BURST": "0",
            "ROOMS_RATE_PER_SEC": "0",
            # One machine opens every socket: no per-address cap, no flood limit.
            "ROOMS_MAX_SOCKETS_PER_ADDRESS": "1000000",
            # Every room is created through the lobby form from this one address (bench/loadgen.py).
            "ROOMS_NEW_ROOM_RATE": "0",
            "ROOMS_FLOOD_BURST": "0",
            "ROOMS_FLOOD_PER_SEC": "0",
            "ROOMS_LOG_LEVEL": "INFO",
            "BENCH_LAYER_PREFIX": self.prefix,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        if self.uses_redis:
            env["REDIS_URL"] = self.redis_url
        else:
            env.pop("REDIS_URL", None)
        return env

    def start(self, template: Path) -> ServerSet:
        copy_database(template, self.db_path)
        env = self.env()
        for i in range(self.count):
            port = free_port()
            log_path = self.workdir / f"{self.name}-{i}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            self.ports.append(port)
            self.processes.append(process)
            self.log_paths.append(log_path)
        try:
            for port, process in zip(self.ports, self.processes, strict=True):
                wait_for_port(port, process)
        except (RuntimeError, TimeoutError) as error:
            self.stop()
            tail = "\n".join(self.logs().splitlines()[-15:])
            raise RuntimeError(f"{self.layer} server did not start: {error}\n{tail}") from None
        return self

    def stats(self) -> ProcStats:
        return sum_stats([ProcStats.read(pid) for pid in self.pids])

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self.uses_redis:
            self.clean_redis()

    def clean_redis(self) -> None:
        """Delete this set's keys (core layer queues and group sets); pub/sub leaves none."""
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        except Exception as error:  # cleanup must never fail a run
            print(f"warning: could not clean Redis keys {self.prefix}*: {error}", file=sys.stderr)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_paths if p.exists())

    def cleanup_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)


LOG_PATTERNS = {
    "tracebacks": re.compile(r"^Traceback \(most recent call last\)", re.M),
    "errors": re.compile(r"^\S+ \S+ (?:ERROR|CRITICAL) ", re.M),
    "warnings": re.compile(r"^\S+ \S+ WARNING ", re.M),  # e.g. the layer watch declaring an outage
    "gap_repairs": re.compile(r"gap \d+\.\.\d+, repairing from the database"),
    "frame_errors": re.compile(r"error handling a frame"),
    "broadcast_failures": re.compile(r"broadcast to \S+ failed"),
}


def scan_log(text: str) -> dict[str, int]:
    return {name: len(pattern.findall(text)) for name, pattern in LOG_PATTERNS.items()}


def first_problem_lines(text: str, limit: int = 12) -> list[str]:
    """The first few interesting log lines (errors and tracebacks), to quote in a report."""
    keep = []
    for line in text.splitlines():
        if "Traceback" in line or " ERROR " in line or " CRITICAL " in line or "Error:" in line:
            keep.append(line[:300])
            if len(keep) >= limit:
                break
    return keep


def redis_cpu_s(url: str = DEFAULT_REDIS_URL) -> float | None:
    """Redis's own CPU seconds so far (INFO cpu), or None when Redis cannot be asked."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5)
        info = client.info("cpu")
        client.close()
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except Exception:
        return None

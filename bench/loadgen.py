"""A load generator that behaves like Madang's room page, for one room and many sockets.

Each client does what a browser tab does (see templates/rooms/room.html and DESIGN.md section 3):

1. GET /rooms/<slug>/: the session cookie (guest identity), the page's cursor
   (``<input id="cursor" value="N">``) and the composer's CSRF token;
2. open ws://HOST:PORT/ws/rooms/<slug>/ with ``Origin: http://HOST:PORT`` and the cookies;
3. send the resume frame htmx's ws-send builds from ``form#resume`` on ``htmx:wsOpen``:
   ``{"cursor": "N", "HEADERS": {...}}``, and wait for the reply that marks the socket live
   (``id="connection" ... data-state="live"``).

Once every client is live, sender clients post ``{"message": ..., "nonce": ..., "HEADERS": ...}``
frames (what the composer's ws-send sends), either paced (a fixed total rate, open loop, on an
absolute schedule) or as fast as the server takes them (saturation: each sender keeps ``window``
posts in flight and sends the next one when the server acknowledges one). Each text is
``bench <run> <sender>-<n> <monotonic ns>``; every received frame is parsed for ``data-seq`` and
message texts, so latency is receipt time minus the send time carried in the text.

Every wait has a timeout; the run is bounded by connect + duration + drain timeouts.

Standalone use against a running server (the rate limit must be off on it)::

    .venv/bin/python -m bench.loadgen --url http://127.0.0.1:8000 --room bench --clients 50 \\
        --mode paced --rate 20 --duration 10 --pid <daphne pid>

``bench/run.py`` starts the servers and runs the whole comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import html
import json
import re
import resource
import statistics
import sys
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

ARTICLE = re.compile(
    r'<article\b[^>]*?\bdata-seq="(\d+)"[^>]*>.*?<p\b[^>]*\bclass="message-text"[^>]*>(.*?)</p>', re.S
)
BENCH_TEXT = re.compile(r"^bench (\S+) (\S+) (\d+)$")
CURSOR = re.compile(r'<input\b[^>]*\bid="cursor"[^>]*>')
VALUE = re.compile(r'\bvalue="([^"]*)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
WS_CONNECT = re.compile(r'ws-connect="([^"]+)"')
DATA_ERROR = re.compile(r'id="chat-error"[^>]*\bdata-error="([^"]+)"')

HTTP_TIMEOUT = 20.0


def raise_fd_limit() -> int:
    """Many sockets need many descriptors: raise the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def htmx_headers(trigger: str, page_url: str) -> dict[str, Any]:
    """The HEADERS htmx 2's ws extension adds (api.getHeaders on the ws-send form)."""
    return {
        "HX-Request": "true",
        "HX-Trigger": trigger,
        "HX-Trigger-Name": None,
        "HX-Target": trigger,
        "HX-Current-URL": page_url,
    }


# --- HTTP, the way a browser would: cookies kept per client -----------------------------------


@dataclass
class Page:
    url: str
    cookie_header: str
    cursor: str
    csrf: str
    ws_path: str


def _opener(jar: CookieJar) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def fetch_room_page(page_url: str) -> Page:
    jar = CookieJar()
    with _opener(jar).open(urllib.request.Request(page_url), timeout=HTTP_TIMEOUT) as response:
        body = response.read().decode("utf-8")
    cursor_tag = CURSOR.search(body)
    if cursor_tag is None:
        raise RuntimeError(f"no #cursor input on {page_url}")
    cursor = VALUE.search(cursor_tag.group(0))
    ws = WS_CONNECT.search(body)
    csrf = CSRF.search(body)
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "sessionid=" not in cookies:
        raise RuntimeError(f"{page_url} set no session cookie (got {cookies!r})")
    return Page(
        url=page_url,
        cookie_header=cookies,
        cursor=cursor.group(1) if cursor else "0",
        csrf=csrf.group(1) if csrf else "",
        ws_path=html.unescape(ws.group(1)) if ws else "",
    )


def create_room(base_url: str, name: str) -> str:
    """Create (or enter) a room through the lobby form, as a person would; returns its slug."""
    jar = CookieJar()
    opener = _opener(jar)
    with opener.open(urllib.request.Request(base_url + "/"), timeout=HTTP_TIMEOUT) as response:
        body = response.read().decode("utf-8")
    csrf = CSRF.search(body)
    if csrf is None:
        raise RuntimeError("no CSRF token in the lobby form")
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf.group(1), "name": name}).encode()
    request = urllib.request.Request(base_url + "/rooms/", data=data, headers={"Origin": base_url})
    with opener.open(request, timeout=HTTP_TIMEOUT) as response:
        final = response.geturl()
    path = urllib.parse.urlparse(final).path
    match = re.fullmatch(r"/rooms/([^/]+)/", path)
    if match is None:
        raise RuntimeError(f"creating room {name!r} ended at {final}, not a room page")
    return urllib.parse.unquote(match.group(1))


# --- one simulated browser tab ---------------------------------------------------------------


@dataclass
class Shared:
    """What all clients of one run write into."""

    run_id: str
    latencies_ns: list[int] = field(default_factory=list)
    delivered: int = 0
    first_send_ns: int = 0
    last_send_ns: int = 0
    last_receive_ns: int = 0
    sent: int = 0
    acked: set[str] = field(default_factory=set)
    failed: collections.Counter[str] = field(default_factory=collections.Counter)
    seen_anywhere: set[str] = field(default_factory=set)
    measuring: bool = False


class Client:
    def __init__(self, index: int, base_url: str, slug: str, shared: Shared, window: int = 1) -> None:
        self.index = index
        self.base_url = base_url
        self.slug = slug
        self.shared = shared
        self.page: Page | None = None
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.live = asyncio.Event()
        self.connect_s: float | None = None
        self.http_s: float | None = None
        self.got: set[str] = set()
        self.max_seq = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.resets = 0
        self.frames = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.pending: collections.deque[str] = collections.deque()
        self.window = window
        self.slot = asyncio.Event()
        self.slot.set()
        self.sent_count = 0
        self.closing = False
        self.closed_code: int | None = None
        self.connect_error: str | None = None
        self.dead = False

    @property
    def page_url(self) -> str:
        return f"{self.base_url}/rooms/{urllib.parse.quote(self.slug)}/"

    async def connect(self, pool: ThreadPoolExecutor, timeout: float) -> None:
        start = time.monotonic()
        try:
            loop = asyncio.get_running_loop()
            self.page = await asyncio.wait_for(loop.run_in_executor(pool, fetch_room_page, self.page_url), timeout)
            self.http_s = time.monotonic() - start
            host = urllib.parse.urlparse(self.base_url).netloc
            ws_path = self.page.ws_path or f"/ws/rooms/{urllib.parse.quote(self.slug)}/"
            self.ws = await websockets.connect(
                f"ws://{host}{ws_path}",
                origin=self.base_url,  # type: ignore[arg-type]
                additional_headers={"Cookie": self.page.cookie_header},
                open_timeout=timeout,
                close_timeout=3,
                ping_interval=None,  # browsers answer pings but do not send them
                max_size=2**22,
                max_queue=256,
            )
            self.reader = asyncio.create_task(self.read())
            resume = {"cursor": self.page.cursor, "HEADERS": htmx_headers("resume", self.page_url)}
            await self.ws.send(json.dumps(resume))
            await asyncio.wait_for(self.live.wait(), timeout)
            if self.dead:
                raise RuntimeError(f"socket closed before going live (code {self.closed_code})")
            self.connect_s = time.monotonic() - start
        except Exception as error:
            self.connect_error = f"{type(error).__name__}: {error}"[:200]

    async def read(self) -> None:
        try:
            async for frame in self.ws:
                self.handle(frame, time.monotonic_ns())
        except ConnectionClosed:
            pass
        except Exception as error:
            self.errors[f"reader:{type(error).__name__}"] += 1
        finally:
            if self.ws is not None and self.ws.close_code is not None:
                self.closed_code = self.ws.close_code
            self.dead = True
            self.live.set()  # wakes a connect() still waiting; it checks self.dead
            self.slot.set()

    def handle(self, frame: str | bytes, now: int) -> None:
        self.frames += 1
        if isinstance(frame, bytes):
            self.errors["binary_frame"] += 1
            return
        if 'id="connection"' in frame and 'data-state="live"' in frame:
            self.live.set()
        if 'id="messages" hx-swap-oob="innerHTML"' in frame:
            self.resets += 1
        shared = self.shared
        for match in ARTICLE.finditer(frame):
            seq = int(match.group(1))
            bench = BENCH_TEXT.match(html.unescape(match.group(2)).strip())
            if bench is None or bench.group(1) != shared.run_id:
                self.max_seq = max(self.max_seq, seq)
                continue
            key = bench.group(2)
            if key in self.got:
                self.duplicates += 1
                continue
            self.got.add(key)
            if seq < self.max_seq:
                self.out_of_order += 1
            else:
                self.max_seq = seq
            shared.seen_anywhere.add(key)
            shared.delivered += 1
            shared.latencies_ns.append(now - int(bench.group(3)))
            shared.last_receive_ns = now
        # The server answers each post on this socket in order: an acknowledgement (a fresh
        # composer) or an error fragment.
        if 'id="composer-nonce"' in frame:
            if self.pending:
                shared.acked.add(self.pending.popleft())
            self.slot.set()
        else:
            error = DATA_ERROR.search(frame)
            if error:
                if self.pending:
                    self.pending.popleft()
                    shared.failed[error.group(1)] += 1
                else:
                    self.errors[error.group(1)] += 1
                self.slot.set()

    async def post(self) -> bool:
        """Send one message; False if the socket is gone."""
        if self.ws is None or self.closed_code is not None:
            return False
        key = f"{self.index}-{self.sent_count}"
        self.sent_count += 1
        now = time.monotonic_ns()
        frame = {
            "csrfmiddlewaretoken": self.page.csrf if self.page else "",
            "nonce": f"{self.shared.run_id}-{key}",
            "message": f"bench {self.shared.run_id} {key} {now}",
            "HEADERS": htmx_headers("composer", self.page_url),
        }
        self.pending.append(key)
        if len(self.pending) >= self.window:
            self.slot.clear()
        shared = self.shared
        shared.first_send_ns = shared.first_send_ns or now
        shared.last_send_ns = now
        shared.sent += 1
        try:
            await asyncio.wait_for(self.ws.send(json.dumps(frame)), 10)
        except (ConnectionClosed, asyncio.TimeoutError):
            shared.failed["send_failed"] += 1
            return False
        return True

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:
                pass
        if self.reader is not None:
            self.reader.cancel()
            try:
                await self.reader
            except BaseException:
                pass


# --- one measured run ------------------------------------------------------------------------


@dataclass
class Config:
    base_urls: list[str]
    slug: str
    clients: int = 100
    senders: int = 1
    mode: str = "paced"  # or "saturate"
    rate: float = 20.0  # total messages per second (paced)
    duration: float = 10.0
    window: int = 1  # posts in flight per sender (saturate)
    connect_concurrency: int = 50
    connect_timeout: float = 20.0
    drain_timeout: float = 20.0


class LoopLag:
    """How late the load generator's own event loop wakes up: a busy client inflates latency."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.05)
            self.samples.append(time.monotonic() - start - 0.05)

    def start(self) -> None:
        self.samples.clear()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, float | None]:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        values = sorted(self.samples)
        return {
            "loop_lag_p99_ms": _ms(percentile(values, 0.99)),
            "loop_lag_max_ms": _ms(values[-1] if values else None),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _ns_ms(ns: float | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 2)


StatsProbe = Any  # a callable returning an object with cpu_s, rss_kb, hwm_kb (servers.ProcStats)


async def run_load(cfg: Config, probe: StatsProbe | None = None) -> dict[str, Any]:
    """Connect, wait for every socket to be live, send, drain, and report."""
    shared = Shared(run_id=uuid.uuid4().hex[:8])
    clients = [
        Client(i, cfg.base_urls[i % len(cfg.base_urls)], cfg.slug, shared, window=cfg.window)
        for i in range(cfg.clients)
    ]
    result: dict[str, Any] = {
        "run_id": shared.run_id,
        "mode": cfg.mode,
        "clients": cfg.clients,
        "senders": cfg.senders,
        "target_rate": cfg.rate if cfg.mode == "paced" else None,
        "duration_s": cfg.duration,
        "servers": len(cfg.base_urls),
    }
    lag = LoopLag()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    before = probe() if probe else None

    # 1. Connect, like browser tabs opening the page.
    connect_start = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bench-http")
    gate = asyncio.Semaphore(cfg.connect_concurrency)

    async def open_one(client: Client) -> None:
        async with gate:
            await client.connect(pool, cfg.connect_timeout)

    try:
        await asyncio.wait_for(
            asyncio.gather(*(open_one(c) for c in clients)),
            cfg.connect_timeout * (cfg.clients / cfg.connect_concurrency + 2),
        )
    except asyncio.TimeoutError:
        pass
    pool.shutdown(wait=False, cancel_futures=True)
    connect_phase = time.monotonic() - connect_start
    live = [c for c in clients if c.connect_s is not None]
    connect_times = sorted(c.connect_s for c in live if c.connect_s is not None)
    result.update(
        {
            "connected": len(live),
            "connect_failures": cfg.clients - len(live),
            "connect_errors": dict(collections.Counter(c.connect_error for c in clients if c.connect_error)),
            "connect_phase_s": round(connect_phase, 2),
            "connect_p50_ms": _ms(percentile(connect_times, 0.5)),
            "connect_max_ms": _ms(connect_times[-1] if connect_times else None),
        }
    )
    await asyncio.sleep(0.5)  # let the server settle (sessions written, group joins done)
    after_connect = probe() if probe else None

    # 2. Send.
    senders = live[: cfg.senders]
    result["senders"] = len(senders)
    lag.start()
    measure_start = time.monotonic()
    late = 0
    if senders:
        if cfg.mode == "paced":
            total = round(cfg.rate * cfg.duration)
            start = time.monotonic()
            for k in range(total):
                delay = start + k / cfg.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.010:
                    late += 1
                await senders[k % len(senders)].post()
        else:
            end = time.monotonic() + cfg.duration

            async def pump(sender: Client) -> None:
                while time.monotonic() < end:
                    try:
                        await asyncio.wait_for(sender.slot.wait(), max(0.01, end - time.monotonic()))
                    except asyncio.TimeoutError:
                        return
                    if time.monotonic() >= end or not await sender.post():
                        return

            await asyncio.wait_for(asyncio.gather(*(pump(s) for s in senders)), cfg.duration + 15)
    send_phase = time.monotonic() - measure_start

    # 3. Drain: wait until every live client has every acknowledged message (or time runs out).
    drain_start = time.monotonic()
    drained = False
    while time.monotonic() - drain_start < cfg.drain_timeout:
        outstanding = sum(len(s.pending) for s in senders if s.closed_code is None)
        expected_now = len(shared.acked | shared.seen_anywhere) * len(live)
        if outstanding == 0 and shared.delivered >= expected_now:
            drained = True
            break
        await asyncio.sleep(0.05)
    drain_s = time.monotonic() - drain_start
    measure_end = time.monotonic()
    after = probe() if probe else None
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    result.update(await lag.stop())

    # 4. Tally.
    expected_keys = shared.acked | shared.seen_anywhere
    expected = len(expected_keys) * len(live)
    delivered = sum(len(c.got & expected_keys) for c in live)
    lat = sorted(shared.latencies_ns)
    span_ns = (shared.last_receive_ns - shared.first_send_ns) if shared.first_send_ns and lat else 0
    closed_early = [c for c in live if c.closed_code is not None]
    result.update(
        {
            "sent": shared.sent,
            "acked": len(shared.acked),
            "send_failed": dict(shared.failed),
            "late_sends": late,
            "send_phase_s": round(send_phase, 2),
            "msgs_per_s": round(len(shared.acked) / send_phase, 1) if send_phase > 0 else None,
            "expected": expected,
            "delivered": delivered,
            "lost": expected - delivered,
            "duplicated": sum(c.duplicates for c in live),
            "out_of_order": sum(c.out_of_order for c in live),
            "history_resets": sum(c.resets for c in live),
            "closed_early": len(closed_early),
            "close_codes": dict(collections.Counter(c.closed_code for c in closed_early)),
            "client_errors": dict(sum((c.errors for c in clients), collections.Counter())),
            "drained": drained,
            "drain_s": round(drain_s, 2),
            "lat_p50_ms": _ns_ms(percentile(lat, 0.50)),
            "lat_p90_ms": _ns_ms(percentile(lat, 0.90)),
            "lat_p99_ms": _ns_ms(percentile(lat, 0.99)),
            "lat_max_ms": _ns_ms(lat[-1] if lat else None),
            "lat_mean_ms": _ns_ms(statistics.fmean(lat) if lat else None),
            "deliveries_per_s": round(shared.delivered / (span_ns / 1e9), 1) if span_ns > 0 else None,
            "loadgen_cpu_s": round(
                (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime), 2
            ),
            "loadgen_peak_rss_mb": round(usage1.ru_maxrss / 1024, 1),
        }
    )
    if before and after_connect and after:
        window = measure_end - measure_start
        cpu = after.cpu_s - after_connect.cpu_s
        result.update(
            {
                "server_cpu_s": round(cpu, 2),
                "server_cpu_pct": round(100 * cpu / window, 1) if window > 0 else None,
                "server_connect_cpu_s": round(after_connect.cpu_s - before.cpu_s, 2),
                "server_rss_start_mb": round(before.rss_kb / 1024, 1),
                "server_rss_live_mb": round(after_connect.rss_kb / 1024, 1),
                "server_peak_rss_mb": round(after.hwm_kb / 1024, 1),
                "kb_per_conn": round((after_connect.rss_kb - before.rss_kb) / max(1, len(live)), 1),
                "cpu_ms_per_1k_deliveries": round(1000 * cpu / (delivered / 1000), 1) if delivered else None,
            }
        )

    # 5. Close, bounded.
    try:
        await asyncio.wait_for(asyncio.gather(*(c.close() for c in clients), return_exceptions=True), 20)
    except asyncio.TimeoutError:
        result["close_timeout"] = True
    return result


def summary_line(r: dict[str, Any]) -> str:
    return (
        f"{r.get('mode')} clients={r.get('connected')}/{r.get('clients')} acked={r.get('acked')} "
        f"delivered={r.get('delivered')}/{r.get('expected')} lost={r.get('lost')} dup={r.get('duplicated')} "
        f"ooo={r.get('out_of_order')} p50={r.get('lat_p50_ms')}ms p99={r.get('lat_p99_ms')}ms "
        f"max={r.get('lat_max_ms')}ms deliv/s={r.get('deliveries_per_s')} cpu={r.get('server_cpu_pct')}%"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", action="append", required=True, help="server base URL (repeat for several)")
    parser.add_argument("--room", default="bench", help="room name to create or enter")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--senders", type=int, default=1)
    parser.add_argument("--mode", choices=["paced", "saturate"], default="paced")
    parser.add_argument("--rate", type=float, default=20.0, help="total msgs/s (paced)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=1, help="posts in flight per sender (saturate)")
    parser.add_argument("--drain-timeout", type=float, default=20.0)
    parser.add_argument("--pid", type=int, action="append", default=[], help="server pid(s) for CPU/RSS")
    args = parser.parse_args(argv)
    raise_fd_limit()
    from bench.servers import ProcStats, sum_stats

    slug = create_room(args.url[0], args.room)
    probe = (lambda: sum_stats([ProcStats.read(p) for p in args.pid])) if args.pid else None
    cfg = Config(
        base_urls=[u.rstrip("/") for u in args.url], slug=slug, clients=args.clients, senders=args.senders,
        mode=args.mode, rate=args.rate, duration=args.duration, window=args.window,
        drain_timeout=args.drain_timeout,
    )
    result = asyncio.run(run_load(cfg, probe))
    print(json.dumps(result))
    print(summary_line(result), file=sys.stderr)
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 and result["connect_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

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

    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:8000 --room bench --clients 50 \\
        --mode paced --rate 20 --duration 10 --pid <daphne pid>

``bench/run.py`` starts the servers and runs the whole comparison (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import html
import json
import random
import re
import resource
import statistics
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

ARTICLE = re.compile(r'<article\b[^>]*?\bdata-seq="(\d+)"[^>]*>.*?<p\b[^>]*\bclass="message-text"[^>]*>(.*?)</p>', re.S)
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
class Phase:
    """One measured stretch of sending; message texts carry its id, so stragglers from an
    earlier phase on the same sockets are never counted in a later one."""

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


class Client:
    """One browser tab: the page's cookies and cursor, one socket at a time, and htmx's
    reconnect rule (after 1006, 1011, 1012 or 1013, a full-jitter delay, then a fresh socket whose
    first frame is the resume with the page's current cursor; posts made meanwhile are queued and
    sent after it, as the ws extension's message queue does)."""

    RETRY_CODES = frozenset({1006, 1011, 1012, 1013})

    def __init__(self, index: int, base_url: str, slug: str) -> None:
        self.index = index
        self.base_url = base_url
        self.slug = slug
        self.page: Page | None = None
        self.cursor = "0"  # the page's #cursor: every event frame moves it (out of band)
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.live = asyncio.Event()  # the current socket has had its resume answered
        self.opened_once = asyncio.Event()
        self.open = False  # the current socket is open and its resume has been sent
        self.dead = False  # closed for good (a code htmx does not retry, or we closed it)
        self.closing = False
        self.connect_s: float | None = None
        self.connect_error: str | None = None
        self.closed_code: int | None = None
        self.close_codes: collections.Counter[str] = collections.Counter()
        self.reconnects = 0
        self.max_seq = 0  # across phases: seq only grows in a room
        self.seqs: set[int] = set()
        self.frames = 0
        self.sent_count = 0
        self.queue: list[tuple[Phase, str, str]] = []  # posts made while the socket was down
        self.pending: collections.deque[tuple[Phase, str]] = collections.deque()
        self.window = 1
        self.slot = asyncio.Event()
        self.slot.set()
        self.begin(Phase(run_id=""))

    def begin(self, phase: Phase, window: int = 1) -> None:
        """Per-phase counters start from zero."""
        self.phase = phase
        self.window = window
        self.got: set[str] = set()
        self.duplicates = 0
        self.out_of_order = 0
        self.resets = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.close_codes = collections.Counter()
        self.reconnects = 0

    @property
    def page_url(self) -> str:
        return f"{self.base_url}/rooms/{urllib.parse.quote(self.slug)}/"

    async def connect(self, pool: ThreadPoolExecutor, timeout: float) -> None:
        """Load the page, open the socket, resume, and wait until the server says live."""
        start = time.monotonic()
        self.timeout = timeout
        try:
            loop = asyncio.get_running_loop()
            self.page = await asyncio.wait_for(loop.run_in_executor(pool, fetch_room_page, self.page_url), timeout)
            self.cursor = self.page.cursor
            self.task = asyncio.create_task(self.run())
            await asyncio.wait_for(self.opened_once.wait(), timeout * 2)
            if not self.live.is_set():
                raise RuntimeError(f"socket closed before going live (codes {dict(self.close_codes)})")
            self.connect_s = time.monotonic() - start
        except Exception as error:
            self.connect_error = f"{type(error).__name__}: {error}"[:200]
            self.dead = True
            if self.task is not None:
                self.task.cancel()

    async def _open(self) -> None:
        assert self.page is not None
        host = urllib.parse.urlparse(self.base_url).netloc
        ws_path = self.page.ws_path or f"/ws/rooms/{urllib.parse.quote(self.slug)}/"
        self.ws = await websockets.connect(
            f"ws://{host}{ws_path}",
            origin=self.base_url,  # type: ignore[arg-type]
            additional_headers={"Cookie": self.page.cookie_header},
            open_timeout=self.timeout,
            close_timeout=3,
            ping_interval=None,  # browsers answer the server's pings but send none
            max_size=2**22,
            max_queue=256,
        )

    async def run(self) -> None:
        """The socket's life, reconnecting the way the htmx ws extension does."""
        retry = 0
        while not self.closing:
            code = 1006
            try:
                await self._open()
                retry = 0
                # htmx:wsOpen fires the resume form's ws-send first, then the queue is flushed.
                resume = {"cursor": self.cursor, "HEADERS": htmx_headers("resume", self.page_url)}
                await self.ws.send(json.dumps(resume))
                while self.queue:
                    owner, key, frame = self.queue.pop(0)
                    self.pending.append((owner, key))
                    await self.ws.send(frame)
                self.open = True
                async for frame in self.ws:
                    self.handle(frame, time.monotonic_ns())
                code = self.ws.close_code if self.ws.close_code is not None else 1006
            except ConnectionClosed:
                code = self.ws.close_code if self.ws is not None and self.ws.close_code is not None else 1006
            except asyncio.CancelledError:
                raise
            except Exception as error:  # could not open (refused, timeout): the browser sees 1006
                self.errors[f"open:{type(error).__name__}"] += 1
            self.open = False
            self.live.clear()
            self.closed_code = code
            if self.closing:
                break
            self.close_codes[str(code)] += 1
            # Posts in flight on the dead socket get no answer; the composer keeps their text.
            for owner, _key in self.pending:
                owner.failed["unanswered_at_close"] += 1
            self.pending.clear()
            self.slot.set()
            if code not in self.RETRY_CODES:
                break
            self.reconnects += 1
            await asyncio.sleep(random.random() * 2 ** min(retry, 6))  # htmx's "full-jitter", in s
            retry += 1
        self.dead = True
        self.opened_once.set()
        self.slot.set()

    def handle(self, frame: str | bytes, now: int) -> None:
        self.frames += 1
        if isinstance(frame, bytes):
            self.errors["binary_frame"] += 1
            return
        if 'id="connection"' in frame and 'data-state="live"' in frame:
            self.live.set()
            self.opened_once.set()
        cursor_tag = CURSOR.search(frame)
        if cursor_tag is not None:
            value = VALUE.search(cursor_tag.group(0))
            if value is not None:
                self.cursor = value.group(1)
        # A reset replaces the whole history (the socket missed more than the catch-up bound): its
        # messages may repeat ones shown before, which is not a duplicate on the page.
        reset = 'id="messages" hx-swap-oob="innerHTML"' in frame
        self.resets += reset
        phase = self.phase
        for match in ARTICLE.finditer(frame):
            seq = int(match.group(1))
            if seq in self.seqs:
                if not reset:
                    self.duplicates += 1
                continue
            if seq < self.max_seq and not reset:
                self.out_of_order += 1
            self.seqs.add(seq)
            self.max_seq = max(self.max_seq, seq)
            bench = BENCH_TEXT.match(html.unescape(match.group(2)).strip())
            if bench is None or bench.group(1) != phase.run_id:
                continue  # not this phase's (another phase's straggler, or someone else's)
            key = bench.group(2)
            if key in self.got:
                self.duplicates += 1
                continue
            self.got.add(key)
            phase.seen_anywhere.add(key)
            phase.delivered += 1
            phase.latencies_ns.append(now - int(bench.group(3)))
            phase.last_receive_ns = now
        # The server answers each post on this socket in order: an acknowledgement (a fresh
        # composer with a new nonce) or an error fragment.
        if 'id="composer-nonce"' in frame:
            if self.pending:
                owner, key = self.pending.popleft()
                owner.acked.add(key)
            self.slot.set()
        else:
            error = DATA_ERROR.search(frame)
            if error:
                if self.pending:
                    owner, _key = self.pending.popleft()
                    owner.failed[error.group(1)] += 1
                else:
                    self.errors[error.group(1)] += 1
                self.slot.set()

    async def post(self) -> bool:
        """Send one message, as the composer's ws-send does; False if the tab is gone for good."""
        if self.dead or self.page is None:
            return False
        phase = self.phase
        key = f"{self.index}-{self.sent_count}"
        self.sent_count += 1
        now = time.monotonic_ns()
        frame = json.dumps(
            {
                "csrfmiddlewaretoken": self.page.csrf,
                "nonce": f"{phase.run_id}-{key}",
                "message": f"bench {phase.run_id} {key} {now}",
                "HEADERS": htmx_headers("composer", self.page_url),
            }
        )
        phase.first_send_ns = phase.first_send_ns or now
        phase.last_send_ns = now
        phase.sent += 1
        if len(self.pending) + len(self.queue) + 1 >= self.window:
            self.slot.clear()
        if not self.open:
            self.queue.append((phase, key, frame))  # the ws extension queues sends while it is down
            return True
        self.pending.append((phase, key))
        try:
            await asyncio.wait_for(self.ws.send(frame), 10)
        except (TimeoutError, ConnectionClosed):
            if self.pending and self.pending[-1] == (phase, key):
                self.pending.pop()
            self.queue.append((phase, key, frame))  # sent after the reconnect's resume
        return True

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


# --- a set of open tabs, and measured phases on them -----------------------------------------


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
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        values = sorted(self.samples)
        return {
            "loop_lag_p99_ms": _ms(percentile(values, 0.99)),
            "loop_lag_max_ms": _ms(values[-1] if values else None),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _ns_ms(ns: float | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 2)


Probe = Callable[[], Any]  # returns an object with cpu_s, rss_kb, hwm_kb (bench.servers.ProcStats)


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Session:
    """``clients`` browser tabs open on one room, spread over the given servers."""

    def __init__(self, base_urls: list[str], slug: str, clients: int, probe: Probe | None = None) -> None:
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.slug = slug
        self.probe = probe
        self.clients = [Client(i, self.base_urls[i % len(self.base_urls)], slug) for i in range(clients)]
        self.connect_result: dict[str, Any] = {}

    @property
    def live(self) -> list[Client]:
        return [c for c in self.clients if c.connect_s is not None and not c.dead]

    async def connect(self, concurrency: int = 50, timeout: float = 20.0) -> dict[str, Any]:
        """Open every tab (page GET, socket, resume) and wait until each says it is live."""
        before = self.probe() if self.probe else None
        cpu0 = _cpu_self()
        start = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bench-http")
        gate = asyncio.Semaphore(concurrency)

        async def open_one(client: Client) -> None:
            async with gate:
                await client.connect(pool, timeout)

        try:
            await asyncio.wait_for(
                asyncio.gather(*(open_one(c) for c in self.clients)),
                timeout * (len(self.clients) / concurrency + 2),
            )
        except TimeoutError:
            pass
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        elapsed = time.monotonic() - start
        await asyncio.sleep(0.5)  # sessions written, group joins done
        after = self.probe() if self.probe else None
        live = self.live
        times = sorted(c.connect_s for c in live if c.connect_s is not None)
        result: dict[str, Any] = {
            "clients": len(self.clients),
            "connected": len(live),
            "connect_failures": len(self.clients) - len(live),
            "connect_errors": dict(collections.Counter(c.connect_error for c in self.clients if c.connect_error)),
            "connect_phase_s": round(elapsed, 2),
            "connect_p50_ms": _ms(percentile(times, 0.5)),
            "connect_p99_ms": _ms(percentile(times, 0.99)),
            "connect_max_ms": _ms(times[-1] if times else None),
            "loadgen_connect_cpu_s": round(_cpu_self() - cpu0, 2),
        }
        if before is not None and after is not None:
            result.update(
                {
                    "server_connect_cpu_s": round(after.cpu_s - before.cpu_s, 2),
                    "server_rss_idle_mb": round(before.rss_kb / 1024, 1),
                    "server_rss_live_mb": round(after.rss_kb / 1024, 1),
                    "kb_per_conn": round((after.rss_kb - before.rss_kb) / max(1, len(live)), 1),
                }
            )
        self.connect_result = result
        return result

    async def phase(
        self,
        mode: str = "paced",
        *,
        senders: int = 1,
        rate: float = 20.0,
        duration: float = 10.0,
        window: int = 1,
        drain_timeout: float = 20.0,
        stall_timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Send for ``duration`` seconds, wait for every delivery (or ``drain_timeout``), tally."""
        phase = Phase(run_id=uuid.uuid4().hex[:8])
        live = self.live
        for client in self.clients:
            client.begin(phase, window)
        active = live[:senders]
        result: dict[str, Any] = {
            "run_id": phase.run_id,
            "mode": mode,
            "clients": len(self.clients),
            "connected": len(live),
            "senders": len(active),
            "target_rate": rate if mode == "paced" else None,
            "window": window if mode == "saturate" else None,
            "duration_s": duration,
            "servers": len(self.base_urls),
        }
        lag = LoopLag()
        cpu0 = _cpu_self()
        before = self.probe() if self.probe else None
        lag.start()
        start = time.monotonic()
        late = 0
        if active and mode == "paced":
            total = round(rate * duration)
            for k in range(total):
                delay = start + k / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.010:
                    late += 1
                await active[k % len(active)].post()
        elif active:
            end = start + duration

            async def pump(sender: Client) -> None:
                while time.monotonic() < end:
                    try:
                        await asyncio.wait_for(sender.slot.wait(), max(0.01, end - time.monotonic()))
                    except TimeoutError:
                        return
                    if time.monotonic() >= end or not await sender.post():
                        return

            try:
                await asyncio.wait_for(asyncio.gather(*(pump(s) for s in active)), duration + 15)
            except TimeoutError:
                result["send_timeout"] = True
        send_phase = time.monotonic() - start

        # Drain: every live socket has every message the server stored (acknowledged or seen).
        drain_start = time.monotonic()
        drained = False
        progress, progress_at = -1, drain_start
        while time.monotonic() - drain_start < drain_timeout:
            if phase.delivered != progress:
                progress, progress_at = phase.delivered, time.monotonic()
            elif time.monotonic() - progress_at > stall_timeout:
                result["drain_stalled"] = True  # nothing arrived for a while: it is not coming
                break
            outstanding = sum(1 for s in active if not s.dead for owner, *_ in [*s.pending, *s.queue] if owner is phase)
            # A tab closed for good never catches up: do not wait for it (it still counts as loss).
            expected_now = len(phase.acked | phase.seen_anywhere) * sum(1 for c in live if not c.dead)
            if outstanding == 0 and phase.delivered >= expected_now:
                drained = True
                break
            await asyncio.sleep(0.05)
        end = time.monotonic()
        after = self.probe() if self.probe else None
        result.update(await lag.stop())

        expected_keys = phase.acked | phase.seen_anywhere
        # Over every tab that was live when the phase began, including any closed for good since.
        expected = len(expected_keys) * len(live)
        delivered = sum(len(c.got & expected_keys) for c in live)
        lat = sorted(phase.latencies_ns)
        span_ns = phase.last_receive_ns - phase.first_send_ns if phase.first_send_ns and lat else 0
        closed = [c for c in live if c.dead]
        errors: collections.Counter[str] = collections.Counter()
        for c in self.clients:
            errors.update(c.errors)
        result.update(
            {
                "sent": phase.sent,
                "acked": len(phase.acked),
                "send_failed": dict(phase.failed),
                "late_sends": late,
                "send_phase_s": round(send_phase, 2),
                # Paced: over the scheduled duration (the last send is 1/rate before its end).
                "msgs_per_s": round(len(phase.acked) / max(send_phase, duration), 1) if duration > 0 else None,
                "expected": expected,
                "delivered": delivered,
                "lost": expected - delivered,
                "duplicated": sum(c.duplicates for c in self.clients),
                "out_of_order": sum(c.out_of_order for c in self.clients),
                "history_resets": sum(c.resets for c in self.clients),
                "closed_for_good": len(closed),
                "reconnects": sum(c.reconnects for c in live),
                "close_codes": dict(sum((c.close_codes for c in live), collections.Counter())),
                "unsent_at_end": sum(1 for c in live for owner, *_ in c.queue if owner is phase),
                "client_errors": dict(errors),
                "drained": drained,
                "drain_s": round(end - drain_start, 2),
                "phase_s": round(end - start, 2),
                "lat_p50_ms": _ns_ms(percentile(lat, 0.50)),
                "lat_p90_ms": _ns_ms(percentile(lat, 0.90)),
                "lat_p99_ms": _ns_ms(percentile(lat, 0.99)),
                "lat_max_ms": _ns_ms(lat[-1] if lat else None),
                "lat_mean_ms": _ns_ms(statistics.fmean(lat) if lat else None),
                "deliveries_per_s": round(phase.delivered / (span_ns / 1e9), 1) if span_ns > 0 else None,
                "loadgen_cpu_s": round(_cpu_self() - cpu0, 2),
                "loadgen_cpu_pct": round(100 * (_cpu_self() - cpu0) / (end - start), 1),
            }
        )
        if before is not None and after is not None:
            cpu = after.cpu_s - before.cpu_s
            result.update(
                {
                    "server_cpu_s": round(cpu, 2),
                    "server_cpu_pct": round(100 * cpu / (end - start), 1),
                    "cpu_ms_per_1k_deliveries": round(cpu * 1e6 / delivered, 1) if delivered else None,
                    "server_rss_mb": round(after.rss_kb / 1024, 1),
                    "server_peak_rss_mb": round(after.hwm_kb / 1024, 1),
                }
            )
        return result

    async def close(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True), 30)


def summary_line(r: dict[str, Any]) -> str:
    return (
        f"{r.get('mode')} clients={r.get('connected')}/{r.get('clients')} acked={r.get('acked')} "
        f"delivered={r.get('delivered')}/{r.get('expected')} lost={r.get('lost')} dup={r.get('duplicated')} "
        f"ooo={r.get('out_of_order')} p50={r.get('lat_p50_ms')}ms p99={r.get('lat_p99_ms')}ms "
        f"max={r.get('lat_max_ms')}ms deliv/s={r.get('deliveries_per_s')} server_cpu={r.get('server_cpu_pct')}%"
    )


async def _standalone(args: argparse.Namespace) -> list[dict[str, Any]]:
    if __package__ in (None, ""):  # run as a script: make ``bench`` importable
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.servers import ProcStats, sum_stats

    slug = await asyncio.to_thread(create_room, args.url[0], args.room)
    probe = (lambda: sum_stats([ProcStats.read(p) for p in args.pid])) if args.pid else None
    session = Session(args.url, slug, args.clients, probe)
    results = [{"kind": "connect", **await session.connect()}]
    try:
        if results[0]["connected"]:
            results.append(
                {
                    "kind": "phase",
                    **await session.phase(
                        args.mode,
                        senders=args.senders,
                        rate=args.rate,
                        duration=args.duration,
                        window=args.window,
                        drain_timeout=args.drain_timeout,
                    ),
                }
            )
    finally:
        await session.close()
    return results


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
    results = asyncio.run(_standalone(args))
    for r in results:
        print(json.dumps(r))
    phase = results[-1]
    if phase["kind"] == "phase":
        print(summary_line(phase), file=sys.stderr)
    ok = phase["kind"] == "phase" and phase["lost"] == 0 and phase["duplicated"] == 0
    return 0 if ok and results[0]["connect_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

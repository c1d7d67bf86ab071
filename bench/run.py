"""Run Madang's benchmark: channel layers side by side, in one command.

    .venv/bin/python bench/run.py            # the comparison in bench/README.md (make bench, ~9 min)
    .venv/bin/python bench/run.py --smoke    # 3 clients, 5 messages, in-memory; exits 1 on any
                                             # loss, duplicate, reordering or server error (make bench-smoke)

For each room size, one fresh server set per layer is started (daphne + its own SQLite copy,
rate limit off) and ``size`` browser-like clients are connected to each. Then the phases run
interleaved (for each repeat and mode, every layer in turn, the order rotating per repeat), so
slow drift on the machine spreads evenly over the layers. Every phase is one JSON line in
``bench/results/<stamp>.jsonl``; the summary (medians over repeats, losses summed) is printed as a
table and written next to it as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (bench/run.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen, servers

RESULTS = Path(__file__).resolve().parent / "results"
CPUS = os.cpu_count() or 1  # host_busy_pct is in percent of one core, like server_cpu_pct
LAYER_LABEL = {"memory": "in-memory", "core": "redis core", "pubsub": "redis pubsub"}


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``core`` or ``core:NAME=VALUE+NAME=VALUE`` (a layer run with extra server environment)."""
    base, _, rest = spec.partition(":")
    env = dict(item.split("=", 1) for item in rest.split("+") if "=" in item)
    return base, env


VARIANT_LABEL = {
    "BENCH_CORE_SHARED_PREFIX=1": "one channel prefix",
    "ROOMS_LAYER_PROBE_SECONDS=0": "probe off",
}


def label(spec: str) -> str:
    base, env = parse_spec(spec)
    parts = [VARIANT_LABEL.get(f"{k}={v}", f"{k}={v}") for k, v in env.items()]
    return LAYER_LABEL.get(base, base) + (f" ({', '.join(parts)})" if parts else "")


def app_version() -> dict[str, Any]:
    """Which code was measured: the commit, and the files changed on top of it."""
    root = Path(__file__).resolve().parent.parent

    def git(*argv: str) -> str:
        try:
            done = subprocess.run(["git", *argv], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line[3:] and "bench/" not in line]
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed_files": changed}


def host_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return total - idle, total


async def wait_quiet(limit_pct: float, max_wait: float) -> tuple[float, float]:
    """Wait (at most ``max_wait`` s) until the machine's CPU use over one second is below
    ``limit_pct`` of one core: another job on the machine would skew the next phase. Returns the
    seconds waited and the last reading."""
    start = time.monotonic()
    pct = 0.0
    while True:
        b0 = host_busy()
        await asyncio.sleep(1.0)
        b1 = host_busy()
        pct = 100 * CPUS * (b1[0] - b0[0]) / max(1, b1[1] - b0[1])
        if pct < limit_pct or time.monotonic() - start >= max_wait:
            return round(time.monotonic() - start - 1.0, 1), round(pct, 1)


class LogCursor:
    """Reads what a server set logged since the last call."""

    def __init__(self, server_set: servers.ServerSet) -> None:
        self.paths = server_set.log_paths
        self.offsets = [0] * len(self.paths)

    def new_text(self) -> str:
        chunks = []
        for i, path in enumerate(self.paths):
            try:
                with path.open("rb") as f:
                    f.seek(self.offsets[i])
                    data = f.read()
            except FileNotFoundError:
                continue
            self.offsets[i] += len(data)
            chunks.append(data.decode("utf-8", "replace"))
        return "\n".join(chunks)


def log_findings(text: str) -> dict[str, Any]:
    found = servers.scan_log(text)
    problems = servers.first_problem_lines(text, limit=4)
    return {"log": found, **({"log_sample": problems} if problems else {})}


async def run_size(args: argparse.Namespace, size: int, template: Path, workdir: Path, out: Any) -> list[dict]:
    rows: list[dict] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        out.write(json.dumps(row) + "\n")
        out.flush()

    sets: dict[str, servers.ServerSet] = {}
    sessions: dict[str, loadgen.Session] = {}
    logs: dict[str, LogCursor] = {}
    try:
        for index, layer in enumerate(args.layers):
            base, layer_env = parse_spec(layer)
            server_set = servers.ServerSet(
                base,
                workdir,
                count=args.servers if base != "memory" else 1,
                redis_url=args.redis_url,
                extra_env={**args.env, **layer_env},
                name=f"{base}{index}-{size}",
            )
            sets[layer] = server_set.start(template)
            logs[layer] = LogCursor(server_set)
            slug = await asyncio.to_thread(loadgen.create_room, server_set.urls[0], "bench")
            session = loadgen.Session(server_set.urls, slug, size, probe=server_set.stats)
            sessions[layer] = session
            result = await session.connect(concurrency=args.connect_concurrency, timeout=args.connect_timeout)
            row = {"kind": "connect", "layer": layer, "size": size, **result, **log_findings(logs[layer].new_text())}
            emit(row)
            print(
                f"  {label(layer):>12} size {size}: {result['connected']}/{size} live in "
                f"{result['connect_phase_s']}s (p50 {result['connect_p50_ms']} ms), "
                f"{result.get('kb_per_conn')} KB/conn",
                flush=True,
            )

        for rep in range(args.repeat):
            for mode in args.modes:
                order = args.layers[rep % len(args.layers) :] + args.layers[: rep % len(args.layers)]
                for layer in order:
                    server_set, session = sets[layer], sessions[layer]
                    if not server_set.alive():
                        emit(
                            {
                                "kind": "phase",
                                "layer": layer,
                                "size": size,
                                "mode": mode,
                                "repeat": rep,
                                "error": "server exited",
                            }
                        )
                        continue
                    waited, busy_before = (0.0, None)
                    if args.quiet_wait > 0:
                        waited, busy_before = await wait_quiet(args.quiet_limit, args.quiet_wait)
                    redis0 = servers.redis_cpu_s(args.redis_url) if server_set.uses_redis else None
                    busy0 = host_busy()
                    if mode == "paced":
                        result = await session.phase(
                            "paced",
                            senders=args.paced_senders,
                            rate=args.rate,
                            duration=args.duration,
                            drain_timeout=args.drain_timeout,
                        )
                    else:
                        result = await session.phase(
                            "saturate",
                            senders=args.saturate_senders,
                            duration=args.saturate_duration,
                            window=args.window,
                            drain_timeout=args.drain_timeout,
                        )
                    busy1 = host_busy()
                    row = {"kind": "phase", "layer": layer, "size": size, "repeat": rep, **result}
                    row["quiet_wait_s"], row["busy_before_pct"] = waited, busy_before
                    row["host_busy_pct"] = round(100 * CPUS * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 1)
                    if redis0 is not None:
                        redis1 = servers.redis_cpu_s(args.redis_url)
                        row["redis_cpu_s"] = round(redis1 - redis0, 2) if redis1 is not None else None
                    # CPU on the machine that is neither this server, the load generator nor Redis:
                    # another process competing for the two cores (should be near 0).
                    own = (row.get("server_cpu_pct") or 0) + (row.get("loadgen_cpu_pct") or 0)
                    own += 100 * (row.get("redis_cpu_s") or 0) / max(0.001, row.get("phase_s") or 0)
                    row["other_cpu_pct"] = round(row["host_busy_pct"] - own, 1)
                    row.update(log_findings(logs[layer].new_text()))
                    emit(row)
                    print("  " + describe(row), flush=True)
    finally:
        for layer, session in sessions.items():
            await session.close()
            await asyncio.sleep(1.0)
            emit({"kind": "close", "layer": layer, "size": size, **log_findings(logs[layer].new_text())})
        for layer, server_set in sets.items():
            stats = server_set.stats() if server_set.alive() else None
            server_set.stop()
            row = {
                "kind": "stop",
                "layer": layer,
                "size": size,
                "exit_codes": [p.returncode for p in server_set.processes],
                **log_findings(logs[layer].new_text()),
            }
            if stats is not None:
                row["server_peak_rss_mb"] = round(stats.hwm_kb / 1024, 1)
                row["server_cpu_total_s"] = round(stats.cpu_s, 2)
            emit(row)
            if not args.keep:
                server_set.cleanup_files()
    return rows


def describe(row: dict[str, Any]) -> str:
    return (
        f"{label(row['layer']):>12} {row['size']:>4} {row['mode']:>8} r{row['repeat']}: "
        f"{row.get('msgs_per_s')} msg/s, {row.get('deliveries_per_s')} deliv/s, "
        f"p50 {row.get('lat_p50_ms')} p99 {row.get('lat_p99_ms')} max {row.get('lat_max_ms')} ms, "
        f"lost {row.get('lost')} dup {row.get('duplicated')} ooo {row.get('out_of_order')}, "
        f"server {row.get('server_cpu_pct')}% CPU, loadgen {row.get('loadgen_cpu_pct')}%, "
        f"gaps {row.get('log', {}).get('gap_repairs')}, drained {row.get('drained')} in {row.get('drain_s')}s"
    )


# --- summary ---------------------------------------------------------------------------------

OTHER_CPU_LIMIT = 15.0  # % of one core used by other processes during a phase: above, it is skewed
MEDIAN_KEYS = [
    "msgs_per_s",
    "deliveries_per_s",
    "lat_p50_ms",
    "lat_p90_ms",
    "lat_p99_ms",
    "lat_max_ms",
    "server_cpu_pct",
    "cpu_ms_per_1k_deliveries",
    "redis_cpu_s",
    "loadgen_cpu_pct",
    "loop_lag_p99_ms",
    "host_busy_pct",
    "other_cpu_pct",
    "drain_s",
]
SUM_KEYS = [
    "expected",
    "delivered",
    "lost",
    "duplicated",
    "out_of_order",
    "history_resets",
    "closed_for_good",
    "reconnects",
]


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    connects: dict[tuple, dict] = {}
    peaks: dict[tuple, float] = {}
    errors: dict[tuple, int] = defaultdict(int)
    shutdown_errors: dict[tuple, int] = defaultdict(int)
    for row in rows:
        key = (row["size"], row["layer"])
        log = row.get("log", {})
        if row["kind"] == "phase" and "error" not in row:
            groups[(row["size"], row["mode"], row["layer"])].append(row)
            errors[key] += log.get("tracebacks", 0) + log.get("errors", 0)
        elif row["kind"] == "connect":
            connects[key] = row
            errors[key] += log.get("tracebacks", 0) + log.get("errors", 0)
        elif row["kind"] in ("close", "stop"):
            shutdown_errors[key] += log.get("tracebacks", 0) + log.get("errors", 0)
            if "server_peak_rss_mb" in row:
                peaks[key] = row["server_peak_rss_mb"]
    out = []
    for (size, mode, layer), items in groups.items():
        s: dict[str, Any] = {"size": size, "mode": mode, "layer": layer, "repeats": len(items)}
        # Medians over the phases the machine left alone (another job's CPU under the limit), if
        # any; losses and errors are summed over every phase.
        clean = [r for r in items if (r.get("other_cpu_pct") or 0) <= OTHER_CPU_LIMIT] or items
        s["used"] = f"{len(clean)}/{len(items)}"
        for k in MEDIAN_KEYS:
            values = [r[k] for r in clean if r.get(k) is not None]
            s[k] = round(statistics.median(values), 1) if values else None
        spread = [r["deliveries_per_s"] for r in clean if r.get("deliveries_per_s") is not None]
        s["deliveries_range"] = (min(spread), max(spread)) if len(spread) > 1 else None
        for k in SUM_KEYS:
            s[k] = sum(r.get(k) or 0 for r in items)
        s["send_failed"] = sum(sum(r.get("send_failed", {}).values()) for r in items)
        s["gap_repairs"] = sum(r.get("log", {}).get("gap_repairs", 0) for r in items)
        s["drained_all"] = all(r.get("drained") for r in items)
        s["server_errors"] = errors[(size, layer)]
        s["shutdown_errors"] = shutdown_errors[(size, layer)]
        s["target_rate"] = items[0].get("target_rate")
        s["senders"] = items[0].get("senders")
        connect = connects.get((size, layer), {})
        s["kb_per_conn"] = connect.get("kb_per_conn")
        s["connect_p50_ms"] = connect.get("connect_p50_ms")
        s["connect_max_ms"] = connect.get("connect_max_ms")
        s["server_peak_rss_mb"] = peaks.get((size, layer))
        out.append(s)
    order = {"memory": 0, "core": 1, "pubsub": 2}
    specs = list(dict.fromkeys(s["layer"] for s in out))
    modes = {"paced": 0, "saturate": 1}
    return sorted(
        out,
        key=lambda s: (
            s["size"],
            modes.get(s["mode"], 9),
            order.get(parse_spec(s["layer"])[0], 9),
            specs.index(s["layer"]),
        ),
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return str(value)


COLUMNS = [
    ("clients", lambda s: s["size"]),
    ("mode", lambda s: f"paced {s['target_rate']:.0f}/s" if s["mode"] == "paced" else f"saturate x{s['senders']}"),
    ("layer", lambda s: label(s["layer"])),
    ("runs", lambda s: s["used"]),
    ("msg/s", lambda s: s["msgs_per_s"]),
    ("deliv/s", lambda s: s["deliveries_per_s"]),
    ("deliv/s range", lambda s: "{:.0f}-{:.0f}".format(*s["deliveries_range"]) if s["deliveries_range"] else None),
    ("p50 ms", lambda s: s["lat_p50_ms"]),
    ("p90 ms", lambda s: s["lat_p90_ms"]),
    ("p99 ms", lambda s: s["lat_p99_ms"]),
    ("max ms", lambda s: s["lat_max_ms"]),
    ("lost", lambda s: f"{s['lost']}/{s['expected']}"),
    ("unanswered", lambda s: s["send_failed"]),
    ("dup", lambda s: s["duplicated"]),
    ("reconn", lambda s: s["reconnects"]),
    ("ooo", lambda s: s["out_of_order"]),
    ("gaps", lambda s: s["gap_repairs"]),
    ("srv CPU %", lambda s: s["server_cpu_pct"]),
    ("CPU ms/1k", lambda s: s["cpu_ms_per_1k_deliveries"]),
    ("redis CPU s", lambda s: s["redis_cpu_s"]),
    ("gen CPU %", lambda s: s["loadgen_cpu_pct"]),
    ("other CPU %", lambda s: s["other_cpu_pct"]),
    ("peak RSS MB", lambda s: s["server_peak_rss_mb"]),
    ("KB/conn", lambda s: s["kb_per_conn"]),
    ("connect p50/max ms", lambda s: f"{_fmt(s['connect_p50_ms'])}/{_fmt(s['connect_max_ms'])}"),
    ("errors run/close", lambda s: f"{s['server_errors']}/{s['shutdown_errors']}"),
]


COMPACT = [
    "clients", "mode", "layer", "runs", "deliv/s", "deliv/s range", "p50 ms", "p99 ms", "max ms", "lost", "dup", "ooo",
    "srv CPU %", "CPU ms/1k", "peak RSS MB", "KB/conn", "errors run/close",
]  # fmt: skip


def markdown_table(summary: list[dict], compact: bool = False) -> str:
    columns = [(name, get) for name, get in COLUMNS if not compact or name in COMPACT]
    lines = ["| " + " | ".join(name for name, _ in columns) + " |", "|" + "---|" * len(columns)]
    for s in summary:
        lines.append("| " + " | ".join(_fmt(get(s)) for _, get in columns) + " |")
    return "\n".join(lines)


RATIO_METRICS = [
    ("deliv/s", "deliveries_per_s"),
    ("p50", "lat_p50_ms"),
    ("p99", "lat_p99_ms"),
    ("CPU ms/1k", "cpu_ms_per_1k_deliveries"),
]


def ratio_table(summary: list[dict]) -> str:
    """Each Redis layer against in-memory, and pub/sub against core, per size and mode."""
    index = {(s["size"], s["mode"], s["layer"]): s for s in summary}
    specs = list(dict.fromkeys(s["layer"] for s in summary))
    plain = [spec for spec in specs if ":" not in spec]
    pairs = [(a, "memory") for a in specs if a != "memory" and "memory" in specs]
    pairs += [("pubsub", a) for a in specs if parse_spec(a)[0] == "core" and "pubsub" in plain]
    header = ["clients", "mode", "ratio", *[name for name, _ in RATIO_METRICS]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size, mode in sorted({(s["size"], s["mode"]) for s in summary}, key=lambda x: (x[0], x[1] != "paced")):
        for a, b in pairs:
            sa, sb = index.get((size, mode, a)), index.get((size, mode, b))
            if not sa or not sb:
                continue
            cells = []
            for _, key in RATIO_METRICS:
                va, vb = sa.get(key), sb.get(key)
                cells.append(f"{va / vb:.2f}x" if va and vb else "-")
            lines.append(f"| {size} | {mode} | {label(a)} / {label(b)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- entry point -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="3 clients, 5 messages, in-memory; non-zero exit on loss")
    p.add_argument(
        "--layers",
        default="memory,core:BENCH_CORE_SHARED_PREFIX=1,pubsub",
        help="comma-separated: memory, core, pubsub; a layer may carry server environment of its own, "
        "as core:NAME=VALUE+NAME=VALUE (a row of its own)",
    )
    p.add_argument("--sizes", default="100,500", help="clients per room, comma-separated")
    p.add_argument("--modes", default="paced,saturate")
    p.add_argument("--repeat", type=int, default=3, help="phases per (size, mode, layer); medians reported")
    p.add_argument("--rate", type=float, default=20.0, help="paced: total messages per second")
    p.add_argument("--duration", type=float, default=10.0, help="paced: seconds of sending")
    p.add_argument("--paced-senders", type=int, default=5)
    p.add_argument("--saturate-senders", type=int, default=4)
    p.add_argument("--saturate-duration", type=float, default=10.0)
    p.add_argument("--window", type=int, default=1, help="saturate: posts in flight per sender")
    p.add_argument("--drain-timeout", type=float, default=20.0)
    p.add_argument(
        "--quiet-wait", type=float, default=30.0, help="before a phase, wait up to this long for an idle machine"
    )
    p.add_argument("--quiet-limit", type=float, default=25.0, help="idle means below this %% of one core")
    p.add_argument("--connect-concurrency", type=int, default=50)
    p.add_argument("--connect-timeout", type=float, default=20.0)
    p.add_argument("--servers", type=int, default=1, help="daphne processes per Redis layer (one room spread)")
    p.add_argument("--redis-url", default=servers.DEFAULT_REDIS_URL)
    p.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for every server"
    )
    p.add_argument("--keep", action="store_true", help="keep databases and logs in the work directory")
    p.add_argument("--compact", action="store_true", help="with --report: the README's columns only")
    p.add_argument("--report", type=Path, nargs="+", help="only print the tables of earlier .jsonl runs")
    p.add_argument("--out", type=Path, help="JSON lines file (default bench/results/<stamp>.jsonl)")
    args = p.parse_args(argv)
    if args.smoke:
        args.layers, args.sizes, args.modes, args.repeat = "memory", "3", "paced", 1
        args.rate, args.duration, args.paced_senders, args.quiet_wait = 10.0, 0.5, 1, 0.0
        args.drain_timeout = 10.0
    args.layers = [x for x in args.layers.split(",") if x]
    args.sizes = [int(x) for x in args.sizes.split(",") if x]
    args.modes = [x for x in args.modes.split(",") if x]
    for layer in args.layers:
        if parse_spec(layer)[0] not in servers.LAYERS:
            p.error(f"unknown layer {layer!r}")
    args.env = dict(item.split("=", 1) for item in args.env)
    return args


def report(paths: list[Path], compact: bool = False) -> int:
    """Print the summary tables of earlier runs (their JSON lines files, together)."""
    rows = []
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("kind") == "config":
                changed = row.get("changed_files") or []
                print(
                    f"{path.name}: app at {row.get('commit')}" + (f" + {len(changed)} changed files" if changed else "")
                )
            else:
                rows.append(row)
    summary = summarise(rows)
    print()
    print(markdown_table(summary, compact=compact))
    print()
    print(ratio_table(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        return report(args.report, compact=args.compact)
    fd_limit = loadgen.raise_fd_limit()
    needed = sum(args.sizes) * len(args.layers) * 2 + 100
    if fd_limit < needed:
        print(f"warning: file descriptor limit {fd_limit} < ~{needed} needed", file=sys.stderr)
    if (
        any(servers.LAYERS[parse_spec(layer)[0]]["redis"] for layer in args.layers)
        and servers.redis_cpu_s(args.redis_url) is None
    ):
        print(f"Redis at {args.redis_url} is not reachable; run with --layers memory", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = args.out or RESULTS / f"{'smoke-' if args.smoke else ''}{stamp}.jsonl"
    workdir = Path(tempfile.mkdtemp(prefix="madang-bench-"))
    started = time.monotonic()
    rows: list[dict] = []
    with out_path.open("w") as out:
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        version = app_version()
        out.write(json.dumps({"kind": "config", **config, **version, "cpus": CPUS}) + "\n")
        print(
            f"app at {version['commit']}"
            + (f" + changes to {len(version['changed_files'])} files" if version["changed_files"] else "")
        )
        template = servers.migrate_template(workdir)
        for size in args.sizes:
            print(f"room of {size} clients: layers {', '.join(args.layers)}", flush=True)
            rows += asyncio.run(run_size(args, size, template, workdir, out))
    elapsed = time.monotonic() - started
    summary = summarise(rows)
    table = markdown_table(summary)
    ratios = ratio_table(summary)
    print()
    print(table)
    if ratios.count("\n") > 1:
        print()
        print(ratios)
    print(f"\n{len(rows)} rows in {out_path} ({elapsed:.0f}s)" + ("" if args.smoke else f"; server logs in {workdir}"))
    if not args.smoke:
        md = out_path.with_suffix(".md")
        compact = markdown_table(summary, compact=True)
        md.write_text(f"{compact}\n\n{ratios}\n\nAll columns:\n\n{table}\n\nraw: {out_path.name}, {elapsed:.0f}s\n")

    phases = [r for r in rows if r["kind"] == "phase"]
    connect_failures = sum(r.get("connect_failures", 0) for r in rows if r["kind"] == "connect")
    bad = [
        r
        for r in phases
        if any(
            r.get(k)
            for k in ("error", "lost", "duplicated", "out_of_order", "closed_for_good", "reconnects", "send_failed")
        )
        or not r.get("drained")
    ]
    server_errors = sum(
        r.get("log", {}).get("tracebacks", 0) + r.get("log", {}).get("errors", 0)
        for r in rows
        if r["kind"] in ("connect", "phase")
    )
    if args.smoke:
        ok = not bad and not connect_failures and not server_errors and phases and phases[0].get("acked") == 5
        verdict = "OK" if ok else f"FAILED ({len(bad)} bad phases, {connect_failures} connect failures, "
        verdict += "" if ok else f"{server_errors} server errors; logs in {workdir})"
        print("smoke:", verdict)
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0 if ok else 1
    if bad or connect_failures:
        print(
            f"note: {len(bad)} phases with loss/duplicates/reordering or not drained; "
            f"{connect_failures} failed connects (see the JSON lines)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

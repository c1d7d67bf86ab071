"""Search over 100,000 messages on SQLite and PostgreSQL (issue 13: under 50 ms median on both).

    .venv/bin/python bench/search.py [--messages 100000] [--runs 21] [--engines sqlite,postgresql]
    make bench-search

For each engine: a fresh database (SQLite: a temporary file; PostgreSQL: ``madang_bench_search``
on ``BENCH_POSTGRES_URL``, default postgres://postgres@127.0.0.1:5432/postgres, created and
dropped here), migrated, filled with ``--messages`` messages of mixed Korean and English chat in
50 rooms (bulk inserts, so SQLite's triggers index them as a post would; PostgreSQL is ANALYZEd,
as autovacuum would have done by then), then each query through ``rooms.search.find`` (the
function the page calls: engine query plus loading the page's messages and cutting their
highlights) ``--runs`` times after one warm-up; medians and p90 in milliseconds, plus the whole
search page through Django's test client for one query.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "madang_bench_search"

_KOREAN = (
    "안녕하세요 오늘 내일 점심 뭐 먹을까요 프로젝트 일정 확인 부탁드립니다 배포 완료했습니다 테스트가 실패했어요 "
    "다시 해볼게요 감사합니다 수고하셨습니다 회의록 공유 드릴게요 자료 보내주세요 네 알겠습니다 잠시만요 "
    "지금 가능하세요 검토 부탁해요 고객 문의가 들어왔어요 서버가 느려요 로그를 보니까 문제가 있네요 "
    "주말 잘 보내세요 커피 한잔 하실래요 코드 리뷰 남겼어요 문서 업데이트했습니다 버그를 찾았어요"
)
_ENGLISH = (
    "hello team the build is green please review the pull request lunch today anyone around tests are "
    "failing again thanks everyone great work on the release notes database migration is slow can you "
    "look at the logs I will be late the customer asked about pricing let me check merged into main "
    "standup in five minutes the dashboard looks wrong rolling back now sounds good to me"
)
KOREAN, ENGLISH = _KOREAN.split(), _ENGLISH.split()
# Planted words, with how often each message gets one: the queries below look for them.
PLANTED = [("deploy", 0.03), ("failed", 0.02), ("회의", 0.02), ("한국어", 0.005)]
RARE = [("zephyrine", 5), ("낙타", 5)]

QUERIES = [
    ("common word", "deploy", False),
    ("rare word", "zephyrine", False),
    ("Korean, 3 syllables", "한국어", False),
    ("Korean, 2 syllables", "회의", False),
    ("Korean, 2 syllables, rare", "낙타", False),
    ("two words", "deploy failed", False),
    ("2 syllables + a word", "회의 deploy", False),
    ("one room", "deploy", True),
    ("one room, 2 syllables", "회의", True),
    ("no match", "xylophonequartz", False),
    ("no match, 2 letters", "qz", False),
]


def sentence(rng: random.Random) -> str:
    words = KOREAN if rng.random() < 0.5 else ENGLISH
    length = min(int(rng.lognormvariate(2.0, 0.8)) + 1, 120)  # mostly 3-15 words, a few long ones
    chosen = [rng.choice(words) for _ in range(length)]
    for word, share in PLANTED:
        if rng.random() < share:
            chosen.insert(rng.randrange(len(chosen) + 1), word)
    return " ".join(chosen)


def fill(count: int) -> None:
    from django.utils import timezone

    from rooms.models import Message, Room

    rng = random.Random(13)
    rooms = [Room.objects.create(name=f"room {n}", slug=f"room-{n}") for n in range(50)]
    seqs = dict.fromkeys((room.pk for room in rooms), 0)
    rare = {rng.randrange(count): word for word, times in RARE for _ in range(times)}
    start = timezone.now() - datetime.timedelta(minutes=count)
    batch: list[Message] = []
    for n in range(count):
        room = rooms[min(int(rng.paretovariate(1.2)) - 1, 49)]  # a few busy rooms, a long tail
        seqs[room.pk] += 1
        text = sentence(rng) + (f" {rare[n]}" if n in rare else "")
        batch.append(
            Message(room=room, seq=seqs[room.pk], author_name="Bench", author_key="g-bench", text=text,
                    created_at=start + datetime.timedelta(minutes=n), posted_event=seqs[room.pk], event=seqs[room.pk])
        )  # fmt: skip
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    for room in rooms:
        Room.objects.filter(pk=room.pk).update(last_seq=seqs[room.pk], last_event=seqs[room.pk])


def measure(runs: int) -> dict[str, object]:
    from django.db import connection
    from django.test import Client

    from rooms import search
    from rooms.models import Room

    busy = Room.objects.get(slug="room-2")
    rows = []
    for label, q, in_room in QUERIES:
        room = busy if in_room else None
        search.find(q, room=room)
        times = []
        for _ in range(runs):
            begin = time.perf_counter()
            page = search.find(q, room=room)
            times.append((time.perf_counter() - begin) * 1000)
        rows.append({"query": label, "q": q, "results": len(page.results), "more": page.has_more, "ms": times})
    more = search.find("deploy").next_before
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        search.find("deploy", before=more)
        times.append((time.perf_counter() - begin) * 1000)
    rows.append({"query": "common word, page 2", "q": "deploy", "results": 20, "more": True, "ms": times})
    client = Client(HTTP_HOST="127.0.0.1")
    client.get("/search/", {"q": "deploy"})
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        assert client.get("/search/", {"q": "deploy"}).status_code == 200
        times.append((time.perf_counter() - begin) * 1000)
    rows.append({"query": "the whole page (common word)", "q": "deploy", "results": 20, "more": True, "ms": times})
    return {"vendor": connection.vendor, "rows": rows}


def child(count: int, runs: int) -> None:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ["ROOMS_SEARCH_RATE"] = "0"  # the bench searches far more often than a person
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    begin = time.perf_counter()
    fill(count)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE rooms_message")
    filled = time.perf_counter() - begin
    print(json.dumps({**measure(runs), "fill_seconds": round(filled, 1)}))


def postgres_admin(sql: str) -> None:
    import psycopg

    url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql)


def run_engine(engine: str, count: int, runs: int) -> dict[str, object]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as scratch:
        if engine == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{scratch}/bench-search.sqlite3"
        else:
            base = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
            env["DATABASE_URL"] = base.rsplit("/", 1)[0] + f"/{BENCH_DB}"
            postgres_admin(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            postgres_admin(f"CREATE DATABASE {BENCH_DB}")
        try:
            command = [sys.executable, __file__, "--child", "--messages", str(count), "--runs", str(runs)]
            out = subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
        finally:
            if engine == "postgresql":
                postgres_admin(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.messages, args.runs)
        return
    results = {engine: run_engine(engine, args.messages, args.runs) for engine in args.engines.split(",")}
    engines = list(results)
    print(f"Search over {args.messages:,} messages, {args.runs} runs each: median (p90) ms, results on the first page")
    for engine in engines:
        print(f"  {engine}: filled and indexed in {results[engine]['fill_seconds']} s")
    header = f"| query | q | {' | '.join(engines)} | results |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for index, row in enumerate(results[engines[0]]["rows"]):
        cells = []
        for engine in engines:
            times = sorted(results[engine]["rows"][index]["ms"])
            p90 = times[int(len(times) * 0.9) - 1]
            cells.append(f"{statistics.median(times):.2f} ({p90:.2f})")
        shown = f"{row['results']}{'+' if row['more'] else ''}"
        print(f"| {row['query']} | {row['q']} | {' | '.join(cells)} | {shown} |")


if __name__ == "__main__":
    main()

"""Logs: lines for people by default, JSON lines with LOG_FORMAT=json; the access log without
health checks (project/logs.py, project/access.py)."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from project.logs import JsonFormatter
from tests.servers import Daphne


def record(**extra: object) -> logging.LogRecord:
    try:
        raise ValueError("broken")
    except ValueError:
        exc_info = sys.exc_info()
    made = logging.LogRecord("rooms.test", logging.ERROR, __file__, 1, "posting to %s failed", ("lobby",), exc_info)
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_time_level_logger_message_the_traceback_and_the_extras():
    line = JsonFormatter().format(record(path="/rooms/lobby/", status=500))
    assert "\n" not in line  # one object per line, the traceback inside it
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "rooms.test"
    assert entry["message"] == "posting to lobby failed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert "ValueError: broken" in entry["exception"]
    assert (entry["path"], entry["status"]) == ("/rooms/lobby/", 500)


def test_a_json_line_keeps_any_script_and_turns_unknown_objects_into_text():
    entry = json.loads(JsonFormatter().format(record(room="한국어 방", thing=object())))
    assert entry["room"] == "한국어 방"
    assert entry["thing"].startswith("<object object")


def served(env: dict[str, str]) -> str:
    """A real daphne as deploy/madang@.service runs it (-v 0), asked a page and both health
    checks; everything it wrote."""
    server = Daphne(env={"ACCESS_LOG": "1", **env}, args=["-v", "0"]).start()
    try:
        assert server.get("/")[0] == 200
        assert server.get("/healthz")[0] == 200
        assert server.get("/readyz")[0] == 200
        server.wait_for_log("GET / 200")
        return server.log()
    finally:
        server.cleanup()


@pytest.mark.django_db(transaction=True)
def test_with_log_format_json_every_line_is_json_and_health_checks_are_not_logged():
    lines = served({"LOG_FORMAT": "json"}).splitlines()
    entries = [json.loads(line) for line in lines]  # every line, or this raises
    access = [entry for entry in entries if entry["logger"] == "madang.access"]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in access] == [("GET", "/", 200)]
    assert access[0]["level"] == "INFO"
    assert access[0]["bytes"] > 0
    assert isinstance(access[0]["duration_ms"], float)


@pytest.mark.django_db(transaction=True)
def test_by_default_the_access_log_is_lines_for_people():
    log = served({})
    assert re.search(r"^\S+ \S+ INFO madang.access GET / 200 \d+B [\d.]+ms 127.0.0.1$", log, re.MULTILINE)
    assert "{" not in log
    assert "/healthz" not in log
    assert "/readyz" not in log

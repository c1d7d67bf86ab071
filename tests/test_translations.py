"""Every word a Korean reader meets is Korean: the catalogue is complete and compiled, and no
English phrase of ours appears in a Korean page or live frame."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from rooms import writes
from rooms.identity import Author
from tests.test_consumers import join, open_socket

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
# Attributes whose values people read (or hear).
READ_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt", "data-reconnecting-label", "value"}


@dataclass
class Entry:
    msgid: str = ""
    plural: str = ""
    translations: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def _string(line: str) -> str:
    return ast.literal_eval(line.strip())


def parse_catalogue(text: str) -> list[Entry]:
    """Just enough of the PO format for our catalogue (obsolete "#~" entries are skipped)."""
    entries, entry, target = [], Entry(), None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if entry.msgid or entry.translations:
                entries.append(entry)
            entry, target = Entry(), None
        elif line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid_plural "):
            entry.plural, target = _string(line[13:]), "plural"
        elif line.startswith("msgid "):
            entry.msgid, target = _string(line[6:]), "msgid"
        elif line.startswith("msgstr"):
            entry.translations.append(_string(line.split(" ", 1)[1]))
            target = "msgstr"
        elif line.startswith('"'):
            if target == "msgid":
                entry.msgid += _string(line)
            elif target == "plural":
                entry.plural += _string(line)
            elif target == "msgstr":
                entry.translations[-1] += _string(line)
    return [e for e in entries if e.msgid]  # the header entry has an empty msgid


def catalogue() -> list[Entry]:
    return parse_catalogue(CATALOGUE.read_text(encoding="utf-8"))


def test_every_message_id_has_a_korean_translation_that_is_not_fuzzy():
    problems = [
        entry.msgid
        for entry in catalogue()
        if "fuzzy" in entry.flags or not entry.translations or not all(entry.translations)
    ]
    assert problems == [], f"untranslated or fuzzy in {CATALOGUE.relative_to(ROOT)}: {problems}"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext is not installed (apt-get install gettext)")
def test_the_catalogue_holds_every_message_id_in_the_source(tmp_path):
    """makemessages on a copy of the source: any id it finds that the catalogue lacks is a word
    a Korean reader would get in English."""
    for part in ("manage.py", "project", "rooms", "templates"):
        source = ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / part)
    (tmp_path / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ko", "--no-location"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"DJANGO_SETTINGS_MODULE": "project.settings", "PATH": "/usr/bin:/bin"},
    )
    extracted = {e.msgid for e in parse_catalogue((tmp_path / "locale/ko/LC_MESSAGES/django.po").read_text())}
    missing = sorted(extracted - {e.msgid for e in catalogue()})
    assert missing == [], f"not in the catalogue (run `make messages` and translate them): {missing}"


def test_the_compiled_catalogue_matches_the_translations():
    stale = []
    with translation.override("ko"):
        for entry in catalogue():
            if entry.plural:
                got = translation.ngettext(entry.msgid, entry.plural, 1)
            elif "\x04" in entry.msgid:
                continue
            else:
                got = translation.gettext(entry.msgid)
            if got != entry.translations[0]:
                stale.append(entry.msgid)
    assert stale == [], f"compile the catalogue (`make messages`): {stale}"


class ReadText(HTMLParser):
    """What a person reads in a fragment: text outside <style>/<script>, the read attributes, and
    the words our per-viewer style puts in CSS (--label-*: "...")."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self.skip += 1
        for name, value in attrs:
            if value and name in READ_ATTRIBUTES and not (tag == "input" and name == "value"):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.skip:
            self.parts.extend(re.findall(r'--label-[\w-]+:\s*"([^"]*)"', data))
        else:
            self.parts.append(data)


def read_text(html: str) -> str:
    parser = ReadText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_phrases() -> list[str]:
    """Our English msgids that Korean readers get differently (placeholders cut at the first %)."""
    phrases = set()
    for entry in catalogue():
        if "\x04" in entry.msgid or entry.translations[0] == entry.msgid:
            continue
        for msgid in (entry.msgid, entry.plural):
            words = re.split(r"%\(\w+\)\w|\{\{.*?\}\}|%s|%d", msgid)
            phrases.update(part.strip(" .:,()") for part in words if len(part.strip(" .:,()")) >= 4)
    return sorted(phrases)


def english_in(html: str) -> list[str]:
    text = read_text(html)
    return [phrase for phrase in english_phrases() if re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", text)]


@pytest.fixture
def busy_room(db, make_room, post):
    room = make_room("한국어 방")
    first = post(room, "안녕하세요", Author("g-minji", "민지"))
    writes.toggle_reaction(first, Author("g-junho", "준호"), "👍")
    writes.edit_message(first, "안녕하세요, 여러분")
    for n in range(3):
        post(room, f"메시지 {n}", Author("g-junho", "준호"))
    return room


@pytest.mark.django_db
def test_korean_pages_carry_no_english_words_of_ours(busy_room):
    korean = Client(HTTP_ACCEPT_LANGUAGE="ko")
    pages = {
        path: korean.get(path)
        for path in (
            "/",
            busy_room.get_absolute_url(),
            f"{busy_room.messages_url}?before=3",
            "/accounts/login/",
            "/accounts/signup/",
            "/me/time-zone/",
        )
    }
    pages["composer error"] = korean.post(busy_room.messages_url, {"message": "  "})
    found = {
        path: english_in(response.content.decode())
        for path, response in pages.items()
        if english_in(response.content.decode())
    }
    assert {path: response.status_code for path, response in pages.items()} == {
        **{path: 200 for path in pages},
        "composer error": 400,
    }
    assert found == {}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_korean_live_frames_carry_no_english_words_of_ours(browser_headers):
    from channels.db import database_sync_to_async

    room = await database_sync_to_async(lambda: writes.get_or_create_room("실시간 방")[0])()
    await database_sync_to_async(writes.post_message)(room.pk, Author("g-a", "가"), "예전 메시지")
    # A Korean browser from its first page on (its guest name, "손님 1234", is Korean too).
    korean = Client(HTTP_ACCEPT_LANGUAGE="ko")
    headers = [*browser_headers(client=korean), (b"accept-language", b"ko")]
    socket, resume = await join(room, headers)
    lobby = await open_socket("/ws/lobby/", [*browser_headers(), (b"accept-language", b"ko")])
    frames = {"resume": resume, "lobby list": await lobby.receive_from(timeout=5)}
    await socket.send_to(json.dumps({"message": ""}))
    frames["error"] = await socket.receive_from(timeout=5)
    await socket.send_to(json.dumps({"message": "x" * 5000}))
    frames["too long"] = await socket.receive_from(timeout=5)
    await socket.send_to("not json")
    frames["bad frame"] = await socket.receive_from(timeout=5)
    await socket.send_to(json.dumps({"message": "새 메시지"}))
    frames["sent and live"] = await socket.receive_from(timeout=5) + await socket.receive_from(timeout=5)
    frames["lobby row"] = await lobby.receive_from(timeout=5)
    assert {name: english_in(html) for name, html in frames.items() if english_in(html)} == {}
    assert "메시지" in frames["lobby row"] and "연결됨" in frames["resume"]
    await socket.disconnect()
    await lobby.disconnect()


def test_the_walker_finds_english_when_there_is_some():
    """The check above can fail: an English status line and label are caught."""
    assert "Live" in english_in('<p id="connection">Live</p>')
    assert "Reconnecting…" in english_in('<p data-reconnecting-label="Reconnecting…"></p>')
    assert english_in('<p id="connection">연결됨</p>') == []

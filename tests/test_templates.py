"""Templates are the customisation surface: overrides reach pages and live frames, and the
system check catches an override that drops what live updates need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.checks import run_checks

from project.asgi import application
from rooms import writes
from rooms.identity import Author

OVERRIDE = (
    '<article class="message fancy" id="message-{{ message.pk }}" data-seq="{{ message.seq }}" '
    'data-author="{{ message.author_key }}"><b class="operator-badge">OPERATOR</b> '
    "{{ message.author_name }}: {{ message.text }}</article>\n"
)


@pytest.fixture
def override_dir(tmp_path: Path, settings) -> Path:
    """A directory of overrides searched first, as MADANG_TEMPLATE_DIR configures it."""
    (tmp_path / "rooms").mkdir()
    templates = [dict(settings.TEMPLATES[0])]
    templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    return tmp_path


def test_the_template_override_directory_setting_is_searched_first(monkeypatch):
    import importlib

    import project.settings as project_settings

    monkeypatch.setenv("MADANG_TEMPLATE_DIR", "/srv/madang-templates")
    try:
        reloaded = importlib.reload(project_settings)
        assert reloaded.TEMPLATES[0]["DIRS"][0] == "/srv/madang-templates"
    finally:
        monkeypatch.delenv("MADANG_TEMPLATE_DIR")
        importlib.reload(project_settings)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_overridden_message_template_shows_in_the_page_and_in_the_live_fragment(
    override_dir, client, browser_headers
):
    (override_dir / "rooms" / "_message.html").write_text(OVERRIDE)
    room = await database_sync_to_async(lambda: writes.get_or_create_room("r")[0])()
    await database_sync_to_async(writes.post_message)(room.pk, Author(key="g-a", name="Ann"), "from history")
    page = await database_sync_to_async(lambda: client.get(room.get_absolute_url()).content.decode())()
    assert '<b class="operator-badge">OPERATOR</b> Ann: from history' in page

    second = WebsocketCommunicator(application, f"/ws/rooms/{room.slug}/", headers=browser_headers())
    assert (await second.connect())[0]
    await second.send_to(json.dumps({"cursor": "1"}))
    await second.receive_from(timeout=5)
    await database_sync_to_async(writes.post_message)(room.pk, Author(key="g-b", name="Bo"), "<i>live</i>")
    live = await second.receive_from(timeout=5)
    assert '<b class="operator-badge">OPERATOR</b> Bo: &lt;i&gt;live&lt;/i&gt;' in live
    assert 'hx-swap-oob="beforeend"' in live
    await second.disconnect()


def test_the_shipped_templates_pass_the_contract_check():
    assert [m for m in run_checks() if m.id and m.id.startswith("rooms.")] == []


def test_an_override_that_drops_a_live_update_hook_fails_the_system_check(override_dir):
    (override_dir / "rooms" / "_message.html").write_text('<article class="message">{{ message.text }}</article>')
    problems = [m for m in run_checks() if m.id == "rooms.E002"]
    assert problems
    messages = " ".join(problem.msg for problem in problems)
    assert "rooms/_message.html" in messages and "data-seq" in messages and "message-12345" in messages
    assert str(override_dir) in messages


def test_no_template_marks_user_text_safe():
    for path in (Path(settings.BASE_DIR) / "templates").rglob("*.html"):
        source = path.read_text()
        assert "|safe" not in source and "autoescape off" not in source, path

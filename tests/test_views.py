"""The HTTP contract (DESIGN.md section 3) through the Django test client."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from rooms import writes
from rooms.identity import Author
from rooms.models import Message, Room

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
ALICE = Author(key="g-alice", name="Alice")


def test_the_lobby_lists_rooms_with_count_and_newest_activity_first(client):
    quiet = writes.get_or_create_room("quiet")[0]
    busy = writes.get_or_create_room("한국어 방")[0]
    writes.post_message(quiet.pk, ALICE, "hi")
    writes.post_message(quiet.pk, ALICE, "again")
    html = client.get("/").content.decode()
    assert html.index(f'id="room-{quiet.pk}"') < html.index(f'id="room-{busy.pk}"')
    assert 'href="/rooms/%ED%95%9C%EA%B5%AD%EC%96%B4-%EB%B0%A9/"' in html
    assert "한국어 방" in html
    assert "2 messages" in html
    assert 'ws-connect="/ws/lobby/"' in html


def test_creating_a_room_redirects_to_it(client):
    response = client.post("/rooms/", {"name": "  🎉 party  "})
    room = Room.objects.get()
    assert room.name == "🎉 party"
    assert response.status_code == 302
    assert response["Location"] == room.get_absolute_url() == "/rooms/party/"


def test_creating_an_existing_name_takes_you_to_that_room(client):
    room = writes.get_or_create_room("Lobby")[0]
    response = client.post("/rooms/", {"name": "LOBBY"})
    assert response.status_code == 302
    assert response["Location"] == room.get_absolute_url()
    assert Room.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "code"), [("", "empty"), ("\u200b", "empty"), ("x" * 65, "too_long"), ("a\u202eb", "bidi_controls")]
)
def test_an_invalid_room_name_gets_a_form_error_not_a_500(client, name, code):
    response = client.post("/rooms/", {"name": name})
    assert response.status_code == 400
    assert f'data-error="{code}"' in response.content.decode()
    assert not Room.objects.exists()


def test_an_unknown_room_is_a_404(client):
    assert client.get("/rooms/nope/").status_code == 404


def test_the_room_page_shows_the_latest_50_messages_and_a_load_older_link(client):
    room = writes.get_or_create_room("한국어 방")[0]
    for i in range(1, 56):
        writes.post_message(room.pk, ALICE, f"message {i}")
    response = client.get(room.get_absolute_url())
    html = response.content.decode()
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]
    assert seqs == list(range(6, 56))
    assert 'ws-connect="/ws/rooms/%ED%95%9C%EA%B5%AD%EC%96%B4-%EB%B0%A9/"' in html
    assert 'hx-ext="ws"' in html
    assert 'id="cursor" name="cursor" value="55"' in html
    assert 'name="message"' in html
    assert f'hx-get="{room.get_absolute_url()}messages/?before=6"' in html
    message = Message.objects.get(room=room, seq=55)
    assert f'id="message-{message.pk}"' in html


def test_load_older_returns_the_50_before_a_seq_as_a_fragment(client):
    room = writes.get_or_create_room("r")[0]
    for i in range(1, 121):
        writes.post_message(room.pk, ALICE, f"message {i}")
    fragment = client.get(f"{room.get_absolute_url()}messages/?before=71", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "<html" not in html
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', html)] == list(range(21, 71))
    assert "?before=21" in html
    # Once in place it asks its socket what changed in it since it was read (rooms.catchup.rechecked).
    recheck = '{"recheck": {"first": 21, "last": 70, "since": 120}}'
    assert f'<div class="recheck" hidden ws-send hx-trigger="load" hx-vals=\'{recheck}\'></div>' in html
    last = client.get(f"{room.get_absolute_url()}messages/?before=21", headers={"HX-Request": "true"}).content.decode()
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', last)] == list(range(1, 21))
    assert 'id="older"' not in last


def test_load_older_without_javascript_is_a_full_page(client):
    room = writes.get_or_create_room("r")[0]
    writes.post_message(room.pk, ALICE, "old")
    page = client.get(f"{room.get_absolute_url()}messages/?before=2").content.decode()
    assert 'class="recheck"' not in page  # no socket here: nothing to recheck
    assert "<html" in page and 'data-seq="1"' in page


@pytest.mark.parametrize("before", ["", "abc", "-5", "99999999999999999999999"])
def test_a_bad_before_parameter_never_errors(client, before):
    room = writes.get_or_create_room("r")[0]
    assert client.get(f"{room.get_absolute_url()}messages/?before={before}").status_code == 200


def test_posting_without_javascript_saves_and_redirects_back(client):
    room = writes.get_or_create_room("r")[0]
    response = client.post(f"{room.get_absolute_url()}messages/", {"message": "  hello  ", "author": "admin"})
    assert response.status_code == 302
    assert response["Location"] == room.get_absolute_url()
    message = Message.objects.get()
    assert (message.seq, message.text) == (1, "hello")
    assert message.author_name == client.session["madang_guest_name"]
    assert message.author_key == f"g-{client.session['madang_guest_id']}"


@pytest.mark.parametrize(("text", "code"), [("   ", "empty"), ("x" * 4001, "too_long"), ("\u200b", "empty")])
def test_an_invalid_post_shows_the_error_and_keeps_the_draft(client, text, code):
    room = writes.get_or_create_room("r")[0]
    response = client.post(f"{room.get_absolute_url()}messages/", {"message": text})
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="chat-error" class="chat-error" role="alert" data-error="{code}"' in html
    assert not Message.objects.exists()


def test_a_replayed_post_with_the_same_nonce_stores_once(client):
    room = writes.get_or_create_room("r")[0]
    for _ in range(2):
        client.post(f"{room.get_absolute_url()}messages/", {"message": "once", "nonce": "abc"})
    assert Message.objects.count() == 1


def test_message_text_is_escaped_everywhere(client):
    room = writes.get_or_create_room("<script>alert(1)</script>")[0]
    writes.post_message(room.pk, Author(key="g-x", name='<img src=x onerror="alert(1)">'), "<b hx-get=/x>{{ 7|add:1 }}")
    for url in ["/", room.get_absolute_url(), f"{room.get_absolute_url()}messages/?before=9"]:
        html = client.get(url).content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<b hx-get" not in html
    html = client.get(room.get_absolute_url()).content.decode()
    assert "&lt;b hx-get=/x&gt;{{ 7|add:1 }}" in html


def test_a_guest_gets_a_name_in_the_session_and_can_change_it(client):
    client.get("/")
    name = client.session["madang_guest_name"]
    assert name.startswith("Guest ")
    response = client.post("/me/name/", {"display_name": " 민준 ", "next": "/rooms/x/"})
    assert response.status_code == 302 and response["Location"] == "/rooms/x/"
    assert client.session["madang_guest_name"] == "민준"
    assert 'value="민준"' in client.get("/").content.decode()


def test_an_invalid_display_name_is_refused_and_an_offsite_next_is_ignored(client):
    client.get("/")
    before = client.session["madang_guest_name"]
    assert client.post("/me/name/", {"display_name": "x" * 33}).status_code == 400
    assert client.session["madang_guest_name"] == before
    response = client.post("/me/name/", {"display_name": "ok", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_sign_up_log_out_and_log_in_and_post_as_the_account(client):
    response = client.post(
        "/accounts/signup/", {"username": "minji", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"}
    )
    assert response.status_code == 302
    user = User.objects.get(username="minji")
    room = writes.get_or_create_room("r")[0]
    client.post(f"{room.get_absolute_url()}messages/", {"message": "as me"})
    message = Message.objects.get()
    assert (message.author, message.author_name, message.author_key) == (user, "minji", f"u-{user.pk}")
    assert "Log out" in client.get("/").content.decode()
    client.post("/accounts/logout/")
    assert "Log in" in client.get("/").content.decode()
    assert client.post("/accounts/login/", {"username": "minji", "password": "a-long-pass-phrase"}).status_code == 302


def test_pages_send_a_content_security_policy_allowing_only_our_own_scripts(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_the_per_viewer_mine_rule_is_keyed_on_the_viewers_author_key(client):
    room = writes.get_or_create_room("r")[0]
    html = client.get(room.get_absolute_url()).content.decode()
    key = client.session["madang_guest_id"]
    assert f'.message[data-author="g-{key}"]' in html


def test_the_admin_lists_rooms_and_messages(admin_client):
    room = writes.get_or_create_room("관리")[0]
    writes.post_message(room.pk, ALICE, "hello admin")
    assert "관리" in admin_client.get("/admin/rooms/room/").content.decode()
    assert "hello admin" in admin_client.get("/admin/rooms/message/").content.decode()


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='project.settings'; {code}"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = run_settings({"DJANGO_DEBUG": "0", "DJANGO_ALLOWED_HOSTS": "example.com"}, "django.setup()")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_off_works_over_plain_http_and_https_settings_switch_on_with_djangohttps():
    code = (
        "django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    base = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 60, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
    assert run_settings(base, code).stdout.split() == ["False", "False", "False", "0"]
    assert run_settings({**base, "DJANGO_HTTPS": "1"}, code).stdout.split() == ["False", "True", "True", "31536000"]


def test_a_korean_browser_gets_the_korean_ui(client):
    room = writes.get_or_create_room("방")[0]
    html = client.get(room.get_absolute_url(), headers={"Accept-Language": "ko"}).content.decode()
    assert '<html lang="ko">' in html
    assert "보내기" in html and "메시지를 입력하세요…" in html
    lobby = client.get("/", headers={"Accept-Language": "ko"}).content.decode()
    assert "방 목록" in lobby and "만들기 또는 입장" in lobby

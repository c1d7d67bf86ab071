"""Bots over HTTP: POST /api/rooms/<slug>/messages/ with a bearer token, through the same form and
write path as everyone else; tokens shown once in the admin and stored hashed."""

from __future__ import annotations

import json
import re

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from rooms import mentions, writes
from rooms.bots import tokens
from rooms.identity import Author
from rooms.models import Bot, Message, Room
from tests.test_consumers import join

pytestmark = pytest.mark.django_db


def api_post(
    client: Client, room: Room | str, body: object, token: str | None = None, **headers: str
) -> tuple[int, dict, object]:
    slug = room.slug if isinstance(room, Room) else room
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    if token is not None:
        headers.setdefault("authorization", f"Bearer {token}")
    response = client.post(
        f"/api/rooms/{slug}/messages/",
        data=data,
        content_type=headers.pop("content_type", "application/json"),
        headers=headers,
    )
    return response.status_code, json.loads(response.content), response


@pytest.fixture
def room(make_room) -> Room:
    return make_room("lobby")


@pytest.fixture
def bot() -> tuple[Bot, str]:
    return tokens.create_bot("helper", "Helper Bot")


def test_a_bot_posts_and_gets_id_seq_and_the_permalink(client, room, bot):
    bot, token = bot
    status, answer, response = api_post(client, room, {"text": "  hello from a script  "}, token)
    assert status == 201
    message = Message.objects.get()
    assert answer == {"id": message.pk, "seq": 1, "room": "lobby", "url": "/rooms/lobby/messages/1/"}
    assert response["Location"] == answer["url"]
    assert (message.text, message.author_name, message.author_id) == ("hello from a script", "Helper Bot", bot.user_id)
    assert message.author_key == bot.author_key == f"b-{bot.pk}"
    assert "hello from a script" in client.get(answer["url"]).content.decode()  # the permalink works
    page = client.get("/rooms/lobby/").content.decode()
    assert "hello from a script" in page and "Helper Bot" in page and f'data-author="b-{bot.pk}"' in page


def test_a_korean_room_slug_works(client, make_room, bot):
    korean = make_room("한국어 방")
    status, answer, _ = api_post(client, korean.slug, {"text": "안녕"}, bot[1])
    assert status == 201 and answer["room"] == korean.slug
    assert Message.objects.get().room == korean


def test_the_same_idempotency_key_returns_the_same_message(client, room, bot):
    _, token = bot
    first = api_post(client, room, {"text": "deploy done"}, token, idempotency_key="run-42")
    again = api_post(client, room, {"text": "deploy done"}, token, idempotency_key="run-42")
    other = api_post(client, room, {"text": "deploy done"}, token, idempotency_key="run-43")
    assert (first[0], again[0], other[0]) == (201, 200, 201)
    assert first[1] == again[1] and other[1]["seq"] == 2
    assert "Location" not in again[2]
    assert Message.objects.count() == 2


def test_an_idempotency_key_is_bounded(client, room, bot):
    status, answer, _ = api_post(client, room, {"text": "x"}, bot[1], idempotency_key="k" * 61)
    assert (status, answer) == (400, {"error": "bad_idempotency_key"})
    assert api_post(client, room, {"text": "x"}, bot[1], idempotency_key="k" * 60)[0] == 201


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": ""}, "empty"),
        ({"text": " \u200b\n "}, "empty"),
        ({"text": "x" * 4001}, "too_long"),
        ({"text": "a\x00b"}, "control_chars"),
        ('{"text": "unterminated', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        ("[1, 2]", "bad_schema"),
        ('"just a string"', "bad_schema"),
        ({"message": "the composer's field name"}, "bad_schema"),
        ({"text": 5}, "bad_type"),
        ({"text": ["a"]}, "bad_type"),
        ({"text": None}, "bad_type"),
    ],
)
def test_bad_input_is_400_with_the_code_and_stores_nothing(client, room, bot, body, code):
    status, answer, _ = api_post(client, room, body, bot[1])
    assert (status, answer) == (400, {"error": code})
    assert not Message.objects.exists()


def test_a_body_over_the_frame_limit_is_413(client, room, bot, settings):
    settings.ROOMS_MAX_FRAME_BYTES = 100
    status, answer, _ = api_post(client, room, {"text": "x" * 200}, bot[1])
    assert (status, answer) == (413, {"error": "too_large"})


def test_unauthenticated_requests_are_401_and_store_nothing(client, room, bot):
    active, token = bot
    _inactive, inactive_token = tokens.create_bot("sleepy", "Sleepy", is_active=False)
    emptied, emptied_token = tokens.create_bot("emptied", "Emptied")
    Bot.objects.filter(pk=emptied.pk).update(token_hash="")
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for authorization in [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer x",
        f"Bearer {wrong}",
        f"Bearer mdb_{active.token_id}_",
        f"Bearer {token}x",
        f"Basic {token}",
        f"Bearer {inactive_token}",
        f"Bearer {emptied_token}",
        f"Bearer mdb_{emptied.token_id}_{'A' * 43}",
    ]:
        headers = {} if authorization is None else {"authorization": authorization}
        status, answer, response = api_post(client, room, {"text": "sneaky"}, **headers)
        assert (status, answer) == (401, {"error": "unauthorized"}), authorization
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Message.objects.exists()
    assert api_post(client, room, {"text": "fine"}, token)[0] == 201


def test_a_malformed_or_empty_token_authenticates_no_bot_even_one_with_an_empty_hash(bot):
    emptied, emptied_token = tokens.create_bot("emptied", "Emptied")
    Bot.objects.filter(pk=emptied.pk).update(token_hash="")
    for token in [None, "", " ", "mdb_", f"mdb_{emptied.token_id}_", emptied_token]:
        assert tokens.authenticate(token) is None
    assert tokens.from_header("Bearer ") is None and tokens.from_header("") is None
    assert tokens.authenticate(bot[1]) == bot[0]


def test_a_new_token_replaces_the_old_one(client, room, bot):
    bot, old = bot
    new = tokens.issue(bot)
    bot.save()
    assert api_post(client, room, {"text": "old"}, old)[0] == 401
    assert api_post(client, room, {"text": "new"}, new)[0] == 201


def test_a_session_never_authenticates_and_csrf_is_not_asked_for(room, bot):
    get_user_model().objects.create_user("alice", password="pw-alice-123")
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="alice", password="pw-alice-123")
    assert api_post(client, room, {"text": "as alice?"})[0] == 401
    assert api_post(client, room, {"text": "as the bot"}, bot[1])[0] == 201


def test_a_bot_limited_to_some_rooms_gets_403_elsewhere(client, make_room, bot):
    bot, token = bot
    allowed, other = make_room("allowed"), make_room("other")
    bot.rooms.set([allowed])
    assert api_post(client, other, {"text": "no"}, token)[:2] == (403, {"error": "room_not_allowed"})
    assert api_post(client, allowed, {"text": "yes"}, token)[0] == 201
    assert list(Message.objects.values_list("room__slug", flat=True)) == ["allowed"]


def test_an_unknown_room_is_404(client, bot):
    assert api_post(client, "nowhere", {"text": "hi"}, bot[1])[:2] == (404, {"error": "no_such_room"})


def test_other_methods_are_405_and_other_content_types_415(client, room, bot):
    headers = {"authorization": f"Bearer {bot[1]}"}
    for method in (client.get, client.put, client.delete):
        response = method("/api/rooms/lobby/messages/", headers=headers)
        assert response.status_code == 405 and response["Allow"] == "POST"
    status, answer, _ = api_post(client, room, "hello", bot[1], content_type="text/plain")
    assert (status, answer) == (415, {"error": "unsupported_media_type"})
    assert not Message.objects.exists()


def test_a_bot_over_its_rate_gets_429_and_others_are_not_affected(client, room, bot, settings):
    settings.ROOMS_BOT_RATE_BURST = 3
    settings.ROOMS_BOT_RATE_PER_SEC = 0.001
    _, token = bot
    statuses = [api_post(client, room, {"text": f"m{i}"}, token)[0] for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    status, answer, response = api_post(client, room, {"text": "again"}, token)
    assert (status, answer, response["Retry-After"]) == (429, {"error": "rate_limited"}, "1")
    _, other_token = tokens.create_bot("other", "Other")
    assert api_post(client, room, {"text": "other bot"}, other_token)[0] == 201
    assert Message.objects.count() == 4


def test_a_bot_is_mentionable_by_its_username_while_active(room, bot):
    bot, _ = bot
    human = Author(key="g-h", name="Human")
    assert mentions.find("hey @Helper, deploy?", human.key) == [mentions.Mentioned(f"u-{bot.user_id}", "helper")]
    bot.is_active = False
    bot.save()
    assert mentions.find("hey @helper", human.key) == []
    assert writes.post_message(room.pk, human, "hey @helper").message.mentions == ""


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_post_by_api_reaches_an_open_socket(browser_headers):
    room = await database_sync_to_async(lambda: writes.get_or_create_room("live")[0])()
    bot, token = await database_sync_to_async(tokens.create_bot)("pinger", "Pinger")
    socket, _ = await join(room, browser_headers())
    status, answer, _ = await database_sync_to_async(api_post)(Client(), room, {"text": "live from curl"}, token)
    assert status == 201
    frame = await socket.receive_from(timeout=5)
    assert "live from curl" in frame and "Pinger" in frame
    assert f'data-seq="{answer["seq"]}"' in frame and f'data-author="b-{bot.pk}"' in frame
    await socket.disconnect()


def test_the_admin_shows_a_new_bots_token_once_and_stores_only_its_hash(client, make_room):
    get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.login(username="root", password="pw-root-123")
    room = make_room("ops")
    form = {"username": "deploybot", "name": "Deploy", "is_active": "on", "rooms": [room.pk], "webhook_url": ""}
    response = client.post("/admin/rooms/bot/add/", form, follow=True)
    assert response.status_code == 200
    shown = re.findall(r"mdb_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", response.content.decode())
    assert len(shown) == 1
    token = shown[0]
    bot = Bot.objects.get()
    assert (bot.user.username, bot.name, list(bot.rooms.all())) == ("deploybot", "Deploy", [room])
    assert not bot.user.has_usable_password()
    stored = " ".join(str(value) for value in Bot.objects.values().get().values())
    assert token not in stored and bot.token_hash and len(bot.webhook_secret) == 64
    assert api_post(client, room, {"text": "from the admin's bot"}, token)[0] == 201
    for page in (f"/admin/rooms/bot/{bot.pk}/change/", "/admin/rooms/bot/"):
        assert token not in client.get(page).content.decode()
    # A username that is taken (case-insensitively) or that no mention could name is refused.
    for username in ("DeployBot", "bad name", "dot."):
        response = client.post("/admin/rooms/bot/add/", {**form, "username": username})
        assert response.status_code == 200 and Bot.objects.count() == 1, username


def test_the_admin_issues_a_new_token_and_shows_it_once(client, room, bot):
    bot, old = bot
    get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.login(username="root", password="pw-root-123")
    data = {"action": "new_token", "_selected_action": [bot.pk]}
    response = client.post("/admin/rooms/bot/", data, follow=True)
    shown = re.findall(r"mdb_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", response.content.decode())
    assert len(shown) == 1 and shown[0] != old
    assert tokens.authenticate(old) is None and tokens.authenticate(shown[0]) == bot

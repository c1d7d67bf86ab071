"""What one person may do over HTTP per window (rooms.throttle), with the Django client: past the
rate the answer says so (429 as a page, in place for htmx), keeps what was sent, changes nothing,
and leaves everyone else alone."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client

from rooms import throttle, writes
from rooms.identity import GUEST_ID_KEY, GUEST_NAME_KEY, Author
from rooms.models import Message, Reaction, Room

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
REFUSED = 'data-error="rate_limited"'


@pytest.fixture
def room() -> Room:
    return writes.get_or_create_room("한국어 방")[0]


def me(client: Client) -> Author:
    client.get("/")
    return Author(key=f"g-{client.session[GUEST_ID_KEY]}", name=client.session[GUEST_NAME_KEY])


def url(message: Message, action: str) -> str:
    return f"{message.room.get_absolute_url()}messages/{message.pk}/{action}/"


def my_reactions(message: Message) -> list[str]:
    return list(Reaction.objects.filter(message=message).values_list("emoji", flat=True))


def test_reacting_past_the_change_rate_is_refused_and_changes_nothing(client, room, settings):
    settings.ROOMS_CHANGE_RATE = 3
    message = writes.post_message(room.pk, Author(key="g-bob", name="Bob"), "react to me").message
    me(client)
    for _ in range(3):  # on, off, on
        assert client.post(url(message, "reactions"), {"emoji": "👍"}).status_code == 302
    assert my_reactions(message) == ["👍"]
    refused = client.post(url(message, "reactions"), {"emoji": "👍"})
    assert refused.status_code == 429
    html = refused.content.decode()
    assert REFUSED in html and "Too many changes at once" in html and 'class="react-form"' in html
    assert my_reactions(message) == ["👍"]  # the fourth toggle did not happen
    # htmx swaps only 2xx answers: the refusal comes in the editor slot, as a 200.
    in_slot = client.post(url(message, "reactions"), {"emoji": "🎉"}, **HTMX)
    assert in_slot.status_code == 200 and REFUSED in in_slot.content.decode()
    assert my_reactions(message) == ["👍"]
    # Someone else, from another address, is not held back by it.
    other = Client(REMOTE_ADDR="192.0.2.9")
    me(other)
    assert other.post(url(message, "reactions"), {"emoji": "🎉"}).status_code == 302
    assert sorted(my_reactions(message)) == ["🎉", "👍"]


def test_an_edit_past_the_rate_keeps_the_typed_text_in_the_form(client, room, settings):
    settings.ROOMS_CHANGE_RATE = 1
    mine = writes.post_message(room.pk, me(client), "first words").message
    assert client.post(url(mine, "edit"), {"message": "second words"}, **HTMX).status_code == 200
    refused = client.post(url(mine, "edit"), {"message": "third <words>"}, **HTMX)
    html = refused.content.decode()
    assert refused.status_code == 200 and REFUSED in html
    assert "third &lt;words&gt;</textarea>" in html  # nothing typed is lost, and it stays text
    assert Message.objects.get(pk=mine.pk).text == "second words"


def test_a_delete_past_the_rate_is_a_429_page_and_the_message_stays(client, room, settings):
    settings.ROOMS_CHANGE_RATE = 1
    first, second = (writes.post_message(room.pk, me(client), text).message for text in ("one", "two"))
    assert client.post(url(first, "delete")).status_code == 302
    refused = client.post(url(second, "delete"))
    assert refused.status_code == 429
    assert REFUSED in refused.content.decode() and 'class="delete-form"' in refused.content.decode()
    assert not Message.objects.get(pk=second.pk).gone
    assert Message.objects.get(pk=first.pk).gone


def test_posting_without_javascript_past_the_rate_keeps_the_draft(client, room, settings):
    settings.ROOMS_POST_RATE = 2
    for n in range(2):
        assert client.post(f"{room.get_absolute_url()}messages/", {"message": f"post {n}"}).status_code == 302
    refused = client.post(f"{room.get_absolute_url()}messages/", {"message": "the draft"})
    assert refused.status_code == 429
    html = refused.content.decode()
    assert 'id="chat-error" class="chat-error" role="alert" data-error="rate_limited"' in html
    assert 'name="message" value="the draft"' in html
    assert list(Message.objects.in_room(room).values_list("text", flat=True)) == ["post 0", "post 1"]


def test_taking_a_new_name_too_often_is_refused_and_the_name_stays(client, settings):
    settings.ROOMS_NAME_RATE = 2
    for name in ("하나", "둘"):
        assert client.post("/me/name/", {"display_name": name, "next": "/"}).status_code == 302
    refused = client.post("/me/name/", {"display_name": "셋", "next": "/"})
    assert refused.status_code == 429 and "You changed your name too often" in refused.content.decode()
    assert client.session[GUEST_NAME_KEY] == "둘"
    with_htmx = client.post("/me/name/", {"display_name": "넷", "next": "/"}, **HTMX)
    assert with_htmx.status_code == 200 and "You changed your name too often" in with_htmx.content.decode()
    assert 'name="display_name" value="넷"' in with_htmx.content.decode()  # what was typed stays
    assert client.session[GUEST_NAME_KEY] == "둘"


def test_creating_rooms_is_limited_but_entering_them_never_is(client, settings):
    settings.ROOMS_NEW_ROOM_RATE = 2
    for name in ("one", "two"):
        assert client.post("/rooms/", {"name": name}).status_code == 302
    refused = client.post("/rooms/", {"name": "three"})
    assert refused.status_code == 429
    html = refused.content.decode()
    assert 'id="room-name-error" role="alert" data-error="rate_limited"' in html and 'value="three"' in html
    assert not Room.objects.filter(name="three").exists()
    for _ in range(5):  # an existing name (any case) is entering, not creating
        entered = client.post("/rooms/", {"name": "ONE"})
        assert entered.status_code == 302 and entered["Location"] == Room.objects.get(name="one").get_absolute_url()


def test_a_client_that_drops_its_cookies_is_counted_by_its_address(client, room, settings):
    settings.ROOMS_CHANGE_RATE, settings.ROOMS_RATE_ADDRESS_FACTOR = 1, 3
    message = writes.post_message(room.pk, Author(key="g-bob", name="Bob"), "react to me").message
    answers = []
    for _ in range(4):
        client.cookies.clear()  # a new guest session every time
        me(client)
        answers.append(client.post(url(message, "reactions"), {"emoji": "👍"}).status_code)
    assert answers == [302, 302, 302, 429]
    assert Reaction.objects.filter(message=message).count() == 3


def test_a_rate_of_zero_switches_a_limit_off(client, room, settings):
    settings.ROOMS_POST_RATE = 0
    for n in range(30):
        client.post(f"{room.get_absolute_url()}messages/", {"message": f"post {n}"})
    assert Message.objects.in_room(room).count() == 30


def test_the_refusal_is_in_the_readers_language(client, room, settings):
    settings.ROOMS_POST_RATE = 1
    client.post(f"{room.get_absolute_url()}messages/", {"message": "하나"})
    refused = client.post(f"{room.get_absolute_url()}messages/", {"message": "둘"}, headers={"Accept-Language": "ko"})
    assert refused.status_code == 429
    assert "메시지를 너무 빨리 보내고 있습니다" in refused.content.decode()


def test_logging_in_past_the_rate_is_refused_alike_for_right_and_wrong_passwords(client, settings):
    settings.ROOMS_ACCOUNT_RATE = 2
    User.objects.create_user("minjun", password="right-password-1")
    for _ in range(2):
        wrong = client.post("/accounts/login/", {"username": "minjun", "password": "wrong"})
        assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    answers = [
        client.post("/accounts/login/", {"username": "minjun", "password": password})
        for password in ("wrong", "right-password-1")
    ]
    assert [answer.status_code for answer in answers] == [429, 429]
    varying = r'(name="csrfmiddlewaretoken" value=|nonce=|"X-CSRFToken": )"[^"]*"'  # new for every answer
    bodies = [re.sub(varying, "", answer.content.decode()) for answer in answers]
    assert bodies[0] == bodies[1]  # nothing in the answer tells the right password from a wrong one
    assert "Too many attempts" in bodies[0] and 'value="minjun"' in bodies[0]
    assert "_auth_user_id" not in client.session


def test_signing_up_past_the_rate_creates_no_account(client, settings):
    # Signing up (or out) makes the session someone else: the client address counts every attempt.
    settings.ROOMS_ACCOUNT_RATE, settings.ROOMS_RATE_ADDRESS_FACTOR = 1, 1
    form = {"username": "first", "password1": "a-long-password-9", "password2": "a-long-password-9"}
    assert client.post("/accounts/signup/", form).status_code == 302
    client.logout()
    refused = client.post("/accounts/signup/", {**form, "username": "second"})
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    assert list(User.objects.values_list("username", flat=True)) == ["first"]


def test_the_admin_log_in_is_limited_too_and_checks_no_password_past_it(client, settings):
    settings.ROOMS_ACCOUNT_RATE = 1
    User.objects.create_superuser("boss", password="right-password-1")
    assert client.post("/admin/login/", {"username": "boss", "password": "wrong"}).status_code == 200
    refused = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "right-password-1"})
    assert refused.status_code == 200 and "Too many attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_ipv6_client_counts_by_its_slash_64_and_no_address_by_the_session_alone(settings):
    settings.ROOMS_SEARCH_RATE, settings.ROOMS_RATE_ADDRESS_FACTOR = 1, 2
    # A new session each time, from addresses of one /64: the third is past the address's rate.
    assert [throttle.allow("search", f"g-{n}", f"2001:db8:1:2::{n}") for n in range(3)] == [True, True, False]
    assert throttle.allow("search", "g-9", "2001:db8:1:3::1")  # the next /64 is someone else
    assert throttle.allow("search", "g-10", "::ffff:192.0.2.1")  # IPv4-mapped counts as its IPv4
    assert throttle.allow("search", "g-11", "192.0.2.1")
    assert not throttle.allow("search", "g-12", "192.0.2.1")
    # Told no address (daphne without --proxy-headers behind a socket): never one shared counter.
    assert [throttle.allow("search", f"g-{n}", "") for n in range(20, 25)] == [True] * 5
    assert not throttle.allow("search", "g-20", "")


COUNT_ONE_SEARCH = """
import django
django.setup()
from rooms import throttle
print(throttle.allow("search", "g-shared", "192.0.2.50"))
"""


@pytest.mark.redis
def test_with_redis_every_process_counts_against_the_same_limit():
    """The production settings with REDIS_URL keep the counters in Redis (each process below is
    its own daphne, as far as counting goes), under the site's ROOMS_REDIS_PREFIX."""
    from tests.test_scale import REDIS_URL, redis_is_up

    if not redis_is_up():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "REDIS_URL": REDIS_URL,
        "ROOMS_REDIS_PREFIX": f"madang-test-{uuid.uuid4().hex[:12]}",
        "ROOMS_SEARCH_RATE": "2",
        "ROOMS_SEARCH_RATE_SECONDS": str(10**9),  # three process starts may outlast a 10 s window
    }
    answers = [
        subprocess.run(
            [sys.executable, "-c", COUNT_ONE_SEARCH], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(3)
    ]
    assert answers == ["True", "True", "False"]
    other_site = {**env, "ROOMS_REDIS_PREFIX": env["ROOMS_REDIS_PREFIX"] + "-other"}
    run = subprocess.run([sys.executable, "-c", COUNT_ONE_SEARCH], env=other_site, capture_output=True, text=True)
    assert run.stdout.strip() == "True"  # another site on the same Redis counts on its own

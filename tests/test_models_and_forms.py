"""Rooms, messages and the forms that are the only validation (HTTP and WebSocket alike)."""

from __future__ import annotations

import pytest
from django.db import connection

from rooms import writes
from rooms.forms import DisplayNameForm, MessageForm, RoomForm
from rooms.identity import Author
from rooms.models import Message, Room
from rooms.ratelimit import TokenBucket

ALICE = Author(key="g-alice", name="Alice")


def room_form_error(name: str) -> str | None:
    form = RoomForm({"name": name})
    if form.is_valid():
        return None
    return form.errors.as_data()["name"][0].code


@pytest.mark.parametrize("name", ["lobby", "한국어 방", "🎉 party", "Café au lait", "עברית", "a" * 64, "👨‍👩‍👧"])
def test_room_names_in_any_script_are_accepted(name):
    assert room_form_error(name) is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u200b\u200b", "empty"),
        ("\u3164", "empty"),
        ("a" * 65, "too_long"),
        ("bad\x00name", "control_chars"),
        ("bad\nname", "control_chars"),
        ("evil\u202eroom", "bidi_controls"),
        ("evil\u2066room", "bidi_controls"),
    ],
)
def test_invalid_room_names_get_a_coded_form_error(name, code):
    assert room_form_error(name) == code


def test_room_names_are_trimmed_and_nfc_normalised():
    form = RoomForm({"name": "  Cafe\u0301  "})
    assert form.is_valid()
    assert form.cleaned_data["name"] == "Caf\u00e9"


def test_the_length_limit_counts_characters_after_normalising():
    decomposed = "e\u0301" * 64  # 128 code points, 64 after NFC
    assert room_form_error(decomposed) is None


@pytest.mark.django_db
def test_the_same_name_ignoring_case_is_the_same_room():
    first, created = writes.get_or_create_room("Straße")
    again, created_again = writes.get_or_create_room("STRASSE")
    assert created and not created_again
    assert again == first
    assert Room.objects.count() == 1


@pytest.mark.django_db
def test_slugs_keep_unicode_and_are_disambiguated_on_collision():
    korean = writes.get_or_create_room("한국어 방")[0]
    first = writes.get_or_create_room("a b")[0]
    second = writes.get_or_create_room("a-b")[0]
    only_emoji = writes.get_or_create_room("🎉")[0]
    assert korean.slug == "한국어-방"
    assert (first.slug, second.slug) == ("a-b", "a-b-2")
    assert only_emoji.slug == "room"
    assert korean.get_absolute_url() == "/rooms/%ED%95%9C%EA%B5%AD%EC%96%B4-%EB%B0%A9/"


@pytest.mark.django_db
def test_group_names_come_from_the_primary_key_not_the_name():
    room = writes.get_or_create_room("한국어 방")[0]
    assert room.group_name == f"room-{room.pk}"
    assert room.group_name.isascii()


@pytest.mark.django_db
def test_messages_get_the_rooms_next_seq_gap_free_per_room():
    one, two = writes.get_or_create_room("one")[0], writes.get_or_create_room("two")[0]
    for i in range(3):
        writes.post_message(one.pk, ALICE, f"one {i}")
    writes.post_message(two.pk, ALICE, "two")
    assert list(Message.objects.in_room(one).order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    assert list(Message.objects.in_room(two).values_list("seq", flat=True)) == [1]
    one.refresh_from_db()
    assert one.last_seq == 3


@pytest.mark.django_db
def test_a_repeated_nonce_stores_the_message_once():
    room = writes.get_or_create_room("r")[0]
    first = writes.post_message(room.pk, ALICE, "hello", nonce="n1")
    replay = writes.post_message(room.pk, ALICE, "hello", nonce="n1")
    other_author = writes.post_message(room.pk, Author(key="g-bob", name="Bob"), "hello", nonce="n1")
    assert first.created and not replay.created and other_author.created
    assert replay.message.pk == first.message.pk
    assert Message.objects.count() == 2
    assert Room.objects.get(pk=room.pk).last_seq == 2  # the replay took no seq


@pytest.mark.django_db
def test_messages_without_a_nonce_never_count_as_resends():
    room = writes.get_or_create_room("r")[0]
    posts = [writes.post_message(room.pk, ALICE, "same", nonce="") for _ in range(3)]
    assert all(p.created for p in posts) and [p.message.seq for p in posts] == [1, 2, 3]


@pytest.mark.django_db
def test_a_resend_is_looked_up_through_the_nonce_index_not_by_walking_the_room():
    room = writes.get_or_create_room("r")[0]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small is scanned anyway
    plan = Message.objects.in_room(room).sent_with_nonce(ALICE.key, "n1").explain()
    assert "message_nonce_unique_per_author" in plan


@pytest.mark.django_db
def test_page_before_returns_oldest_first_and_says_if_more_remain():
    room = writes.get_or_create_room("r")[0]
    for i in range(1, 8):
        writes.post_message(room.pk, ALICE, f"m{i}")
    page, has_older = Message.objects.in_room(room).page_before(6, 3)
    assert [m.seq for m in page] == [3, 4, 5]
    assert has_older
    page, has_older = Message.objects.in_room(room).page_before(3, 3)
    assert [m.seq for m in page] == [1, 2]
    assert not has_older


@pytest.mark.django_db
def test_rooms_are_listed_newest_activity_first():
    old, new = writes.get_or_create_room("old")[0], writes.get_or_create_room("new")[0]
    assert list(Room.objects.listed()) == [new, old]
    writes.post_message(old.pk, ALICE, "bump")
    assert list(Room.objects.listed()) == [old, new]


def message_error(data):
    form = MessageForm.from_frame(data)
    return None if form.is_valid() else form.error_code()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"message": ""}, "empty"),
        ({"message": " \t\n "}, "empty"),
        ({"message": "\u200b\u2060\ufeff"}, "empty"),
        ({"message": "\u3164\u2800"}, "empty"),
        ({"message": "x" * 4001}, "too_long"),
        ({"message": "nul\x00byte"}, "control_chars"),
        ({"message": "lone \ud800 surrogate"}, "control_chars"),
        ({"message": 42}, "bad_type"),
        ({"message": ["a"]}, "bad_type"),
        ({"message": None}, "bad_type"),
        ({"message": "ok", "nonce": 5}, "bad_type"),
    ],
)
def test_invalid_messages_get_a_stable_error_code(data, code):
    assert message_error(data) == code


def test_a_message_of_exactly_the_limit_is_accepted_and_trimmed():
    form = MessageForm.from_frame({"message": "  " + "가" * 4000 + "  "})
    assert form.is_valid()
    assert form.cleaned_data["message"] == "가" * 4000


def test_messages_keep_newlines_and_unknown_fields_are_ignored():
    form = MessageForm.from_frame({"message": "line 1\nline 2", "author": "admin", "room": 99})
    assert form.is_valid()
    assert form.cleaned_data["message"] == "line 1\nline 2"


@pytest.mark.parametrize(("name", "valid"), [("민준", True), ("x" * 32, True), ("x" * 33, False), ("a\u202eb", False)])
def test_display_names_are_1_to_32_characters_without_controls(name, valid):
    assert DisplayNameForm({"display_name": name}).is_valid() is valid


def test_the_rate_limit_allows_a_burst_then_one_per_second():
    now = [0.0]
    bucket = TokenBucket(burst=5, per_second=1, clock=lambda: now[0])
    assert [bucket.allow() for _ in range(6)] == [True] * 5 + [False]
    now[0] += 1.0
    assert bucket.allow() and not bucket.allow()


def test_a_zero_rate_limit_setting_disables_the_limit():
    bucket = TokenBucket(burst=0, per_second=0)
    assert all(bucket.allow() for _ in range(100))

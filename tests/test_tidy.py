"""``manage.py tidy``: expired sessions go, and with them the read positions of their guests;
live guests and accounts keep theirs."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from rooms import unread, writes
from rooms.identity import GUEST_ID_KEY, Author
from rooms.models import ReadPosition

pytestmark = pytest.mark.django_db
SOMEONE = Author(key="u-1", name="someone")


def guest_who_opened(room_path: str) -> tuple[Client, str]:
    """A browser that opened a room (which reads it): its guest key."""
    client = Client()
    assert client.get(room_path).status_code == 200
    return client, f"g-{client.session[GUEST_ID_KEY]}"


def tidy() -> str:
    out = io.StringIO()
    call_command("tidy", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("engine", ["db", "cached_db"])
def test_tidy_clears_expired_sessions_and_the_read_positions_of_their_guests(engine, settings):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    rooms = [writes.get_or_create_room(name)[0] for name in ("하나", "둘")]
    for room in rooms:
        writes.post_message(room.pk, SOMEONE, "hello")
    staying, stayer = guest_who_opened(rooms[0].get_absolute_url())
    staying.get(rooms[1].get_absolute_url())
    leaving, leaver = guest_who_opened(rooms[0].get_absolute_url())
    leaving.get(rooms[1].get_absolute_url())
    unread.mark_read(["u-1"], rooms[0].pk, 1)  # an account's position: never a guest's
    unread.mark_read(["g-0123456789abcdef"], rooms[0].pk, 1)  # a guest whose session is long gone
    Session.objects.filter(session_key=leaving.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert ReadPosition.objects.count() == 6
    assert ReadPosition.objects.filter(key=leaver).count() == 2  # opening a room reads it

    assert tidy().strip() == "3 read positions of 2 departed guests removed"
    assert sorted(ReadPosition.objects.values_list("key", "room__name")) == sorted(
        [(stayer, "하나"), (stayer, "둘"), ("u-1", "하나")]
    )
    assert not Session.objects.filter(session_key=leaving.session.session_key).exists()
    assert Session.objects.filter(session_key=staying.session.session_key).exists()
    # The guest who stayed still has their place: nothing unread until someone writes.
    writes.post_message(rooms[0].pk, SOMEONE, "new")
    assert unread.counts(stayer, [room.pk for room in rooms])[rooms[0].pk].messages == 1
    assert tidy().strip() == "0 read positions of 0 departed guests removed"  # a second run has nothing left


def test_tidy_leaves_read_positions_alone_when_sessions_cannot_be_listed(settings):
    room = writes.get_or_create_room("방")[0]
    unread.mark_read(["g-0123456789abcdef"], room.pk, 0)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert "cannot be listed" in tidy()
    assert ReadPosition.objects.count() == 1

"""A message's permalink (/rooms/<slug>/messages/<seq>/), where search results lead, and "load
newer" from it, through the Django client."""

from __future__ import annotations

import re

import pytest

from rooms import unread, writes
from rooms.identity import GUEST_ID_KEY, Author
from rooms.models import Message, Room

pytestmark = pytest.mark.django_db
ALICE = Author(key="g-alice", name="Alice")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def busy() -> tuple[Room, list[Message]]:
    room = writes.get_or_create_room("한국어 방")[0]
    return room, [writes.post_message(room.pk, ALICE, f"message {n}").message for n in range(1, 81)]


def seqs(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'data-seq="(\d+)"', html)]


def test_a_permalink_shows_its_message_among_25_before_and_25_after_with_older_and_newer(client, busy):
    room, messages = busy
    target = messages[39]
    response = client.get(f"{room.messages_url}40/")
    html = response.content.decode()
    assert response.status_code == 200
    assert seqs(html) == list(range(15, 66))
    assert f'id="message-{target.pk}" data-seq="40"' in html
    assert f'href="{room.messages_url}?before=15"' in html and 'hx-target="#older"' in html
    assert f'href="{room.messages_url}?after=65"' in html and 'hx-target="#newer"' in html


def test_search_results_link_where_the_target_style_applies(client, busy):
    room, messages = busy
    html = client.get("/search/", {"q": "message 40"}).content.decode()
    assert f'href="{room.messages_url}40/#message-{messages[39].pk}"' in html
    css = client.get("/static/css/madang.css")
    assert ".message:target" in b"".join(css.streaming_content).decode()


def test_load_newer_is_a_fragment_for_htmx_and_a_page_without(client, busy):
    room, _messages = busy
    fragment = client.get(room.messages_url, {"after": "65"}, **HTMX).content.decode()
    assert "<html" not in fragment
    assert seqs(fragment) == list(range(66, 81))
    assert 'id="newer-link"' in fragment and "This is the latest message." in fragment
    page = client.get(room.messages_url, {"after": "10"}).content.decode()
    assert "<html" in page and seqs(page) == list(range(11, 61))
    assert f'href="{room.messages_url}?before=11"' in page and f'href="{room.messages_url}?after=60"' in page
    assert seqs(client.get(room.messages_url, {"after": "nonsense"}, **HTMX).content.decode())[:2] == [1, 2]


def test_the_start_and_the_end_of_a_room_have_no_links_beyond_them(client, busy):
    room, _messages = busy
    first = client.get(f"{room.messages_url}1/").content.decode()
    assert seqs(first) == list(range(1, 27)) and "This is the start of the room." in first and "?before=" not in first
    last = client.get(f"{room.messages_url}80/").content.decode()
    assert seqs(last)[-1] == 80 and "This is the latest message." in last and "?after=" not in last


def test_a_seq_that_does_not_exist_is_404(client, busy):
    room, _messages = busy
    assert client.get(f"{room.messages_url}81/").status_code == 404
    assert client.get(f"{room.messages_url}0/").status_code == 404
    assert client.get("/rooms/nowhere/messages/1/").status_code == 404


def test_deleted_and_hidden_messages_are_placeholders_and_a_gone_target_says_so(client, busy):
    room, messages = busy
    writes.delete_messages([messages[39]])
    writes.hide_messages([messages[40]])
    html = client.get(f"{room.messages_url}40/").content.decode()
    assert seqs(html) == list(range(15, 66))  # still gap-free
    assert "message 40<" not in html and "message 41<" not in html
    assert html.count("data-gone") == 2
    assert "This message was deleted or hidden." in html
    assert "deleted or hidden" not in client.get(f"{room.messages_url}42/").content.decode()


def test_a_permalink_and_load_newer_mark_nothing_read(client, busy):
    room, _messages = busy
    client.get(room.get_absolute_url())  # opening the room reads it, up to 80
    reader = f"g-{client.session[GUEST_ID_KEY]}"
    for n in range(3):
        writes.post_message(room.pk, ALICE, f"later {n}")
    client.get(f"{room.messages_url}82/")
    client.get(room.messages_url, {"after": "80"}, **HTMX)
    assert unread.counts(reader, [room.pk])[room.pk].messages == 3


def test_korean_search_and_permalink_pages_carry_no_english_words_of_ours():
    from django.test import Client

    from tests.test_translations import english_in

    room = writes.get_or_create_room("회의실")[0]
    for n in range(80):
        writes.post_message(room.pk, Author("g-minji", "민지"), f"메시지 {n}")
    writes.post_message(room.pk, ALICE, "내일 회의 있어요")
    writes.delete_messages([Message.objects.get(room=room, seq=40)])
    korean = Client(HTTP_ACCEPT_LANGUAGE="ko")
    pages = {
        "search": korean.get("/search/", {"q": "메시지"}),
        "room search": korean.get("/search/", {"q": "회의", "room": room.slug}),
        "nothing": korean.get("/search/", {"q": "**"}),
        "too long": korean.get("/search/", {"q": "x" * 300}),
        "permalink": korean.get(f"{room.messages_url}40/"),
        "newer": korean.get(room.messages_url, {"after": "70"}),
    }
    assert {name: english_in(page.content.decode()) for name, page in pages.items()} == {name: [] for name in pages}

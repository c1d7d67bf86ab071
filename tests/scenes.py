"""Rooms full of life for tests that look at pages (tests/test_accessibility.py,
tests/test_screenshots.py): made in the test process through rooms.writes, read by the server.

The viewer's own messages and reactions need the viewer's identity: ``guest_of(page)`` reads the
guest the page's session cookie is, as the server would.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from playwright.sync_api import Page

from rooms import writes
from rooms.identity import GUEST_ID_KEY, GUEST_NAME_KEY, Author
from rooms.models import Message, Room

BOB = Author(key="g-bob", name="Bob")
MINJI = Author(key="g-minji", name="김민지")
LOBBY_ROOMS = ["tea house", "한국어 방", "a room with a long name that has to wrap on a phone"]

CHAT = [
    (BOB, "Morning all!"),
    (MINJI, "안녕하세요! 오늘 날씨가 정말 좋네요 ☀️"),
    (None, "Hi both, I brought tea 🍵"),
    (BOB, "Lovely. Which one?"),
    (None, "보성 녹차, the green one from Boseong"),
    (MINJI, "와, 저 그거 좋아해요"),
    (BOB, "Never had it. Is it grassy? https://example.com/tea/boseong"),
    (MINJI, "조금요. 하지만 아주 부드러워요."),
    (None, "A bit, yes. Brew it cooler than black tea, about 70 degrees: https://example.com/brewing"),
    (BOB, "Noted 📝"),
    (MINJI, "다음 주에 다 같이 마당에서 만날까요?"),
    (None, "Good idea! Saturday afternoon?"),
    (BOB, "Works for me."),
    (MINJI, "토요일 오후 좋아요 🎉"),
    (None, "I'll bring the cups."),
    (BOB, "And I'll bring biscuits, or as they say here, 과자."),
    (MINJI, "ㅋㅋㅋ 좋아요"),
    (
        BOB,
        "A longer one, to see how a paragraph wraps in a bubble: the garden at the back has a table "
        "under the persimmon tree, which is where we sat last autumn when it was still warm enough.",
    ),
    (MINJI, "감나무 아래 그 자리 기억나요! 정말 좋았어요."),
    (None, "See you all Saturday 👋"),
    (BOB, "👍"),
    (MINJI, "내일 봐요~"),
]


def guest_of(page: Page) -> Author:
    """The guest identity of the page's session (it has loaded a page of ours, so it has one)."""
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    return Author(key=f"g-{session[GUEST_ID_KEY]}", name=session[GUEST_NAME_KEY])


def lobby() -> list[Room]:
    rooms = [writes.get_or_create_room(name)[0] for name in LOBBY_ROOMS]
    writes.post_message(rooms[0].pk, BOB, "hello")
    return rooms


def busy_room(viewer: Author, name: str = "마당 tea house") -> Room:
    """A room of 22 messages in English and Korean from Bob, 김민지 and the viewer, with emoji,
    reactions (some the viewer's), an edited message of the viewer's and one of someone else's."""
    room = writes.get_or_create_room(name)[0]
    posted = [writes.post_message(room.pk, author or viewer, text).message for author, text in CHAT]
    first_own = next(m for m in posted if m.author_key == viewer.key)
    writes.edit_message(first_own, "Hi both, I brought tea 🍵 (and honey)")
    writes.edit_message(posted[1], "안녕하세요! 오늘 날씨가 정말 맑네요 ☀️")
    for message, reactor, emoji in [
        (posted[1], BOB, "👍"),
        (posted[1], viewer, "👍"),
        (posted[1], BOB, "❤️"),
        (posted[13], BOB, "🎉"),
        (posted[13], viewer, "🎉"),
        (posted[13], MINJI, "😂"),
        (posted[19], MINJI, "🙏"),
        (posted[-1], viewer, "❤️"),
    ]:
        writes.toggle_reaction(Message.objects.get(pk=message.pk), reactor, emoji)
    return room

"""Search, as the function and as the page people use; on whichever database the suite runs on
(SQLite's FTS5 trigram table by default, pg_trgm with DATABASE_URL=postgres://...)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection

from rooms import search, writes
from rooms.identity import Author
from rooms.models import Message, Room

pytestmark = pytest.mark.django_db
ALICE = Author(key="g-alice", name="Alice")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fresh_rate_counts():
    """Search rates are counted in the (per-process) cache; each test starts with none."""
    cache.clear()


def room(name: str = "general") -> Room:
    return writes.get_or_create_room(name)[0]


def say(where: Room, text: str, author: Author = ALICE) -> Message:
    return writes.post_message(where.pk, author, text).message


def found(q: str, **kwargs: object) -> list[str]:
    return [result.message.text for result in search.find(q, **kwargs).results]


def test_the_engine_is_the_databases_own():
    assert connection.vendor in {"sqlite", "postgresql"}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'rooms_message_fts%' AND type='trigger'")
            assert cursor.fetchone()[0] == 3
        else:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'rooms_message_text_trgm'")
            assert "gin_trgm_ops" in cursor.fetchone()[0]


def test_korean_words_are_found_inside_longer_words_of_three_syllables_or_two():
    here = room()
    say(here, "한국어가 좋아요")
    say(here, "내일 회의 있어요")
    say(here, "회의를 합시다")
    say(here, "English only")
    assert found("한국어") == ["한국어가 좋아요"]
    assert found("회의") == ["회의를 합시다", "내일 회의 있어요"]
    assert found("회의 내일") == ["내일 회의 있어요"]
    assert found("좋아요 한국어") == ["한국어가 좋아요"]


def test_every_word_must_match_in_any_order_ignoring_latin_case():
    here = room()
    say(here, "The Deploy finished")
    say(here, "deploy failed again")
    say(here, "nothing to see")
    assert found("DEPLOY") == ["deploy failed again", "The Deploy finished"]
    assert found("finished deploy") == ["The Deploy finished"]
    assert found("deploy nothing") == []  # "nothing" is in another message
    assert found("deploy, again!") == ["deploy failed again"]  # punctuation around words is not searched


def test_words_of_one_or_two_letters_ignore_latin_case_too():
    here = room()
    for text in ["OK then", "fine by me", "Ok, sure", "다 좋아요 ok?"]:
        say(here, text)
    assert found("ok") == found("OK") == ["다 좋아요 ok?", "Ok, sure", "OK then"]
    assert found("BY") == ["fine by me"]
    assert found("다 ok") == ["다 좋아요 ok?"]


def test_an_edit_is_found_by_its_new_text_only():
    message = say(room(), "the old wording")
    assert found("wording") == ["the old wording"]
    writes.edit_message(message, "a new phrasing")
    assert found("wording") == []
    assert found("old") == []
    assert found("phrasing") == ["a new phrasing"]


def test_deleted_and_hidden_messages_are_never_found():
    here = room()
    deleted = say(here, "secret plans")
    hidden = say(here, "secret spam")
    say(here, "no secrets here")
    writes.delete_messages([deleted])
    writes.hide_messages([hidden])
    assert found("secret") == ["no secrets here"]
    assert found("spam") == found("plans") == []
    writes.hide_messages([hidden], hidden=False)
    assert found("spam") == ["secret spam"]


def test_a_room_restricts_the_search_and_results_come_newest_first_a_page_at_a_time():
    here, there = room("here"), room("there")
    mine = [say(here, f"release note {n}") for n in range(25)]
    say(there, "release elsewhere")
    first = search.find("release", room=here)
    assert [r.message.pk for r in first.results] == [m.pk for m in reversed(mine)][:20]
    assert first.has_more and first.next_before == mine[5].pk
    second = search.find("release", room=here, before=first.next_before)
    assert [r.message.pk for r in second.results] == [m.pk for m in reversed(mine[:5])]
    assert not second.has_more and second.next_before is None
    assert "release elsewhere" in found("release", limit=30)


@pytest.mark.parametrize(
    "q",
    ['"', "*", "OR", "NEAR(", "()", "^", "-", '"OR*', "%", "_", "\\", "!!! ... ???", "AND OR NOT", " \u200b "],
)
def test_a_query_of_operators_or_punctuation_is_nothing_to_search_for(q):
    say(room(), 'anything at all: "quotes" * OR NEAR( % _ \\')
    with pytest.raises(search.QueryProblem) as problem:
        search.find(q)
    assert problem.value.code == "nothing_to_search"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('a"b', ['say a"b']),
        ("NEAR(a b)", []),
        ("quoted OR phrase", ["a quoted phrase"]),  # OR is no operator: both words are required
        ("a_b", ["under a_b score"]),
        ("a%b", ["fifty a%b percent"]),
        ("a\\b", ["path a\\b slash"]),
        ("ab*", []),
        ('"quoted phrase"', ["a quoted phrase"]),
        ("col:umn", []),
        ("{x y}", []),
    ],
)
def test_hostile_queries_are_plain_text(q, expected):
    here = room()
    for text in [
        'say a"b',
        "under a_b score",
        "axb",
        "fifty a%b percent",
        "aXXb",
        "path a\\b slash",
        "a quoted phrase",
    ]:
        say(here, text)
    assert found(q) == expected


def test_a_long_query_is_refused_with_a_reason_and_so_are_too_many_words():
    with pytest.raises(search.QueryProblem) as problem:
        search.find("x" * 10_000)
    assert problem.value.code == "too_long"
    with pytest.raises(search.QueryProblem) as problem:
        search.find(" ".join(f"w{n}" for n in range(11)))
    assert problem.value.code == "too_many_words"


def test_matches_are_cut_into_parts_for_the_template_to_mark():
    parts = search.segments("Deploy then deploy, 배포", ("deploy", "배포"))
    assert [(p.text, p.match) for p in parts] == [
        ("Deploy", True),
        (" then ", False),
        ("deploy", True),
        (", ", False),
        ("배포", True),
    ]
    long = search.segments("x" * 500 + " needle " + "y" * 500, ("needle",), around=20)
    assert long[0].text.startswith("…") and long[-1].text.endswith("…")
    assert sum(len(p.text) for p in long) < 60 and [p.text for p in long if p.match] == ["needle"]


# The pages


def test_the_search_page_without_a_query_is_just_the_form(client):
    html = client.get("/search/").content.decode()
    assert re.search(r'<label for="search-q">Search messages</label>', html)
    assert 'name="q"' in html and "search-list" not in html and "search-error" not in html


def test_the_lobby_and_each_room_have_a_search_box(client):
    here = room("한국어 방")
    lobby = client.get("/").content.decode()
    assert 'role="search"' in lobby and 'hx-get="/search/"' in lobby and 'hx-push-url="true"' in lobby
    assert 'id="search-results"' in lobby
    page = client.get(here.get_absolute_url()).content.decode()
    assert "Search this room" in page and f'name="room" value="{here.slug}"' in page


def test_results_link_to_the_permalink_with_room_author_and_time(client):
    here = room("한국어 방")
    message = say(here, "내일 회의 있어요", Author(key="g-bo", name="보라"))
    response = client.get("/search/", {"q": "회의"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    link = f'href="/rooms/%ED%95%9C%EA%B5%AD%EC%96%B4-%EB%B0%A9/messages/{message.seq}/#message-{message.pk}"'
    assert link in html
    assert "한국어 방" in html and "보라" in html and "<time" in html
    assert "내일 <mark>회의</mark> 있어요" in html


def test_highlighting_escapes_the_text_and_marks_only_in_the_template(client):
    say(room(), "<script>alert(1)</script> & <b>bold</b>")
    html = client.get("/search/", {"q": "script bold"}).content.decode()
    assert "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; &amp; &lt;b&gt;<mark>bold</mark>" in html
    assert "<script>alert" not in html and "<b>bold" not in html


def test_with_htmx_the_answer_is_the_results_region_and_more_is_the_next_results(client):
    here = room()
    for n in range(25):
        say(here, f"standup {n}")
    response = client.get("/search/", {"q": "standup"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html and html.count('class="search-result"') == 20
    more = re.search(r'id="search-more".*?hx-get="([^"]+)"', html, re.S)
    assert more and 'hx-target="#search-more"' in html
    rest = client.get(more.group(1).replace("&amp;", "&"), **HTMX).content.decode()
    assert rest.count('class="search-result"') == 5 and "search-more" not in rest and "<h2" not in rest
    assert "</mark> 0</a>" in rest and "</mark> 24</a>" not in rest
    page = client.get(more.group(1).replace("&amp;", "&")).content.decode()  # the same link, without JavaScript
    assert "<html" in page and page.count('class="search-result"') == 5


def test_going_back_to_a_pushed_search_gets_the_whole_page(client):
    say(room(), "standup notes")
    restore = client.get("/search/", {"q": "standup"}, **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restore.content.decode() and 'id="search-results"' in restore.content.decode()
    assert "HX-Request" in restore["Vary"]


def test_a_room_search_stays_in_the_room_and_an_unknown_room_is_404(client):
    here, there = room("here"), room("there")
    say(here, "budget draft")
    say(there, "budget final")
    html = client.get("/search/", {"q": "budget", "room": here.slug}).content.decode()
    assert "</mark> draft" in html and "</mark> final" not in html
    assert client.get("/search/", {"q": "budget", "room": "nowhere"}).status_code == 404


def test_refused_queries_say_why_and_never_fail(client):
    say(room(), "text")
    too_long = client.get("/search/", {"q": "x" * 10_000})
    assert too_long.status_code == 400 and 'data-error="too_long"' in too_long.content.decode()
    for q in ['"', "*", "OR", "()", "%", "_", "\\"]:
        response = client.get("/search/", {"q": q})
        assert response.status_code == 200, q
        assert 'data-error="nothing_to_search"' in response.content.decode()
    near = client.get("/search/", {"q": "NEAR(a b)"})  # words, searched as text: nothing has them
    assert near.status_code == 200 and 'id="search-none"' in near.content.decode()
    with_htmx = client.get("/search/", {"q": "x" * 201}, **HTMX)
    assert with_htmx.status_code == 200 and 'data-error="too_long"' in with_htmx.content.decode()
    assert client.get("/search/", {"q": "text", "before": "nope"}).status_code == 200


def test_searching_too_often_is_429_with_a_sentence(client, settings):
    settings.ROOMS_SEARCH_RATE = 3
    say(room(), "hello")
    for _ in range(3):
        assert client.get("/search/", {"q": "hello"}).status_code == 200
    refused = client.get("/search/", {"q": "hello"})
    assert refused.status_code == 429
    assert 'data-error="rate_limited"' in refused.content.decode()
    assert "Too many searches" in refused.content.decode()
    assert client.get("/search/").status_code == 200  # the empty form is not a search


def test_a_client_that_drops_its_cookies_is_still_counted_by_its_address(client, settings):
    settings.ROOMS_SEARCH_RATE, settings.ROOMS_RATE_ADDRESS_FACTOR = 2, 2
    say(room(), "hello")
    answers = []
    for _ in range(5):
        client.cookies.clear()  # a new guest session every time
        answers.append(client.get("/search/", {"q": "hello"}).status_code)
    assert answers == [200, 200, 200, 200, 429]
    other = client.get("/search/", {"q": "hello"}, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 200  # another address has its own count


def test_a_query_of_short_words_only_reads_the_newest_messages_and_says_so(client, settings):
    settings.ROOMS_SEARCH_SHORT_WORD_WINDOW = 3
    here, elsewhere = room(), room("elsewhere")
    say(here, "회의 long ago")
    for n in range(3):
        say(elsewhere, f"later {n}")
    # Of every room's newest three, none is it; with a longer word every message is searched.
    assert found("회의") == []
    assert search.find("회의").window == 3
    assert found("회의 long") == ["회의 long ago"]
    assert search.find("회의 long").window is None
    # In a room the window is that room's newest messages (its own numbering).
    assert found("회의", room=here) == ["회의 long ago"]
    for n in range(3):
        say(here, f"then {n}")
    assert found("회의", room=here) == []
    page = client.get("/search/", {"q": "회의"}).content.decode()
    assert 'id="search-window"' in page and "latest 3 messages" in page
    assert 'id="search-window"' not in client.get("/search/", {"q": "회의 long"}).content.decode()

"""Edit, delete and react over HTTP with the Django client: a plain page and a redirect without
JavaScript, a fragment for htmx, 403 for someone else's message, 404 for one that is gone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from rooms import writes
from rooms.identity import GUEST_ID_KEY, GUEST_NAME_KEY, Author
from rooms.models import Message, Room

pytestmark = pytest.mark.django_db
BOB = Author(key="g-bob", name="Bob")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def room() -> Room:
    return writes.get_or_create_room("한국어 방")[0]


def me(client: Client) -> Author:
    """The guest the client's session is (made by loading a page, as a browser does)."""
    client.get("/")
    return Author(key=f"g-{client.session[GUEST_ID_KEY]}", name=client.session[GUEST_NAME_KEY])


def url(message: Message, action: str) -> str:
    return f"{message.room.get_absolute_url()}messages/{message.pk}/{action}/"


@pytest.fixture
def mine(client: Client, room: Room) -> Message:
    return writes.post_message(room.pk, me(client), "my words").message


@pytest.fixture
def theirs(room: Room) -> Message:
    return writes.post_message(room.pk, BOB, "bob's words").message


def test_without_javascript_editing_is_a_page_with_the_text_then_a_redirect_to_the_message(client, mine):
    page = client.get(url(mine, "edit"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "my words</textarea>" in html and 'name="csrfmiddlewaretoken"' in html and "<dialog" not in html
    response = client.post(url(mine, "edit"), {"message": "  better words "})
    assert response.status_code == 302
    assert response["Location"] == f"{mine.room.get_absolute_url()}#message-{mine.pk}"
    stored = Message.objects.get(pk=mine.pk)
    assert stored.text == "better words" and stored.edited_at is not None


def test_with_htmx_editing_opens_a_form_in_the_message_and_saving_closes_it(client, mine):
    form = client.get(url(mine, "edit"), **HTMX).content.decode()
    assert form.lstrip().startswith("<dialog") and 'closedby="closerequest"' in form
    assert f'hx-post="{url(mine, "edit")}"' in form
    saved = client.post(url(mine, "edit"), {"message": "new"}, **HTMX)
    # Nothing but an empty slot: the new text reaches this page, like every other, by broadcast.
    assert saved.status_code == 200 and saved.content == b""
    assert Message.objects.get(pk=mine.pk).text == "new"
    assert client.get(url(mine, "edit") + "?cancel", **HTMX).content == b""


def test_cancel_closes_the_palette_on_anyones_message_and_the_confirmation_on_mine(client, mine, theirs):
    palette = client.get(url(theirs, "reactions"), **HTMX).content.decode()
    assert f'hx-get="{url(theirs, "reactions")}?cancel"' in palette
    cancelled = client.get(url(theirs, "reactions") + "?cancel", **HTMX)
    assert cancelled.status_code == 200 and cancelled.content == b""
    confirm = client.get(url(mine, "delete"), **HTMX).content.decode()
    assert f'hx-get="{url(mine, "delete")}?cancel"' in confirm
    assert client.get(url(mine, "delete") + "?cancel", **HTMX).content == b""
    assert not Message.objects.get(pk=mine.pk).gone


def test_an_invalid_edit_keeps_the_draft_and_says_why(client, mine):
    plain = client.post(url(mine, "edit"), {"message": "\u200b"})
    assert plain.status_code == 400 and 'data-error="empty"' in plain.content.decode()
    htmx = client.post(url(mine, "edit"), {"message": "x" * 4001}, **HTMX)
    assert htmx.status_code == 200  # htmx swaps only 2xx: the error is inside the form
    assert 'data-error="too_long"' in htmx.content.decode()
    assert Message.objects.get(pk=mine.pk).text == "my words"


def test_someone_elses_message_cannot_be_edited_or_deleted(client, theirs):
    me(client)
    for action in ("edit", "delete"):
        assert client.get(url(theirs, action)).status_code == 403
        assert client.post(url(theirs, action), {"message": "hijacked"}).status_code == 403
    assert Message.objects.get(pk=theirs.pk).text == "bob's words"


def test_a_moderator_may_edit_and_delete_anyones_message(client, theirs):
    client.force_login(User.objects.create_user("mod", is_staff=True))
    assert client.post(url(theirs, "edit"), {"message": "moderated"}).status_code == 302
    assert client.post(url(theirs, "delete")).status_code == 302
    assert Message.objects.get(pk=theirs.pk).gone


def test_deleting_asks_first_then_leaves_a_placeholder_on_the_page(client, mine):
    confirm = client.get(url(mine, "delete"))
    assert confirm.status_code == 200 and 'class="delete-form"' in confirm.content.decode()
    assert not Message.objects.get(pk=mine.pk).gone
    assert client.post(url(mine, "delete")).status_code == 302
    page = client.get(mine.room.get_absolute_url()).content.decode()
    assert "my words" not in page
    assert f'id="message-{mine.pk}-content" data-gone' in page


def test_a_message_that_is_gone_answers_404(client, mine, theirs):
    writes.delete_messages([mine])
    writes.hide_messages([theirs])
    for message in (mine, theirs):
        for action in ("edit", "delete", "reactions"):
            assert client.get(url(message, action)).status_code == 404
    assert client.get(f"{mine.room.get_absolute_url()}messages/999999/edit/").status_code == 404
    other = writes.get_or_create_room("other")[0]
    assert client.get(f"{other.get_absolute_url()}messages/{theirs.pk}/reactions/").status_code == 404


def test_anyone_may_react_and_choosing_again_takes_it_back(client, theirs):
    me(client)
    palette = client.get(url(theirs, "reactions")).content.decode()
    assert palette.count('name="emoji"') == 6
    assert client.post(url(theirs, "reactions"), {"emoji": "👍"}).status_code == 302
    assert [(r.emoji, r.count) for r in Message.objects.get(pk=theirs.pk).reaction_summary()] == [("👍", 1)]
    answer = client.post(url(theirs, "reactions"), {"emoji": "👍"}, **HTMX)
    assert answer.status_code == 200 and answer.content == b""
    assert Message.objects.get(pk=theirs.pk).reaction_summary() == []


def test_a_reaction_outside_the_palette_is_refused_with_a_reason(client, theirs):
    response = client.post(url(theirs, "reactions"), {"emoji": "<script>"})
    assert response.status_code == 400 and 'data-error="bad_reaction"' in response.content.decode()
    assert "<script>" not in response.content.decode()


def test_changes_need_the_csrf_token(theirs):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url(theirs, "reactions"), {"emoji": "👍"}).status_code == 403
    strict.get(theirs.room.get_absolute_url())
    token = strict.cookies["csrftoken"].value
    assert strict.post(url(theirs, "reactions"), {"emoji": "👍"}, HTTP_X_CSRFTOKEN=token, **HTMX).status_code == 200


def test_the_room_page_shows_my_controls_through_my_style_and_the_words_in_my_language(client, mine, theirs):
    html = client.get(mine.room.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    author = me(client)
    assert f'.message[data-author="{author.key}"] .message-own' in html
    assert f'.reaction[data-reactors~="{author.key}"]' in html
    assert '--label-edit: "수정"' in html
    assert html.count('class="message-action message-own message-edit"') == 2  # the same markup on every message


def test_words_for_the_style_are_escaped_so_they_cannot_leave_their_css_string():
    from rooms.templatetags.madang import css_string

    assert css_string("수정 edit") == '"수정 edit"'
    assert css_string('"; } </style><script>') == '"\\22 \\3b  \\7d  \\3c \\2f style\\3e \\3c script\\3e "'

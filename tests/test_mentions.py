"""Mentions: ``@username`` of an account, decided when written, highlighted for that person only."""

from __future__ import annotations

import json
import re

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from rooms import mentions, writes
from rooms.identity import Author
from tests.test_consumers import create_room, join

ALICE = Author(key="g-alice", name="Alice")


def content_of(html: str, pk: int) -> str:
    found = re.search(rf'<div class="message-content" id="message-{pk}-content".*?</div>', html, re.S)
    assert found, html
    return re.sub(r' hx-swap-oob="[^"]*"', "", found.group(0))


@pytest.fixture
def accounts(db) -> dict[str, User]:
    return {name: User.objects.create_user(name, password="a-long-pass-phrase") for name in ("bob", "Carol", "dave")}


def test_what_counts_as_a_mention(accounts, django_assert_num_queries):
    accounts["dave"].is_active = False
    accounts["dave"].save()
    bob, carol = accounts["bob"], accounts["Carol"]
    with django_assert_num_queries(1):
        found = mentions.find(
            "hi @BOB and @carol. mail bob@example.com, @nobody, @dave, @@bob, (@bob) again", f"u-{carol.pk}"
        )
    # Case-insensitive, once each, in order; e-mail addresses, unknown, inactive and yourself are not.
    assert found == [mentions.Mentioned(f"u-{bob.pk}", "bob")]
    assert mentions.find("no at sign here", "g-x") == []
    with django_assert_num_queries(1):  # many names: one bounded lookup
        mentions.find(" ".join(f"@user{n}" for n in range(500)), "g-x")


def test_a_posted_mention_is_stored_and_rendered_as_a_mention_in_the_page(accounts, client):
    room = writes.get_or_create_room("hi")[0]
    bob, carol = accounts["bob"], accounts["Carol"]
    message = writes.post_message(room.pk, ALICE, "@Bob, @carol: <b>look</b> @nobody https://ex.am/@bob").message
    assert message.mentions == f"u-{bob.pk}:bob u-{carol.pk}:carol"
    html = client.get(room.get_absolute_url()).content.decode()
    content = content_of(html, message.pk)
    assert f'data-mentions="u-{bob.pk} u-{carol.pk}"' in content
    assert f'<strong class="mention" data-key="u-{bob.pk}">@Bob</strong>' in content
    assert f'<strong class="mention" data-key="u-{carol.pk}">@carol</strong>' in content
    assert "&lt;b&gt;look&lt;/b&gt; @nobody " in content  # text stays text; an unknown name too
    assert '<a class="message-link" href="https://ex.am/@bob"' in content  # a link stays one link


def test_the_mentioned_person_gets_the_highlight_rule_and_nobody_else(accounts):
    room = writes.get_or_create_room("style")[0]
    bob = accounts["bob"]
    as_bob, as_guest = Client(), Client()
    as_bob.force_login(bob)
    rule = f'.message:has(.message-content[data-mentions~="u-{bob.pk}"])'
    assert rule in as_bob.get(room.get_absolute_url()).content.decode()
    assert rule not in as_guest.get(room.get_absolute_url()).content.decode()


def test_an_edit_can_add_a_mention_and_take_one_back(accounts):
    room = writes.get_or_create_room("edits")[0]
    bob, carol = accounts["bob"], accounts["Carol"]
    message = writes.post_message(room.pk, ALICE, "hello @bob").message
    writes.edit_message(message, "hello @carol")
    message.refresh_from_db()
    assert message.mentions == f"u-{carol.pk}:carol" and message.mention_keys == f"u-{carol.pk}"
    assert f"u-{bob.pk}" not in message.mention_keys  # Bob's mention went with the edit
    writes.delete_messages([message])
    message.refresh_from_db()
    assert message.mentions == ""  # a tombstone mentions nobody


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_live_mention_is_exactly_what_a_fresh_load_shows(browser_headers):
    bob = await database_sync_to_async(User.objects.create_user)("bob", password="a-long-pass-phrase")
    room = await create_room("live")
    alice, _ = await join(room, browser_headers())
    reader, _ = await join(room, browser_headers())
    await alice.send_to(json.dumps({"message": "ping @bob <i>now</i>", "nonce": "m1"}))
    frame = await reader.receive_from()
    message = await database_sync_to_async(lambda: room.messages.get())()
    page = await database_sync_to_async(lambda: Client().get(room.get_absolute_url()).content.decode())()
    assert content_of(frame, message.pk) == content_of(page, message.pk)
    assert f'data-mentions="u-{bob.pk}"' in content_of(frame, message.pk)
    await alice.disconnect()
    await reader.disconnect()

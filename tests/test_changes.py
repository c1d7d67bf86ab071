"""Edits, deletions, hides and reactions as writes: who may, what is stored, and that each is one
event of the room's stream (rooms.models)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User

from rooms import permissions, writes
from rooms.forms import MessageForm, ReactionForm
from rooms.identity import Author, author_for_user
from rooms.models import Message, Reaction, Room

pytestmark = pytest.mark.django_db
ALICE = Author(key="g-alice", name="Alice")
BOB = Author(key="g-bob", name="Bob")


@pytest.fixture
def room() -> Room:
    return writes.get_or_create_room("changes")[0]


def say(room: Room, text: str, author: Author = ALICE) -> Message:
    return writes.post_message(room.pk, author, text).message


def fresh(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def test_every_change_takes_the_rooms_next_event_and_the_message_remembers_its_latest(room):
    first, second = say(room, "one"), say(room, "two")
    assert (first.posted_event, first.event, second.posted_event, second.event) == (1, 1, 2, 2)
    writes.edit_message(first, "one, edited")
    writes.toggle_reaction(second, BOB, "👍")
    writes.hide_messages([first])
    room.refresh_from_db()
    assert room.last_event == 5 and room.last_seq == 2  # seqs count posts, events count changes
    assert (fresh(first).event, fresh(second).event) == (5, 4)
    assert [m.seq for m in Message.objects.in_room(room).changed_since(3)] == [2, 1]  # oldest change first
    assert [m.seq for m in Message.objects.in_room(room).changed_since(4)] == [1]


def test_an_edit_replaces_the_text_and_marks_it_edited_and_the_same_text_is_no_change(room):
    message = say(room, "helo")
    assert writes.edit_message(message, "hello")
    stored = fresh(message)
    assert stored.text == "hello" and stored.edited_at is not None and stored.event == 2
    assert not writes.edit_message(message, "hello")
    assert fresh(message).event == 2


def test_an_edit_is_validated_by_the_same_form_and_limits_as_a_post(settings):
    settings.ROOMS_MESSAGE_MAX_LENGTH = 10
    assert MessageForm({"message": "\u200b "}).error_code() == "empty"
    assert MessageForm({"message": "x" * 11}).error_code() == "too_long"
    assert MessageForm({"message": " fine "}).is_valid()


def test_a_deleted_message_leaves_a_tombstone_that_keeps_its_seq_and_forgets_its_text(room):
    message = say(room, "oops")
    writes.toggle_reaction(message, BOB, "😂")
    assert writes.delete_messages([message]) == 1
    tombstone = fresh(message)
    assert tombstone.gone and tombstone.text == "" and tombstone.deleted_at is not None
    assert not Reaction.objects.exists()
    assert writes.delete_messages([message]) == 0  # already gone: no second event
    assert say(room, "next").seq == 2
    assert list(Message.objects.visible().values_list("text", flat=True)) == ["next"]


def test_a_deleted_message_cannot_be_edited_reacted_to_or_shown_again(room):
    message = say(room, "gone")
    writes.delete_messages([message])
    assert not writes.edit_message(message, "back?")
    assert writes.hide_messages([message], hidden=False) == 0
    with pytest.raises(Message.DoesNotExist):
        writes.toggle_reaction(message, BOB, "👍")


def test_hiding_and_showing_again_are_events_and_showing_restores_the_message(room):
    message = say(room, "borderline")
    assert writes.hide_messages([message]) == 1
    assert fresh(message).gone
    assert writes.hide_messages([message]) == 0
    assert writes.hide_messages([message], hidden=False) == 1
    assert not fresh(message).gone and fresh(message).event == 3


def test_choosing_a_reaction_twice_takes_it_back_and_each_person_counts_once(room):
    message = say(room, "nice")
    assert writes.toggle_reaction(message, BOB, "👍") is True
    assert writes.toggle_reaction(message, ALICE, "👍") is True
    assert writes.toggle_reaction(message, ALICE, "🎉") is True
    summary = fresh(message).reaction_summary()
    assert [(r.emoji, r.count, r.names, r.keys) for r in summary] == [
        ("👍", 2, "Bob, Alice", "g-bob g-alice"),
        ("🎉", 1, "Alice", "g-alice"),
    ]
    assert writes.toggle_reaction(message, BOB, "👍") is False
    assert [(r.emoji, r.count) for r in fresh(message).reaction_summary()] == [("👍", 1), ("🎉", 1)]


def test_a_message_takes_at_most_the_configured_number_of_different_emoji(room, settings):
    settings.ROOMS_MAX_REACTIONS_PER_MESSAGE = 2
    message = say(room, "popular")
    writes.toggle_reaction(message, BOB, "👍")
    writes.toggle_reaction(message, BOB, "🎉")
    with pytest.raises(writes.TooManyReactions):
        writes.toggle_reaction(message, ALICE, "😂")
    assert writes.toggle_reaction(message, ALICE, "👍") is True  # one already there is a vote


def test_only_the_palette_can_be_chosen():
    assert ReactionForm({"emoji": "👍"}).is_valid()
    assert ReactionForm({"emoji": "<b>"}).error_code() == "bad_reaction"
    assert ReactionForm({}).error_code() == "required"


def test_authors_change_their_own_messages_and_moderators_change_anyones(room):
    message = say(room, "mine")
    assert permissions.may_change(message, ALICE, None)
    assert not permissions.may_change(message, BOB, None)
    staff = User.objects.create_user("staff", is_staff=True)
    moderator = User.objects.create_user("mod")
    moderator.groups.add(Group.objects.create(name="Moderators"))
    plain = User.objects.create_user("plain")
    for user, allowed in ((staff, True), (moderator, True), (plain, False)):
        assert permissions.may_change(message, author_for_user(user), user) is allowed
    moderator.is_active = False
    assert not permissions.is_moderator(moderator)


def test_a_post_committed_while_a_catch_up_reads_is_not_appended_twice(room, monkeypatch):
    from rooms import catchup
    from rooms.models import MessageQuerySet

    writes.post_message(room.pk, BOB, "one")
    original, raced = MessageQuerySet.changed_since, []

    def racing(self, event):
        if not raced:  # between reading the room and reading what changed
            raced.append(writes.post_message(room.pk, BOB, "two").message)
        return original(self, event)

    monkeypatch.setattr(MessageQuerySet, "changed_since", racing)
    frames, cursor = catchup.frames_after(room.pk, 0)
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', "".join(frames))] == [1, 2]
    assert cursor == 2  # so the live event for "two" is a duplicate, and dropped

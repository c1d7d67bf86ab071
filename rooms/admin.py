"""Moderation in the Django admin: rooms, messages, and accounts.

Hiding, showing again or deleting a message is an event of its room's stream: every open page
follows at once, and pages that were away catch up (a deletion leaves a tombstone row, so the
admin's "delete" keeps the row with its text erased); deactivating an account
closes its open sockets and refuses its reconnects (``rooms.signals``).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from rooms import throttle, writes
from rooms.bots import admin as bot_admin  # noqa: F401  (registers BotAdmin)
from rooms.models import Message, Room


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's log-in, under the same limit on attempts as the site's (rooms.throttle),
    checked before any password is: staff passwords are the ones most worth guessing."""

    def clean(self) -> dict[str, object]:
        if self.request is None or not throttle.allow_request("account", self.request):
            raise ValidationError(throttle.REFUSALS["account"], code="rate_limited")
        return super().clean()


admin.site.login_form = AdminLoginForm


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "last_seq", "last_activity_at", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["last_seq", "created_at", "last_activity_at"]
    ordering = ["-last_activity_at"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["room", "seq", "author_name", "text", "created_at", "edited_at", "hidden", "deleted_at"]
    list_filter = ["hidden", ("deleted_at", admin.EmptyFieldListFilter), "room"]
    search_fields = ["text", "author_name"]
    list_select_related = ["room"]
    raw_id_fields = ["room", "author"]
    readonly_fields = [
        *("room", "seq", "author", "author_name", "author_key", "nonce", "created_at", "hidden"),
        *("edited_at", "deleted_at", "posted_event", "event"),
        # Edited on the room page (rooms.writes.edit_message), where an edit is an event every page
        # follows; a save here would change the row behind every open page's back.
        "text",
    ]
    ordering = ["-created_at"]
    actions = ["hide", "unhide", "delete_for_everyone"]

    @admin.action(description=_("Hide selected messages (removes them from open pages)"))
    def hide(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        count = writes.hide_messages(queryset.select_related("room"))
        self.message_user(request, ngettext("%d message hidden.", "%d messages hidden.", count) % count)

    @admin.action(description=_("Show selected messages again"))
    def unhide(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        count = writes.hide_messages(queryset.select_related("room"), hidden=False)
        self.message_user(request, ngettext("%d message shown.", "%d messages shown.", count) % count)

    @admin.action(description=_("Delete selected messages (removes them from open pages)"))
    def delete_for_everyone(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        count = writes.delete_messages(queryset.select_related("room"))
        self.message_user(
            request, ngettext("%d message deleted.", "%d messages deleted.", count) % count, messages.SUCCESS
        )

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        writes.delete_messages([obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        writes.delete_messages(queryset.select_related("room"))

from __future__ import annotations

from django.contrib import admin

from rooms.models import Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "last_seq", "last_activity_at", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["last_seq", "created_at", "last_activity_at"]
    ordering = ["-last_activity_at"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["room", "seq", "author_name", "text", "created_at", "hidden"]
    list_filter = ["hidden", "room"]
    search_fields = ["text", "author_name"]
    list_select_related = ["room"]
    raw_id_fields = ["room", "author"]
    readonly_fields = ["room", "seq", "author", "author_name", "author_key", "nonce", "created_at"]
    ordering = ["-created_at"]

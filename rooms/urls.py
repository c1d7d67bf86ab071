from __future__ import annotations

from django.urls import path

from rooms import account_views, message_views, preference_views, search_views, views

app_name = "rooms"

urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("rooms/", views.create_room, name="create"),
    path("rooms/<str:slug>/", views.room, name="room"),
    path("rooms/<str:slug>/messages/", views.messages, name="messages"),
    path("rooms/<str:slug>/messages/<int:seq>/", search_views.permalink, name="permalink"),
    path("rooms/<str:slug>/messages/<int:pk>/edit/", message_views.edit, name="edit"),
    path("rooms/<str:slug>/messages/<int:pk>/delete/", message_views.delete, name="delete"),
    path("rooms/<str:slug>/messages/<int:pk>/reactions/", message_views.reactions, name="reactions"),
    path("search/", search_views.search_page, name="search"),
    path("me/name/", account_views.display_name, name="display_name"),
    path("me/time-zone/", preference_views.time_zone, name="time_zone"),
    path("preferences/theme/", preference_views.theme, name="theme"),
]

from __future__ import annotations

from django.urls import path

from rooms import views

app_name = "rooms"

urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("rooms/", views.create_room, name="create"),
    path("rooms/<str:slug>/", views.room, name="room"),
    path("rooms/<str:slug>/messages/", views.messages, name="messages"),
    path("me/name/", views.display_name, name="display_name"),
]

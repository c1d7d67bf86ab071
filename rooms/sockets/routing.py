from __future__ import annotations

from django.urls import path

from rooms.sockets.lobby import LobbyConsumer
from rooms.sockets.room import RoomConsumer

websocket_urlpatterns = [
    path("ws/lobby/", LobbyConsumer.as_asgi()),
    path("ws/rooms/<str:slug>/", RoomConsumer.as_asgi()),
]

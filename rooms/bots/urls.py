from __future__ import annotations

from django.urls import path

from rooms.bots import api

app_name = "api"

urlpatterns = [
    path("rooms/<str:slug>/messages/", api.messages, name="messages"),
]

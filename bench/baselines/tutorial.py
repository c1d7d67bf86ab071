"""The Channels tutorial's chat, reproduced as the design to beat (docs "Tutorial Part 3").

A sync ``WebsocketConsumer``: on receive it ``json.loads`` the frame and
``async_to_sync(group_send)``s it to the room's group; each member's ``chat_message`` sends
``json.dumps({"message": ...})``. JSON over the wire, no persistence, the Redis layer the
tutorial configures (channels_redis core). Served by daphne:

    DJANGO_SETTINGS_MODULE=bench.baselines.tutorial REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/daphne -p 8801 bench.baselines.tutorial:application
"""

from __future__ import annotations

import json
import os

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tutorial-bench",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # redis-py 8's 5 s socket timeout equals the layer's blocking read (#422).
                    "hosts": [
                        {"address": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), "socket_timeout": 30}
                    ],
                    "prefix": os.environ.get("BENCH_LAYER_PREFIX", "tutorial"),
                },
            }
        },
    )
    django.setup()

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path


class ChatConsumer(WebsocketConsumer):
    def connect(self):
        self.room_group_name = f"chat_{self.scope['url_route']['kwargs']['room_name']}"
        async_to_sync(self.channel_layer.group_add)(self.room_group_name, self.channel_name)
        self.accept()

    def disconnect(self, close_code):
        async_to_sync(self.channel_layer.group_discard)(self.room_group_name, self.channel_name)

    def receive(self, text_data):
        message = json.loads(text_data)["message"]
        async_to_sync(self.channel_layer.group_send)(self.room_group_name, {"type": "chat.message", "message": message})

    def chat_message(self, event):
        self.send(text_data=json.dumps({"message": event["message"]}))


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/chat/<str:room_name>/", ChatConsumer.as_asgi())])})

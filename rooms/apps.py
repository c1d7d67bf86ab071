from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoomsConfig(AppConfig):
    name = "rooms"
    verbose_name = _("Chat rooms")

    def ready(self) -> None:
        from rooms import checks, signals  # noqa: F401  (registers the system checks and signal handlers)
        from rooms.live import lobby_unread, presence_lists, typing  # noqa: F401  (what hubs do with side events)

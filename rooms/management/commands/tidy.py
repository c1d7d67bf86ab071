"""``python manage.py tidy``: what a running site leaves behind, cleared; run it daily
(deploy/madang-tidy.timer).

- Expired sessions (Django's ``clearsessions``): every visitor gets one, as a guest.
- Read positions of guests whose session is gone. A guest is their session (rooms.identity): when
  it expires, nobody can be that guest again, and their "read up to here" in each room they
  opened (rooms.unread) would stay forever. Accounts' positions are kept.

Guests still alive are read from the sessions themselves, so this needs sessions the server can
list (Django's database backends: ``db``, the default, and ``cached_db``); with others (cache,
file, signed cookies) positions are left as they are.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.module_loading import import_string

from rooms.identity import GUEST_ID_KEY
from rooms.models import ReadPosition

CHUNK = 500  # keys per DELETE: well under any database's limit on query parameters


class Command(BaseCommand):
    help = "Clear expired sessions and the read positions of guests whose session is gone."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("clearsessions")
        # The guests with positions first, then the live sessions: a guest whose first room opens
        # in between has a position written before their session is saved (rooms.unread), and is
        # then not among these candidates.
        guests = ReadPosition.objects.filter(key__startswith="g-").values_list("key", flat=True).distinct()
        candidates = set(guests.iterator(chunk_size=2000))
        alive = live_guest_keys()
        if alive is None:
            self.stdout.write(f"{settings.SESSION_ENGINE}: sessions cannot be listed; read positions left as they are")
            return
        dead = sorted(candidates - alive)
        removed = 0
        for start in range(0, len(dead), CHUNK):
            removed += ReadPosition.objects.filter(key__in=dead[start : start + CHUNK]).delete()[0]
        self.stdout.write(f"{removed} read positions of {len(dead)} departed guests removed")


def live_guest_keys() -> set[str] | None:
    """The author keys of every guest whose session has not expired, or None when the session
    backend cannot list its sessions."""
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    if not issubclass(store, DatabaseSessionStore):  # db and cached_db keep every session in a table
        return None
    keys, decoder = set(), store()
    live = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    for data in live.values_list("session_data", flat=True).iterator(chunk_size=2000):
        guest = decoder.decode(data).get(GUEST_ID_KEY)
        if guest:
            keys.add(f"g-{guest}")
    return keys

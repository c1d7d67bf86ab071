"""Database calls from sockets: Channels' ``database_sync_to_async``, keeping the connection.

Channels runs every ``database_sync_to_async`` call on one thread (the thread-sensitive one: its
consumers are not inside a request's context), and closes old connections before and after each
call. With Django's ``CONN_MAX_AGE = 0``, which its docs prescribe under ASGI (HTTP requests each
get a thread of their own there, and a connection kept by a finished request's thread would
leak), "old" means every connection: each post, resume or repair opened a new one. For SQLite
that is a file open, its pragmas and Django's thirty-odd SQL functions; for PostgreSQL a new
session. Measured: about a quarter of the server's CPU with 100 rooms of 10 posting (bench/README.md).

This thread lives as long as the process, so its connection can too: here it is kept for
``ROOMS_SOCKET_DB_CONN_MAX_AGE`` seconds and otherwise treated exactly as Django treats a
persistent connection between requests (closed when unusable after an error, out of autocommit,
or too old). HTTP requests keep Django's default.
"""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connections


def _tidy_connections() -> None:
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is not None and conn.__dict__.get("_socket_raw") is not raw:
            # Opened since the last call: give it the socket thread's own lifetime.
            conn.__dict__["_socket_raw"] = raw
            conn.close_at = time.monotonic() + settings.ROOMS_SOCKET_DB_CONN_MAX_AGE
        conn.close_if_unusable_or_obsolete()


class SocketDatabaseSyncToAsync(SyncToAsync):
    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        _tidy_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            _tidy_connections()


def database_sync_to_async(func: Any) -> SocketDatabaseSyncToAsync:
    """Run ``func`` on the socket thread (thread-sensitive, as Channels' version does)."""
    return SocketDatabaseSyncToAsync(func)

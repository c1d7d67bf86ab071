"""The sockets' database thread keeps its connection between calls (rooms.sockets.db), as Django keeps a
persistent one between requests: until it is too old, or unusable after an error."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection

from rooms.models import Room
from rooms.sockets.db import database_sync_to_async

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def query_and_connection() -> object:
    Room.objects.count()
    return connection.connection  # the driver's connection object (kept alive by the test)


async def test_calls_from_sockets_share_one_connection():
    first = await query_and_connection()
    assert await query_and_connection() is first


async def test_a_connection_past_its_age_is_replaced(settings):
    await database_sync_to_async(lambda: connection.close())()  # the next call opens one with this age
    settings.ROOMS_SOCKET_DB_CONN_MAX_AGE = 0
    first = await query_and_connection()
    assert await query_and_connection() is not first


async def test_a_connection_broken_by_an_error_is_replaced():
    if connection.vendor == "sqlite":
        pytest.skip("an SQLite connection is a file handle: no server can break it")
    first = await query_and_connection()

    @database_sync_to_async
    def break_it() -> None:
        connection.connection.close()  # as a database restart would
        with pytest.raises(DatabaseError):
            Room.objects.count()

    await break_it()
    assert await query_and_connection() is not first

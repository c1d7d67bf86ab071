"""Test settings: the development defaults, plus what the test servers need.

Live-server tests run daphne in another process, so the SQLite test database must be a file both
processes can open; static files are served from the finders without a manifest.
"""

from __future__ import annotations

import os
import uuid

from project.settings import *  # noqa: F403
from project.settings import BASE_DIR, DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # MADANG_SQLITE_TEST_NAME lets two test runs on one checkout keep apart (each its own file).
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("MADANG_SQLITE_TEST_NAME") or str(BASE_DIR / "test-db.sqlite3")
    }

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Live-server tests start daphne in a subprocess and point it at the test database they created.
if os.environ.get("MADANG_TEST_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = os.environ["MADANG_TEST_DATABASE_NAME"]

# Who is in a room lives in Redis beyond a test run (entries expire after 25 s) and rooms of each
# run's fresh database reuse primary keys: each run gets keys of its own, shared with the daphne
# processes it starts (they inherit the environment).
os.environ.setdefault("ROOMS_REDIS_PREFIX", f"madang-test-{uuid.uuid4().hex[:12]}")
ROOMS_REDIS_PREFIX = os.environ["ROOMS_REDIS_PREFIX"]

# Rate-limit counters stay in the test process's memory even with REDIS_URL: every test starts
# with a clear cache (tests/conftest.py), which on Redis would flush the whole database.
# tests/test_throttle.py checks the Redis cache of the production settings with processes of its own.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The limits count in fixed windows (rooms.throttle): a test that makes three requests within
# 10 s could straddle a window's end and see its count start again (one did, in CI). Tests count,
# they never wait a window out, so each window here outlasts any run.
ROOMS_SEARCH_RATE_SECONDS = ROOMS_POST_RATE_SECONDS = ROOMS_CHANGE_RATE_SECONDS = 10**9
ROOMS_NAME_RATE_SECONDS = ROOMS_NEW_ROOM_RATE_SECONDS = ROOMS_ACCOUNT_RATE_SECONDS = 10**9

"""Madang settings: read from the environment, with safe defaults for development.

One command runs the app anywhere with SQLite and the in-memory channel layer. Scale-out is
configuration only: ``REDIS_URL`` switches the channel layer to Redis and ``DATABASE_URL`` the
database to PostgreSQL. With ``DJANGO_DEBUG=0`` the settings refuse to start without the
configuration production needs, instead of silently running with development values.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0.")
    SECRET_KEY = "django-insecure-madang-development-only"  # noqa: S105 - development only

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG=0.")
if not DEBUG and "*" in ALLOWED_HOSTS:
    # ALLOWED_HOSTS is also the WebSocket Origin allow-list (see rooms.checks, rooms.E010).
    raise ImproperlyConfigured('DJANGO_ALLOWED_HOSTS must name the site\'s hosts, not "*", when DJANGO_DEBUG=0.')
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
    "rooms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "rooms.middleware.TimeZoneMiddleware",
    "rooms.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "project.urls"

# Operators restyle Madang by dropping templates of the same name into this directory: it is
# searched before the project's own templates, for pages and live WebSocket fragments alike.
MADANG_TEMPLATE_DIR = os.environ.get("MADANG_TEMPLATE_DIR", "")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [*([MADANG_TEMPLATE_DIR] if MADANG_TEMPLATE_DIR else []), BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rooms.context_processors.identity",
            ],
        },
    },
]

ASGI_APPLICATION = "project.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE takes SQLite's write lock at the start of each transaction, so two writers
    # queue for the room's sequence instead of failing to upgrade a read lock mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # WAL with synchronous=NORMAL: a commit is a write to the log, not an fsync; the log
            # is synced at each checkpoint. A crash of the process loses nothing; a power cut may
            # lose the last commits (never corrupts). SQLite's advice for WAL; bench/README.md
            # has what it saves a post.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Measured against the core layer in bench/ (see README): pub/sub delivers a group
            # message with one PUBLISH instead of one LPUSH per member.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # In one process: Channels' in-memory layer without its per-message sweeps (rooms.live.memory).
    CHANNEL_LAYERS = {"default": {"BACKEND": "rooms.live.memory.ProcessChannelLayer"}}

# Django's cache holds the rate limits' counters (rooms.throttle): in Redis when there is one, so
# every process counts together and a rolling restart forgets nothing; else in this process's
# memory, with room for many more counters than the default 300 (past which it drops some).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("ROOMS_REDIS_PREFIX", "madang"),  # as ROOMS_REDIS_PREFIX below
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "rooms:lobby"
LOGOUT_REDIRECT_URL = "rooms:lobby"

LANGUAGE_CODE = os.environ.get("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ko", _("Korean"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The site's zone: times for readers who chose none and whose language has no obvious one.
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
# The zone a reader of a language gets until they choose one (rooms.preferences).
ROOMS_LANGUAGE_ZONES = {"ko": "Asia/Seoul"}
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic puts the files nginx serves (deploy/); in the checkout unless set.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# In development whitenoise serves straight from the finders, so daphne needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG

# Transport security: on with DJANGO_HTTPS=1 (behind TLS), off otherwise so DJANGO_DEBUG=0 still
# works over plain HTTP on 127.0.0.1.
HTTPS = env_bool("DJANGO_HTTPS", False)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env_number("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    # A TLS-terminating proxy in front of daphne tells us the original scheme in this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Chat limits (DESIGN.md section 5). Each is a setting; the rate limit also reads the environment.
ROOMS_MESSAGE_MAX_LENGTH = 4000
ROOMS_ROOM_NAME_MAX_LENGTH = 64
ROOMS_DISPLAY_NAME_MAX_LENGTH = 32
ROOMS_MAX_FRAME_BYTES = 64 * 1024
ROOMS_PAGE_SIZE = 50
ROOMS_CATCHUP_LIMIT = int(env_number("ROOMS_CATCHUP_LIMIT", 100))
ROOMS_RATE_BURST = env_number("ROOMS_RATE_BURST", 5)
ROOMS_RATE_PER_SEC = env_number("ROOMS_RATE_PER_SEC", 1)
# A socket that sends no resume frame is live from its connect time; live events are held this
# long (or until its first frame) so a resume that comes first still takes precedence.
ROOMS_RESUME_GRACE_SECONDS = env_number("ROOMS_RESUME_GRACE_SECONDS", 0.5)
# How long a room's hub holds an event that arrived before the ones preceding it (another process
# published them later) before taking it for a loss (rooms.live.fanout.Hub).
ROOMS_REORDER_WAIT_SECONDS = env_number("ROOMS_REORDER_WAIT_SECONDS", 1.0)
# A live socket that lost events replays up to this many changed messages before it resets to
# the latest page (a resume after an absence uses ROOMS_CATCHUP_LIMIT).
ROOMS_REPAIR_LIMIT = int(env_number("ROOMS_REPAIR_LIMIT", 1000))
# Messages per frame of a long catch-up (daphne refuses WebSocket messages over 1 MiB).
ROOMS_CATCHUP_FRAME_MESSAGES = 100
# Reactions: the palette offered on every message, and how many different emoji one message
# may carry (Discord: 20).
# Presence (rooms.live.presence): each process re-adds its sockets every REFRESH seconds with an
# expiry TTL ahead, and sweeps expired ones every SWEEP; a killed process's people are gone
# within TTL + SWEEP (30 s). A closed socket leaves after LEAVE_GRACE (a reload shows no leave).
ROOMS_PRESENCE_REFRESH_SECONDS = env_number("ROOMS_PRESENCE_REFRESH_SECONDS", 10)
ROOMS_PRESENCE_TTL_SECONDS = env_number("ROOMS_PRESENCE_TTL_SECONDS", 25)
ROOMS_PRESENCE_SWEEP_SECONDS = env_number("ROOMS_PRESENCE_SWEEP_SECONDS", 5)
ROOMS_PRESENCE_LEAVE_GRACE_SECONDS = env_number("ROOMS_PRESENCE_LEAVE_GRACE_SECONDS", 2)
ROOMS_PRESENCE_SETTLE_SECONDS = env_number("ROOMS_PRESENCE_SETTLE_SECONDS", 0.2)
ROOMS_PRESENCE_MAX_NAMES = 50
# Typing (rooms.live.typing): shown for TYPING_SECONDS after the last signal; a socket's signals
# beyond TYPING_BURST at once, then TYPING_PER_SEC, are dropped (the page sends one per 3 s).
ROOMS_TYPING_SECONDS = env_number("ROOMS_TYPING_SECONDS", 6)
ROOMS_TYPING_BURST = env_number("ROOMS_TYPING_BURST", 2)
ROOMS_TYPING_PER_SEC = env_number("ROOMS_TYPING_PER_SEC", 0.5)

# Unread (rooms.unread): a lobby counts again at most this long after a new message (all its
# sockets at once); a live room socket reads what arrives, written every READ_FLUSH seconds.
ROOMS_UNREAD_SETTLE_SECONDS = env_number("ROOMS_UNREAD_SETTLE_SECONDS", 0.5)
ROOMS_READ_FLUSH_SECONDS = env_number("ROOMS_READ_FLUSH_SECONDS", 2)
# A busy room's lobby row moves at most once per this many seconds for the posts of one process
# (the last state always follows, at most this late): a row render cost as much as the message's.
ROOMS_LOBBY_ROW_SECONDS = env_number("ROOMS_LOBBY_ROW_SECONDS", 1)
# Search (rooms.search): longest query, most words, results per page, characters of text shown
# around the first match; each session may search RATE times per RATE_SECONDS (429 beyond), counted
# in Django's cache (per process with the default local-memory cache). A permalink shows
# PERMALINK_CONTEXT messages on each side of its message.
ROOMS_SEARCH_MAX_LENGTH = 200
ROOMS_SEARCH_MAX_TERMS = 10
ROOMS_SEARCH_PAGE_SIZE = 20
# A query of one- and two-letter words only (which no trigram index can find) reads the newest
# this many messages, of the room or of all: a bounded cost per search (rooms.search.find).
ROOMS_SEARCH_SHORT_WORD_WINDOW = int(env_number("ROOMS_SEARCH_SHORT_WORD_WINDOW", 50_000))
ROOMS_SEARCH_SNIPPET_CHARACTERS = 120
ROOMS_SEARCH_RATE = int(env_number("ROOMS_SEARCH_RATE", 20))
ROOMS_SEARCH_RATE_SECONDS = env_number("ROOMS_SEARCH_RATE_SECONDS", 10)
# What else one session may do over HTTP per window (rooms.throttle; 429 beyond, 0 disables):
# post without JavaScript (the socket has ROOMS_RATE_*), edit, delete or react (each a broadcast
# to the room's pages), take a new name, create a room.
ROOMS_POST_RATE = int(env_number("ROOMS_POST_RATE", 10))
ROOMS_POST_RATE_SECONDS = env_number("ROOMS_POST_RATE_SECONDS", 10)
ROOMS_CHANGE_RATE = int(env_number("ROOMS_CHANGE_RATE", 30))
ROOMS_CHANGE_RATE_SECONDS = env_number("ROOMS_CHANGE_RATE_SECONDS", 10)
ROOMS_NAME_RATE = int(env_number("ROOMS_NAME_RATE", 5))
ROOMS_NAME_RATE_SECONDS = env_number("ROOMS_NAME_RATE_SECONDS", 60)
ROOMS_NEW_ROOM_RATE = int(env_number("ROOMS_NEW_ROOM_RATE", 10))
ROOMS_NEW_ROOM_RATE_SECONDS = env_number("ROOMS_NEW_ROOM_RATE_SECONDS", 600)
# Log-in and sign-up attempts (each POST, successful or not).
ROOMS_ACCOUNT_RATE = int(env_number("ROOMS_ACCOUNT_RATE", 10))
ROOMS_ACCOUNT_RATE_SECONDS = env_number("ROOMS_ACCOUNT_RATE_SECONDS", 600)
# One client address may do each this many times a session's rate (people behind one NAT share
# it). ROOMS_SEARCH_ADDRESS_FACTOR is its earlier name, still read.
ROOMS_RATE_ADDRESS_FACTOR = int(env_number("ROOMS_RATE_ADDRESS_FACTOR", env_number("ROOMS_SEARCH_ADDRESS_FACTOR", 5)))
ROOMS_PERMALINK_CONTEXT = 25

ROOMS_REACTION_PALETTE = ["👍", "❤️", "😂", "🎉", "😮", "🙏"]
ROOMS_MAX_REACTIONS_PER_MESSAGE = 20
# Members of this group (and staff) may edit, delete and hide anyone's messages.
ROOMS_MODERATORS_GROUP = os.environ.get("ROOMS_MODERATORS_GROUP", "Moderators")
# Frames of any kind: a client past this is flooding and is closed with 4008. Off by default when
# the message rate limit is off (load tests), unless set explicitly.
_RATE_ON = ROOMS_RATE_BURST > 0 and ROOMS_RATE_PER_SEC > 0
ROOMS_FLOOD_BURST = env_number("ROOMS_FLOOD_BURST", 30 if _RATE_ON else 0)
ROOMS_FLOOD_PER_SEC = env_number("ROOMS_FLOOD_PER_SEC", 10 if _RATE_ON else 0)
# Open sockets per session and per client address, per process (accept-then-close 4003 beyond).
ROOMS_MAX_SOCKETS_PER_SESSION = int(env_number("ROOMS_MAX_SOCKETS_PER_SESSION", 20))
ROOMS_MAX_SOCKETS_PER_ADDRESS = int(env_number("ROOMS_MAX_SOCKETS_PER_ADDRESS", 500))
# A socket older than this (seconds, jittered down by up to 10%) is ended with a code the browser
# retries, so it reconnects and resumes; daphne's own limit (24 h) would end it with 1000, which
# the htmx extension never retries. 0 disables.
ROOMS_MAX_SOCKET_AGE = env_number("ROOMS_MAX_SOCKET_AGE", 3600)
# How long the sockets' database thread keeps its connection (rooms.sockets.db); HTTP requests follow
# Django's CONN_MAX_AGE (0, as Django advises under ASGI).
ROOMS_SOCKET_DB_CONN_MAX_AGE = env_number("ROOMS_SOCKET_DB_CONN_MAX_AGE", 300)
# The prefix of Madang's own keys in Redis (who is in each room: rooms.live.presence_store), so
# two sites can share one Redis server; give each its own.
ROOMS_REDIS_PREFIX = os.environ.get("ROOMS_REDIS_PREFIX", "madang")
# How often each process checks that its Redis channel layer still delivers (rooms.live.layerwatch).
ROOMS_LAYER_PROBE_SECONDS = env_number("ROOMS_LAYER_PROBE_SECONDS", 1)
# How long a probe may take while Redis itself answers before the layer counts as lost: under a
# crowd of connecting sockets a probe can take seconds with Redis perfectly well.
ROOMS_LAYER_PROBE_DEADLINE_SECONDS = env_number("ROOMS_LAYER_PROBE_DEADLINE_SECONDS", 15)
# After an outage, each socket of the process is ended at a random moment within this many seconds,
# so their reconnects do not arrive as one crowd. 0 ends them all at once.
ROOMS_RECOVERY_SPREAD_SECONDS = env_number("ROOMS_RECOVERY_SPREAD_SECONDS", 5)
# How long a write on a thread (an HTTP view, a webhook reply) waits for its events to be handed
# to the channel layer on the event loop (rooms.live.hop): past it, or once the server is stopping,
# they are left to the pages' catch-up from the database instead of holding the thread.
ROOMS_PUBLISH_WAIT_SECONDS = env_number("ROOMS_PUBLISH_WAIT_SECONDS", 10)

# Bots (rooms.bots): posts per bot over the HTTP API (burst, then per second; per process; 0 off).
ROOMS_BOT_RATE_BURST = env_number("ROOMS_BOT_RATE_BURST", 10)
ROOMS_BOT_RATE_PER_SEC = env_number("ROOMS_BOT_RATE_PER_SEC", 2)
# How long a process may take to notice a bot's webhook added or removed in another process.
ROOMS_BOT_CACHE_SECONDS = env_number("ROOMS_BOT_CACHE_SECONDS", 10)
# Prefixed to the paths in API answers and webhook payloads ("https://chat.example.com").
ROOMS_SITE_URL = os.environ.get("ROOMS_SITE_URL", "")
# Webhooks (rooms.bots.webhooks): seconds per attempt, attempts, the waits between them, how many
# deliveries may wait (more are dropped and logged), delivering threads per process, and whether
# private, loopback and link-local addresses may be called (never in production; tests use it).
ROOMS_WEBHOOK_TIMEOUT = env_number("ROOMS_WEBHOOK_TIMEOUT", 5)
ROOMS_WEBHOOK_ATTEMPTS = int(env_number("ROOMS_WEBHOOK_ATTEMPTS", 3))
ROOMS_WEBHOOK_BACKOFF = [1.0, 4.0]
ROOMS_WEBHOOK_QUEUE_SIZE = int(env_number("ROOMS_WEBHOOK_QUEUE_SIZE", 1000))
ROOMS_WEBHOOK_WORKERS = int(env_number("ROOMS_WEBHOOK_WORKERS", 4))
ROOMS_WEBHOOK_ALLOW_PRIVATE = env_bool("ROOMS_WEBHOOK_ALLOW_PRIVATE", False)

# Health checks straight at a process's socket (deploy/rolling-restart.sh) come without nginx's
# X-Forwarded-Proto: they must get their answer, not a redirect to https (project/health.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# Logs: lines for people by default, one JSON object per line with LOG_FORMAT=json (project/logs.py).
# ACCESS_LOG=1: one line per request or socket through logging (project/access.py; run daphne -v 0).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "").strip().lower() or "text"
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f'LOG_FORMAT must be "text" or "json", got {LOG_FORMAT!r}')
_FORMATTER = "json" if LOG_FORMAT == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "project.logs.JsonFormatter"},
    },
    "filters": {"quiet_retryable_close": {"()": "rooms.retry.QuietRetryableCloseFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": _FORMATTER},
        "daphne": {"class": "logging.StreamHandler", "formatter": _FORMATTER, "filters": ["quiet_retryable_close"]},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "rooms": {"handlers": ["console"], "level": os.environ.get("ROOMS_LOG_LEVEL", "INFO"), "propagate": False},
        # Instead of Django's default (its own plain console handler under DEBUG, besides the root's):
        # each record once, in LOG_FORMAT.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "daphne.server": {"handlers": ["daphne"], "level": "WARNING", "propagate": False},
        "madang.access": {
            "handlers": ["console"],
            "level": "INFO" if env_bool("ACCESS_LOG", False) else "WARNING",
            "propagate": False,
        },
    },
}

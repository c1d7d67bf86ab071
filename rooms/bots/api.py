"""``POST /api/rooms/<slug>/messages/``: a bot posts, through the same form and write function as
everyone else (rooms.forms.MessageForm, rooms.writes.post_message), so a bot's message is stored,
numbered and broadcast like any other.

Authenticated by ``Authorization: Bearer <token>`` only, never by a session, which is why (and
only why) it needs no CSRF token: a browser never attaches that header by itself. Every answer is
JSON; errors are ``{"error": "<code>"}`` with the codes of the WebSocket where they mean the same.
"""

from __future__ import annotations

import json
import threading

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from rooms import writes
from rooms.bots import payloads, tokens
from rooms.forms import MessageForm
from rooms.models import Bot, Room
from rooms.ratelimit import TokenBucket

# Idempotency keys are stored as nonces "api:<key>" (webhook replies use "hook:<pk>"), in the
# bot's own nonce space: MessageForm bounds a nonce to 64 characters, so a key to 60.
KEY_PREFIX = "api:"

# Per process: with N daphne processes a bot can post N times the rate (README, "Bots").
_buckets: dict[tuple[int, str], TokenBucket] = {}
_buckets_lock = threading.Lock()


def _error(status: int, code: str, **headers: str) -> JsonResponse:
    return JsonResponse({"error": code}, status=status, headers=headers)


def _allowed(bot: Bot) -> bool:
    # Keyed by the token too: a new token (or a reused pk) starts with a full bucket.
    key = (bot.pk, bot.token_id)
    with _buckets_lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = TokenBucket(settings.ROOMS_BOT_RATE_BURST, settings.ROOMS_BOT_RATE_PER_SEC)
        return bucket.allow()


@csrf_exempt
def messages(request: HttpRequest, slug: str) -> JsonResponse:
    if request.method != "POST":
        return _error(405, "method_not_allowed", Allow="POST")
    bot = tokens.authenticate(tokens.from_header(request.headers.get("Authorization")))
    if bot is None:
        return _error(401, "unauthorized", **{"WWW-Authenticate": 'Bearer realm="madang"'})
    if request.content_type != "application/json":
        return _error(415, "unsupported_media_type")
    if not _allowed(bot):
        return _error(429, "rate_limited", **{"Retry-After": "1"})
    room = Room.objects.filter(slug=slug).first()
    if room is None:
        return _error(404, "no_such_room")
    if not bot.may_post_in(room):
        return _error(403, "room_not_allowed")
    try:
        if int(request.headers.get("Content-Length") or 0) > settings.ROOMS_MAX_FRAME_BYTES:
            return _error(413, "too_large")
        data = json.loads(request.body)
    except RequestDataTooBig:
        return _error(413, "too_large")
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return _error(400, "invalid_json")
    if not isinstance(data, dict) or "text" not in data:
        return _error(400, "bad_schema")
    key = request.headers.get("Idempotency-Key", "")
    form = MessageForm.from_frame({"message": data["text"], "nonce": KEY_PREFIX + key if key else ""})
    if not form.is_valid():
        return _error(400, "bad_idempotency_key" if "nonce" in form.errors else form.error_code())
    try:
        posted = writes.post_message(room.pk, bot.author, form.cleaned_data["message"], form.cleaned_data["nonce"])
    except Room.DoesNotExist:  # deleted meanwhile
        return _error(404, "no_such_room")
    answer = payloads.posted(posted.message)
    headers = {"Location": answer["url"]} if posted.created else {}
    return JsonResponse(answer, status=201 if posted.created else 200, headers=headers)

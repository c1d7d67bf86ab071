"""Bearer tokens: ``mdb_<id>_<secret>``, shown once, stored as the SHA-256 of the whole token.

The id (12 hex characters, not secret) finds the row with one indexed query; the hash is then
compared in constant time. Anything that is not exactly that shape, and any row whose stored hash
is empty, authenticates nobody: Campfire once let a key of "<id>-" match any active user.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from django.contrib.auth import get_user_model

from rooms.models import Bot

PREFIX = "mdb_"
# token_urlsafe(32) is 43 characters of [A-Za-z0-9_-].
SHAPE = re.compile(r"mdb_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(bot: Bot) -> str:
    """A new token for ``bot`` (the old one stops working once the bot is saved); the caller
    shows it once. Sets ``token_id`` and ``token_hash``, does not save."""
    bot.token_id = secrets.token_hex(6)
    token = f"{PREFIX}{bot.token_id}_{secrets.token_urlsafe(32)}"
    bot.token_hash = _digest(token)
    return token


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def prepare(bot: Bot, username: str) -> str:
    """Give an unsaved bot its account, token and webhook secret; returns the token to show once.

    The account has no usable password: nobody signs in as a bot, it exists to be mentioned."""
    bot.user = get_user_model()._default_manager.create_user(username=username)
    bot.webhook_secret = new_webhook_secret()
    return issue(bot)


def create_bot(username: str, name: str, **fields: Any) -> tuple[Bot, str]:
    """A new bot (rooms as ``bot.rooms.set`` afterwards) and its token."""
    bot = Bot(name=name, **fields)
    token = prepare(bot, username)
    bot.save()
    return bot, token


def from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = (value or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token if SHAPE.fullmatch(token) else None


def authenticate(token: str | None) -> Bot | None:
    """The active bot ``token`` belongs to, or None (malformed, unknown, revoked or inactive)."""
    match = SHAPE.fullmatch(token or "")
    if match is None:
        return None
    bot = Bot.objects.select_related("user").filter(token_id=match.group(1)).first()
    if bot is None or not bot.token_hash or not bot.is_active:
        return None
    return bot if hmac.compare_digest(bot.token_hash, _digest(token or "")) else None

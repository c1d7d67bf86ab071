"""One webhook attempt: the signed payload, POSTed to the checked address, and the bot's reply.

The receiver can trust a delivery by recomputing ``X-Madang-Signature``: ``sha256=`` and the hex
HMAC-SHA256, keyed with the bot's webhook secret, of ``<X-Madang-Timestamp>.<body bytes>``; the
timestamp (Unix seconds) is signed too, so an old delivery replayed later can be refused. A 2xx
answer of ``application/json`` with ``{"text": "..."}`` is posted in the room as the bot, through
MessageForm and rooms.writes like any post (once: its nonce is the message's, so a delivery that
arrives twice is answered once).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import logging
import time

from django.conf import settings
from django.utils import timezone

from rooms.bots import payloads, ssrf
from rooms.forms import MessageForm
from rooms.live import hop
from rooms.models import Bot, Message

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Madang-Signature"
TIMESTAMP_HEADER = "X-Madang-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def attempt(bot_id: int, message_id: int, loop: asyncio.AbstractEventLoop | None) -> bool:
    """Deliver once; True when it failed in a way worth another attempt."""
    bot = Bot.objects.select_related("user").filter(pk=bot_id).first()
    message = Message.objects.select_related("room").filter(pk=message_id).first()
    if bot is None or message is None or not bot.is_active or not bot.webhook_url or message.gone:
        return False
    if not bot.may_post_in(message.room):
        return False
    try:
        target = ssrf.resolve(bot.webhook_url)
    except ssrf.Refused as error:
        logger.warning("webhook of bot %s refused: %s", bot.pk, error)
        return False
    now = timezone.now()
    body = json.dumps(payloads.mention(bot, message, now.isoformat()), ensure_ascii=False).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Madang-Webhook/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(bot.webhook_secret, timestamp, body),
    }
    try:
        status, content_type, reply = _send(target, body, headers)
    except (OSError, http.client.HTTPException) as error:  # timeouts are OSErrors
        logger.warning("webhook of bot %s: %s", bot.pk, error or type(error).__name__)
        return True
    if status == 429 or status >= 500:
        logger.warning("webhook of bot %s answered %s", bot.pk, status)
        return True
    if not 200 <= status < 300:
        logger.warning("webhook of bot %s answered %s; not tried again", bot.pk, status)
        return False
    text = _reply_text(content_type, reply)
    if text is not None:
        _post_reply(bot, message, text, loop)
    return False


def _send(target: ssrf.Target, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes | None]:
    """Status, content type and body (None when over the frame limit), all within the timeout."""
    timeout = float(settings.ROOMS_WEBHOOK_TIMEOUT)
    deadline = time.monotonic() + timeout
    connection = ssrf.connection(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        sock = connection.sock  # kept: http.client lets go of it once the answer says "close"
        response = connection.getresponse()
        limit, data = settings.ROOMS_MAX_FRAME_BYTES, b""
        while len(data) <= limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no complete answer in time")
            if sock is not None:
                sock.settimeout(remaining)  # a receiver that trickles is cut off at the deadline too
            chunk = response.read1(limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
        return response.status, response.getheader("Content-Type", ""), data if len(data) <= limit else None
    finally:
        connection.close()


def _reply_text(content_type: str, body: bytes | None) -> str | None:
    if not body or content_type.split(";")[0].strip().lower() != "application/json":
        return None  # no reply (a 204, an empty body, or an answer that is no reply)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        logger.warning("webhook reply is not JSON")
        return None
    text = data.get("text") if isinstance(data, dict) else None
    return text if isinstance(text, str) else None


def _post_reply(bot: Bot, message: Message, text: str, loop: asyncio.AbstractEventLoop | None) -> None:
    from rooms import broadcast, writes  # rooms.writes imports this package (the trigger)

    form = MessageForm.from_frame({"message": text, "nonce": f"hook:{message.pk}"})
    if not form.is_valid():
        logger.warning("webhook reply of bot %s refused: %s", bot.pk, form.error_code())
        return
    post = (message.room_id, bot.author, form.cleaned_data["message"], form.cleaned_data["nonce"])
    if loop is None or loop.is_closed() or not loop.is_running():
        writes.post_message(*post)  # broadcast hops to an event loop of its own
        return
    # Published on the loop of this process's sockets: the in-process layer's queues live there.
    with broadcast.collected() as collected:
        writes.post_message(*post)
    sends = collected.sends + broadcast.lobby_rows(collected.moved.values())
    hop.run_on(loop, broadcast.publish(sends), f"the reply of bot {bot.pk}")

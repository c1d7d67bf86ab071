"""``RetryableClose``: how a consumer ends a socket so that the browser reconnects.

No Django or Channels imports here: the logging configuration loads the filter before apps are.
"""

from __future__ import annotations

import logging


class RetryableClose(Exception):
    """End this socket so the browser reconnects: raised out of a consumer, daphne closes the
    socket with 1011, one of the codes the htmx ws extension retries (it cannot be sent directly:
    daphne's WebSocket library lets an application send only 1000 and 3000-4999)."""


class QuietRetryableCloseFilter(logging.Filter):
    """daphne logs every exception that ends an application as an error with a traceback; a
    ``RetryableClose`` is a planned end that the consumer has already logged in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, RetryableClose)

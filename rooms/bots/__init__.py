"""Bots: accounts for programs. ``tokens`` (issue and check bearer tokens), ``api`` (the HTTP post
endpoint), ``trigger`` (which posts mention a bot with a webhook, on the write path), ``webhooks``
(the background delivery) and ``ssrf`` (where a webhook may connect). The model is
rooms.models.Bot; the admin is ``admin``."""

"""Deactivating an account (the admin's "active" box) bans it: its open sockets close now. Signing
in brings the account's own time zone into the new session."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from rooms import broadcast, preferences


@receiver(post_save, sender=get_user_model())
def close_sockets_of_deactivated_accounts(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        transaction.on_commit(partial(broadcast.account_banned, instance.pk), robust=True)


@receiver(user_logged_in)
def restore_time_zone(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        preferences.restore_zone(request.session, user)

"""Deactivating an account (the admin's "active" box) bans it: its open sockets close now."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from rooms import broadcast


@receiver(post_save, sender=get_user_model())
def close_sockets_of_deactivated_accounts(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        transaction.on_commit(partial(broadcast.account_banned, instance.pk), robust=True)

"""/healthz and /readyz: what the process manager, nginx and deploy/rolling-restart.sh ask."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.servers import Daphne, free_port


def test_healthz_answers_ok_without_touching_the_database(client):
    response = client.get("/healthz")  # no django_db mark: a query would raise
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-store" in response["Cache-Control"]
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
def test_readyz_says_the_database_and_the_channel_layer_are_ready(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_channel_layer_when_redis_does_not_answer(client):
    unreachable = {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"}
    unreachable["CONFIG"] = {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]}  # type: ignore[assignment]
    with override_settings(CHANNEL_LAYERS={"default": unreachable}):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "channel_layer": "failed: ConnectionError"}


def test_health_checks_still_need_an_allowed_host(client):
    assert client.get("/healthz", headers={"host": "evil.example"}).status_code == 400


@override_settings(SECURE_SSL_REDIRECT=True)
def test_behind_https_health_checks_straight_at_a_process_are_not_redirected(client):
    # What deploy/rolling-restart.sh does: no nginx in between, so no X-Forwarded-Proto.
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301


def test_a_process_without_its_database_is_alive_but_not_ready(transactional_db):
    """A real daphne whose database and Redis refuse connections: /healthz 200, /readyz 503."""
    nowhere = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nowhere",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "ROOMS_LAYER_PROBE_SECONDS": "0",  # no layer watch complaining in the log meanwhile
    }
    server = Daphne(env=nowhere).start()
    try:
        assert server.get("/healthz") == (200, "ok")
        status, body = server.get("/readyz")
        assert status == 503
        assert json.loads(body) == {"database": "failed: OperationalError", "channel_layer": "failed: ConnectionError"}
    finally:
        server.cleanup()

"""deploy/ as an operator uses it: the environment file example passes ``check --deploy``, the
rendered nginx site parses with TLS and serves collectstatic's files with the right cache headers."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.request

import pytest

from tests.nginx import Nginx, render_site
from tests.servers import ROOT, free_port

DEPLOY = ROOT / "deploy"


def example_env(**overrides: str) -> dict[str, str]:
    """deploy/madang.env.example as systemd reads it (KEY=value lines), with a real secret key as
    the operator is told to make, and nothing from the test run's own environment."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    for line in (DEPLOY / "madang.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    return env | overrides


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_check_deploy_finds_nothing_with_the_environment_file_example():
    done = manage(example_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr


def test_the_example_secret_key_placeholder_is_refused_by_check_deploy():
    placeholder = example_env()
    placeholder["DJANGO_SECRET_KEY"] = next(
        line.partition("=")[2]
        for line in (DEPLOY / "madang.env.example").read_text().splitlines()
        if line.startswith("DJANGO_SECRET_KEY=")
    )
    done = manage(placeholder, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    assert "security.W009" in done.stderr + done.stdout


def test_the_operators_site_with_tls_passes_nginx_t(tmp_path):
    certificate, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    openssl = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=chat.example.com",
    ]
    subprocess.run(
        [*openssl, "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )
    site = render_site(
        *("--server-name", "chat.example.com", "--processes", "3", "--static-root", str(tmp_path)),
        *("--certificate", str(certificate), "--certificate-key", str(key)),
    )
    assert "listen 443 ssl http2;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert "server unix:/run/madang/daphne-3.sock max_fails=0;" in site
    done = Nginx(tmp_path / "nginx", site).check()
    assert done.returncode == 0, done.stderr


def test_nginx_serves_collectstatic_output_hashed_files_for_a_year_and_gzipped(tmp_path):
    static = tmp_path / "static"
    done = manage(example_env(DJANGO_STATIC_ROOT=str(static)), "collectstatic", "--noinput")
    assert done.returncode == 0, done.stderr
    hashed = json.loads((static / "staticfiles.json").read_text())["paths"]["js/connection.js"]
    port = free_port()
    site = render_site("--server-name", "127.0.0.1", "--plain-http", f"127.0.0.1:{port}", "--static-root", str(static))
    nginx = Nginx(tmp_path / "nginx", site, port).start()
    try:
        with urllib.request.urlopen(f"{nginx.url}/static/{hashed}") as response:
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert response.read() == (static / hashed).read_bytes()
        with urllib.request.urlopen(f"{nginx.url}/static/js/connection.js") as response:
            assert response.headers["Cache-Control"] == "public, max-age=3600"
        request = urllib.request.Request(f"{nginx.url}/static/{hashed}", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Encoding"] == "gzip"
    finally:
        nginx.stop()


def test_the_renderer_refuses_a_placeholder_it_has_no_value_for():
    spec = importlib.util.spec_from_file_location("render", DEPLOY / "render.py")
    assert spec and spec.loader
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    assert render.fill("a ${SERVER_NAME} $host", {"SERVER_NAME": "x"}) == "a x $host"
    with pytest.raises(KeyError, match="STATIC_ROOT"):
        render.fill("alias ${STATIC_ROOT};", {})


@pytest.mark.parametrize("script", sorted(p.name for p in DEPLOY.glob("*.sh")))
def test_the_deploy_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(DEPLOY / script)], check=False).returncode == 0


UNITS = sorted(p.name for p in [*DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")])


@pytest.mark.parametrize("unit", UNITS)
def test_the_systemd_units_verify(unit, tmp_path):
    """``systemd-analyze verify`` finds nothing but the missing install (the units name
    /srv/madang/app's executables, which only a deployment has)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    for name in UNITS:  # side by side, so a timer finds its service
        shutil.copy(DEPLOY / name, tmp_path / name)
    instance = unit.replace("@.service", "@1.service")
    result = subprocess.run(
        ["systemd-analyze", "verify", instance], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    problems = [line for line in result.stderr.splitlines() if not line.endswith("No such file or directory")]
    assert problems == [], result.stderr


def test_the_daily_upkeep_runs_the_tidy_command():
    service = (DEPLOY / "madang-tidy.service").read_text()
    assert "ExecStart=/srv/madang/app/.venv/bin/python manage.py tidy\n" in service
    assert "Unit=" not in (DEPLOY / "madang-tidy.timer").read_text()  # the timer starts its namesake
    assert manage(example_env(), "help", "tidy").returncode == 0

"""Debian's nginx for tests, running the site deploy/render.py makes from deploy/nginx/*.template.

It runs as the test's user with a prefix of its own (``-p``): pid, logs and temporary files in a
temporary directory, nothing under /var. Only the outer ``nginx.conf`` is the test's (an operator
has Debian's); the site inside it is the operator's file, rendered for loopback without TLS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port, wait_for_port

MAIN = """\
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


def nginx_binary() -> str:
    """Debian's nginx; without it the test skips, or fails when CI requires its services."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        message = "nginx is not installed (apt-get install nginx; .ci/run installs it)"
        if os.environ.get("MADANG_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def render_site(*args: str) -> str:
    """The operator's command line (deploy/render.py), with these arguments."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "render.py"), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


class Nginx:
    def __init__(self, prefix: Path, site: str, port: int | None = None) -> None:
        self.prefix = prefix
        self.port = port or free_port()
        self.prefix.mkdir(parents=True, exist_ok=True)
        (self.prefix / "site.conf").write_text(site)
        # As root, workers would become "nobody" and could not read a private temporary directory.
        user = "user root;" if os.geteuid() == 0 else ""
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(MAIN.format(user=user, prefix=self.prefix, site=self.prefix / "site.conf"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *args: str) -> list[str]:
        return [
            nginx_binary(),
            "-p",
            str(self.prefix),
            "-c",
            str(self.conf),
            "-e",
            str(self.prefix / "error.log"),
            *args,
        ]

    def check(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t``: does the configuration parse and do its files exist."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, check=False)

    def start(self) -> Nginx:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

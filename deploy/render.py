#!/usr/bin/env python3
"""Render Madang's nginx site from deploy/nginx/*.template (standard library only).

    python3 deploy/render.py --server-name chat.example.com --processes 4 \\
        > /etc/nginx/sites-available/madang

By default the site terminates TLS on 443 (certificate paths under /etc/letsencrypt/live/<name>/
unless given) and redirects plain HTTP to https. ``--plain-http ADDRESS`` listens on ADDRESS over
plain HTTP instead, without the redirect: what the tests use (127.0.0.1:<port>), or a site whose
TLS ends somewhere in front. The upstream is ``--processes`` daphne processes on unix sockets
named like the systemd unit's (deploy/madang@.service), or any ``--upstream`` addresses.

Placeholders are ``${CAPITALS}`` only (nginx's own variables are left alone), and one that is not
filled in is an error, never an empty string in the config.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "nginx"
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def fill(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for ${{{name}}}")
        return values[name]

    return PLACEHOLDER.sub(value, template)


def render(
    server_name: str,
    upstreams: list[str],
    static_root: str,
    plain_http: str | None = None,
    certificate: str | None = None,
    certificate_key: str | None = None,
) -> str:
    """The site's configuration: an http-context file for sites-enabled/ (or an ``include``)."""
    values = {"SERVER_NAME": server_name, "STATIC_ROOT": static_root.rstrip("/")}
    values["UPSTREAM_SERVERS"] = "\n".join(f"    server {address} max_fails=0;" for address in upstreams)
    if plain_http:
        values["LISTEN"] = f"    listen {plain_http};"
        values["REDIRECT_SERVER"] = ""
    else:
        live = f"/etc/letsencrypt/live/{server_name}"
        values["CERTIFICATE"] = certificate or f"{live}/fullchain.pem"
        values["CERTIFICATE_KEY"] = certificate_key or f"{live}/privkey.pem"
        values["LISTEN"] = fill((TEMPLATES / "tls.conf.template").read_text(), values).rstrip("\n")
        values["REDIRECT_SERVER"] = fill((TEMPLATES / "redirect.conf.template").read_text(), values)
    return fill((TEMPLATES / "madang.conf.template").read_text(), values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-name", required=True, help="the site's host name, as in DJANGO_ALLOWED_HOSTS")
    parser.add_argument("--processes", type=int, default=2, help="daphne processes madang@1..N (default 2)")
    parser.add_argument("--socket-dir", default="/run/madang", help="where their sockets are (default /run/madang)")
    parser.add_argument("--upstream", action="append", help="an upstream address instead (repeatable)")
    parser.add_argument("--static-root", default="/srv/madang/static", help="DJANGO_STATIC_ROOT")
    parser.add_argument("--certificate", help="ssl_certificate (default: Let's Encrypt's path for the name)")
    parser.add_argument("--certificate-key", help="ssl_certificate_key (default: Let's Encrypt's)")
    parser.add_argument("--plain-http", metavar="ADDRESS", help="listen here over plain HTTP: no TLS, no redirect")
    args = parser.parse_args(argv)
    upstreams = args.upstream or [f"unix:{args.socket_dir}/daphne-{i}.sock" for i in range(1, args.processes + 1)]
    site = render(
        args.server_name, upstreams, args.static_root, args.plain_http, args.certificate, args.certificate_key
    )
    sys.stdout.write(site)


if __name__ == "__main__":
    main()

"""Where a webhook may connect: server-side request forgery guard.

A webhook URL is typed by an administrator, but it makes *this server* send requests, from inside
its network: to a database port on 127.0.0.1, to a cloud metadata service at 169.254.169.254, to
anything on 10.0.0.0/8. So the host is resolved here, every address it resolves to must be a
public one (not private, loopback, link-local, multicast, reserved, unspecified or otherwise not
global, IPv4 or IPv6, IPv4-mapped IPv6 included), and the connection then goes to the very
address that was checked: a second lookup by the HTTP library could answer differently (DNS
rebinding). TLS still verifies the certificate against the host name (SNI). Redirects are not
followed (http.client never does). ``ROOMS_WEBHOOK_ALLOW_PRIVATE`` lifts the address check (for
tests and trusted internal receivers); the scheme check stays.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class Refused(Exception):
    """This URL may not be called; the message says why (logged, never shown to users)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL: the Host header and the TLS server name
    port: int
    address: str  # the checked IP address to connect to
    path: str  # path and query


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scope id ("fe80::1%eth0") is no part of it
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside IPv6 (::ffff:a.b.c.d, 6to4, Teredo) reaches that IPv4 address.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public(str(embedded)):
            return False
    flags = (ip.is_private, ip.is_loopback, ip.is_link_local, ip.is_multicast, ip.is_reserved, ip.is_unspecified)
    return ip.is_global and not any(flags)


def resolve(url: str) -> Target:
    """The address to connect to for ``url``, or ``Refused``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused(f"scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        raise Refused("no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (ValueError, OSError) as error:  # a bad port, an unknown name
        raise Refused(f"cannot resolve {parts.hostname!r}: {error}") from None
    addresses = [info[4][0] for info in found]
    if not addresses:
        raise Refused(f"{parts.hostname!r} has no address")
    if not settings.ROOMS_WEBHOOK_ALLOW_PRIVATE:
        refused = [address for address in addresses if not is_public(address)]
        if refused:  # any one: a name that also resolves inside is not to be trusted either
            raise Refused(f"{parts.hostname!r} resolves to a non-public address ({refused[0]})")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, addresses[0], path)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection to the checked address, naming the URL's host."""
    return (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target, timeout)

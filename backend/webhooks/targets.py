"""Which URLs a webhook may be sent to: the guard against server-side request forgery.

Outside DEBUG (``WEBHOOK_ALLOW_LOCAL_TARGETS`` off) a target must be HTTPS and every address
its host resolves to must be a public one: no loopback, private, link-local, shared (CGNAT),
multicast, reserved or unspecified address, IPv4-mapped IPv6 included. The check runs at
registration and again before every attempt (DNS may change), and redirects are never
followed, so a public URL cannot bounce a request inward.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings

Resolver = Callable[[str, int], list[str]]


class TargetRefused(Exception):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def allow_local() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_LOCAL_TARGETS", settings.DEBUG))


def check_url(url: str, *, resolve: Resolver | None = None) -> list[str]:
    """The addresses ``url`` resolves to, or TargetRefused with a stable code."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("INVALID_URL", "Not a valid URL.") from exc
    local_ok = allow_local()
    if parts.scheme not in (("https", "http") if local_ok else ("https",)):
        raise TargetRefused("HTTPS_REQUIRED", "The endpoint must be an https:// URL.")
    if not parts.hostname:
        raise TargetRefused("INVALID_URL", "The URL has no host.")
    if parts.username or parts.password:
        raise TargetRefused("INVALID_URL", "Credentials in the URL are not allowed.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = (resolve or _resolve)(parts.hostname, port)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused("UNRESOLVABLE_HOST", f"The host {parts.hostname} does not resolve.") from exc
    if not addresses:
        raise TargetRefused("UNRESOLVABLE_HOST", f"The host {parts.hostname} does not resolve.")
    if not local_ok:
        for address in addresses:
            if not is_public_address(address):
                raise TargetRefused(
                    "PRIVATE_TARGET", "The endpoint resolves to a private, loopback or link-local address."
                )
    return addresses

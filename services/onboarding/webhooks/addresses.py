"""URL safety for webhooks: who may we be made to call?

A tenant chooses the URL, so a careless check turns webhooks into a way to reach
our own network (SSRF). The rules, checked when an endpoint is registered *and*
again before every attempt (DNS answers change):

- ``https`` only; plain ``http`` only to a loopback/private target that the
  settings allow (``webhook_allow_loopback``, ``webhook_allow_private``: dev, tests).
- No credentials in the URL, no fragment, at most 2 048 characters.
- The host is resolved (``getaddrinfo`` in a thread) and refused if ANY address is
  loopback or private (unless allowed), or link-local, multicast, reserved or
  unspecified (never allowed). IPv4-mapped IPv6 addresses are judged as IPv4.
- The sender then connects to the address that was checked (see
  :mod:`services.onboarding.webhooks.delivery`), so a second DNS answer cannot
  swap in another one (rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from shared.config import Settings

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Exception):
    """The URL may not be called; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that passed the checks, with the addresses it resolved to (all checked)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def classify(address: IPAddress) -> str:
    """``public``, ``loopback``, ``private`` or ``forbidden`` (never callable)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if (
        address.is_unspecified
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
    ):
        return "forbidden"
    if address.is_private or not address.is_global:
        return "private"
    return "public"


def address_allowed(address: IPAddress, settings: Settings) -> bool:
    kind = classify(address)
    if kind == "public":
        return True
    if kind == "loopback":
        return settings.webhook_allow_loopback
    if kind == "private":
        return settings.webhook_allow_private
    return False


def parse_url(url: str) -> SplitResult:
    """Syntax checks that need no network; raises :class:`UnsafeUrl`."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("url_too_long", f"at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise UnsafeUrl("invalid_url", "whitespace or control characters are not allowed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("invalid_url", f"not a valid URL ({exc})") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrl("invalid_url_scheme", "the URL must start with https://")
    if not parts.hostname:
        raise UnsafeUrl("invalid_url", "the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("url_credentials", "credentials in the URL are not allowed")
    if parts.fragment:
        raise UnsafeUrl("invalid_url", "a fragment (#...) is not allowed")
    if port == 0:
        raise UnsafeUrl("invalid_url", "port 0 is not allowed")
    return parts


async def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = await asyncio.wait_for(
            asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM),
            RESOLVE_TIMEOUT_SECONDS,
        )
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise UnsafeUrl("unresolvable_host", f"the host {host!r} does not resolve") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        raw = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        address = ipaddress.ip_address(raw)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeUrl("unresolvable_host", f"the host {host!r} does not resolve")
    return tuple(addresses)


async def check_url(url: str, settings: Settings) -> Target:
    """Resolve and judge ``url``; raises :class:`UnsafeUrl` with the first reason found."""
    parts = parse_url(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    kinds = {classify(a) for a in addresses}
    for address in addresses:
        if not address_allowed(address, settings):
            kind = classify(address)
            what = "a reserved or non-routable" if kind == "forbidden" else f"a {kind}"
            raise UnsafeUrl(
                "url_not_allowed",
                f"the host resolves to {what} address, which webhooks may not call",
            )
    if parts.scheme == "http" and "public" in kinds:
        raise UnsafeUrl("invalid_url_scheme", "the URL must start with https://")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, addresses=addresses)

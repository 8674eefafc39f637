"""Fetching an attachment from a URL a gateway named, without lending the hub's network or credentials.

A signed webhook says which URL to fetch, but the URL is only as trustworthy as the gateway and
whoever can make it name one. So each hop (redirects included, followed here one by one):

- goes only to a public address, after DNS resolution, unless private ones are allowed
  (`HUB_MEDIA_ALLOW_PRIVATE`): no loopback, private, link-local (cloud metadata) or reserved ones;
- carries the gateway's credentials only when its host is one of the provider's media hosts
  (`HUB_MEDIA_CREDENTIAL_HOSTS`), so a URL or a redirect elsewhere never receives them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpx

from hub.settings import MediaSettings

MAX_REDIRECTS = 5

Resolver = Callable[[str, int], Awaitable[list[str]]]


class MediaUnavailable(Exception):
    """An attachment could not be fetched right now; the webhook should be retried."""


class TooLarge(Exception):
    pass


class Gone(Exception):
    """The attachment cannot be had from this URL; the message is kept with the reason."""


def credential_host(host: str, patterns: Iterable[str]) -> bool:
    """Whether `host` is one of `patterns`: exact names, or `*.domain` for any subdomain of domain."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def public_address(address: str) -> bool:
    """Whether an IP address is one the public Internet routes (not loopback, private, link-local…)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class MediaFetcher:
    def __init__(
        self, http: httpx.AsyncClient, settings: MediaSettings, resolver: Resolver = resolve
    ) -> None:
        self._http = http
        self._settings = settings
        self._resolve = resolver

    async def fetch(self, url: str, auth: tuple[str, str] | None) -> bytes:
        """The bytes at `url`, following at most MAX_REDIRECTS redirects.

        Raises:
            Gone: refused URL or address, 4xx, too many redirects.
            TooLarge: more than the size limit.
            MediaUnavailable: 5xx, 429, unreachable or unresolvable: retry later.
        """
        for _ in range(MAX_REDIRECTS + 1):
            host = await self._check(url)
            hop_auth = auth if credential_host(host, self._settings.credential_hosts) else None
            try:
                async with self._http.stream(
                    "GET", url, auth=hop_auth, timeout=self._settings.fetch_timeout_s, follow_redirects=False
                ) as response:
                    if response.next_request is not None:
                        url = str(response.next_request.url)
                        continue
                    return await self._read(response)
            except httpx.HTTPError as exc:
                raise MediaUnavailable(f"media source unreachable: {exc}") from exc
        raise Gone(f"more than {MAX_REDIRECTS} redirects")

    async def _check(self, url: str) -> str:
        """The URL's host, once the URL may be fetched.

        Raises:
            Gone: not http(s), no host, or an address that is not public (unless allowed).
            MediaUnavailable: the name does not resolve now.
        """
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise Gone(f"invalid media URL: {url[:60]}") from None
        if parsed.scheme not in ("http", "https"):
            raise Gone(f"unsupported media URL scheme: {url[:40]}")
        host = parsed.host
        if not host:
            raise Gone(f"media URL has no host: {url[:60]}")
        if self._settings.allow_private:
            return host
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = await self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise MediaUnavailable(f"media host {host} does not resolve: {exc}") from exc
        if not addresses or not all(public_address(a) for a in addresses):
            raise Gone(f"refused: {host} is not a public address (private, loopback or link-local)")
        return host

    async def _read(self, response: httpx.Response) -> bytes:
        if response.status_code >= 500 or response.status_code == 429:
            raise MediaUnavailable(f"media source answered {response.status_code}")
        if response.status_code >= 400:
            raise Gone(f"media source answered {response.status_code}")
        limit = self._settings.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

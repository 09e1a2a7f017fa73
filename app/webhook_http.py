"""Webhooks over HTTP: where they may go, and one signed POST.

By default webhooks go only to public addresses, never to loopback, private, link-local or other special
ranges (server-side request forgery). That is checked when an endpoint is saved, and again at each
delivery by a resolver that refuses such addresses, since DNS answers can change.
"""
import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

USER_AGENT = "billing-webhooks/1.0"
MAX_ERROR = 500


class AddressRefused(OSError):
    """The URL leads to an address webhooks may not reach."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _refuse(host: str, address: str) -> AddressRefused:
    where = address if host.strip("[]") == address else f"{host} resolves to {address}, which"
    return AddressRefused(f"{where} is a loopback, private, link-local or otherwise non-public address")


def check_host_literal(host: str) -> None:
    """Refuse a host given as a non-public IP address (those never reach a resolver)."""
    literal = ip_literal(host)
    if literal is not None and not is_public(literal):
        raise _refuse(host, literal)


async def check_url(url: str) -> None:
    """Raise AddressRefused unless every address `url`'s host resolves to is public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    check_host_literal(host)
    if ip_literal(host) is not None:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused(f"{host} could not be resolved") from exc
    for *_, sockaddr in infos:
        if not is_public(sockaddr[0]):
            raise _refuse(host, sockaddr[0])


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name when any of its addresses is not public."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            if not is_public(result["host"]):
                raise _refuse(host, result["host"])
        return results

    async def close(self) -> None:
        await self._resolver.close()


def new_client(allow_private: bool) -> aiohttp.ClientSession:
    """One session per worker: pooled connections, and the public-only resolver unless private is allowed."""
    connector = aiohttp.TCPConnector(limit=100, resolver=None if allow_private else PublicOnlyResolver())
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT},
                                 cookie_jar=aiohttp.DummyCookieJar())


async def post(client: aiohttp.ClientSession, url: str, body: bytes, headers: dict, *, timeout_seconds: float,
               allow_private: bool) -> tuple[int | None, str | None, int]:
    """POST once, following no redirect: (status code or None, error or None, duration in ms)."""
    started = time.perf_counter()
    status, error = None, None
    try:
        if not allow_private:
            check_host_literal(urlsplit(url).hostname or "")
        async with client.post(url, data=body, headers={"Content-Type": "application/json; charset=utf-8",
                                                         **headers},
                               allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout_seconds)) as response:
            status = response.status
            await response.content.read(65536)  # short answers read in full keep the connection for reuse
    except TimeoutError:
        error = f"timed out after {timeout_seconds:g} s"
    except AddressRefused as refused:
        error = f"refused: {refused}"
    except (aiohttp.ClientError, OSError) as exc:
        causes = (getattr(exc, "os_error", None), exc.__cause__)
        refused = next((c for c in causes if isinstance(c, AddressRefused)), None)
        error = (f"refused: {refused}" if refused else f"{type(exc).__name__}: {exc}")[:MAX_ERROR]
    if status is not None and not 200 <= status < 300:
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return status, error, round((time.perf_counter() - started) * 1000)

"""SSRF guard for the gateway's own OAuth HTTP traffic (discovery, token, registration).

The check sits in the *network backend* of the HTTP client: every TCP connection the client
opens (each redirect hop, each retry) resolves the host, refuses it when any address is private,
loopback, link-local, unspecified, multicast, reserved or otherwise not globally routable, and
then connects to the address it vetted. Connecting to the checked address (instead of letting
the socket layer resolve the name again) closes the DNS-rebinding gap between check and use; TLS
still verifies the certificate against the URL's host name (httpcore sends it as SNI).

A host named in ``MCPGW_OAUTH_ALLOWED_HOSTS`` (compared with the URL's host, case-insensitive)
skips the address check; plain ``http://`` is refused for any other host. Environment proxies
are ignored (``trust_env=False``): a proxy would make the vetted address the proxy's.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

import anyio
import httpcore2
import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream
from httpcore2._backends.auto import AutoBackend

from mcp_gateway.errors import BlockedDestination

DEFAULT_TIMEOUT = httpx2.Timeout(10.0, connect=5.0)
MAX_REDIRECTS = 5

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> getaddrinfo-style tuples. Production uses the system resolver; tests inject
# one that maps a public-looking name to loopback, to prove the guard refuses it.
Resolver = Callable[[str, int], Awaitable[list[tuple[Any, ...]]]]


async def system_resolver(host: str, port: int) -> list[tuple[Any, ...]]:
    return list(await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def _normalise(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def is_forbidden_address(addr: IPAddress) -> bool:
    """True for anything but a globally routable unicast address."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return is_forbidden_address(addr.ipv4_mapped)
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_unspecified
        or addr.is_multicast
        or addr.is_reserved
        or not addr.is_global
    )


class SsrfGuard:
    """Decides which hosts and addresses the OAuth client may reach."""

    def __init__(
        self,
        allowed_hosts: Collection[str] = (),
        resolver: Resolver | None = None,
        *,
        what: str = "OAuth endpoint",
        setting: str = "MCPGW_OAUTH_ALLOWED_HOSTS",
    ) -> None:
        self.allowed_hosts = frozenset(_normalise(h) for h in allowed_hosts if h.strip())
        self._resolver = resolver or system_resolver
        self._what = what  # what its refusals name, and the setting that allows a host
        self._setting = setting

    def is_allowed_host(self, host: str) -> bool:
        return _normalise(host) in self.allowed_hosts

    def check_url(self, url: str | httpx2.URL) -> httpx2.URL:
        """Syntax checks before any I/O: scheme, host present, https unless allowed.

        Raises :class:`BlockedDestination` (the message names the host, never a query string).
        """
        try:
            parsed = httpx2.URL(str(url))
        except (httpx2.InvalidURL, ValueError, TypeError) as exc:
            raise BlockedDestination(f"{self._what} is not a valid URL") from exc
        host = parsed.host
        if parsed.scheme not in ("http", "https") or not host:
            raise BlockedDestination(f"{self._what} must be an http(s) URL with a host")
        if parsed.scheme == "http" and not self.is_allowed_host(host):
            raise BlockedDestination(f"{self._what} on host {host!r} must use https")
        return parsed

    async def resolve(self, host: str, port: int) -> list[str]:
        """Addresses to connect to for ``host``, all vetted. Raises BlockedDestination."""
        allowed = self.is_allowed_host(host)
        try:
            infos = await self._resolver(host, port)
        except OSError as exc:
            raise BlockedDestination(f"cannot resolve {self._what} host {host!r}") from exc
        addresses: list[str] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            text = str(sockaddr[0]).split("%", 1)[0]
            addr = ipaddress.ip_address(text)
            if not allowed and is_forbidden_address(addr):
                # One bad address refuses the host: an attacker controls the order we try.
                raise BlockedDestination(
                    f"refusing {self._what} host {host!r}: it resolves to a private, loopback, "
                    f"link-local or reserved address (add it to {self._setting} to allow)"
                )
            if text not in addresses:
                addresses.append(text)
        if not addresses:
            raise BlockedDestination(f"cannot resolve OAuth host {host!r}")
        return addresses


class GuardedBackend(AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard vetted."""

    def __init__(self, guard: SsrfGuard) -> None:
        self._guard = guard
        self._inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout if timeout is not None else 10.0):
                addresses = await self._guard.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"resolving {host!r} timed out") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        raise BlockedDestination("OAuth endpoints cannot be unix sockets")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """``AsyncHTTPTransport`` whose connection pool uses :class:`GuardedBackend`."""

    def __init__(self, guard: SsrfGuard) -> None:
        super().__init__(trust_env=False)
        # Same pool as the parent builds, plus our backend (the parent has no parameter for it).
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(guard),
        )


class GuardedClientFactory:
    """Makes guarded clients: no automatic redirects, explicit timeouts, no env proxy."""

    def __init__(
        self,
        allowed_hosts: Collection[str] = (),
        timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
        resolver: Resolver | None = None,
    ) -> None:
        self.guard = SsrfGuard(allowed_hosts, resolver)
        self.timeout = timeout

    def __call__(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=GuardedTransport(self.guard),
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,
        )

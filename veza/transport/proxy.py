"""Where a request comes from and where Veza is reached.

Behind a reverse proxy the TCP peer is the proxy: the client's address, the scheme it used and
the host it asked for come in `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`.
Anyone can send those headers, so they are believed only when the peer is one of the
`trusted_proxies`; then the client is the right-most address of `X-Forwarded-For` that is not
itself a trusted proxy (every address left of it was written by someone we do not trust).

`ForwardedHeaders` applies that once, to the ASGI scope, before Quart builds its request: every
later reader (`request.remote_addr` for rate limits and sessions, `request.scheme`,
`request.host`) sees the resolved values and nothing else has to think about proxies.

`absolute_url` builds every absolute URL Veza hands out: from `public_url` when it is set (its
path prefix included), else from the request's own scheme and host (docs/security.md says why
the Host header is accepted then, and what it can and cannot do).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart import request
from quart_trio import QuartTrio

from veza.config import IPNetwork, Settings
from veza.transport.context import services

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A host as a client may name it: a name or IPv4 address, or an IPv6 one in brackets, then an
# optional port. Anything else in X-Forwarded-Host is ignored.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it in X-Forwarded-For (`203.0.113.9`, `203.0.113.9:5100`,
    `2001:db8::1`, `[2001:db8::1]:443`); an IPv4 address mapped into IPv6 is the IPv4 one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _values(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """The comma-separated values of a header, over all its lines, in order."""
    found: list[str] = []
    for key, value in headers:
        if key.lower() == name:
            found += [v.strip() for v in value.decode("latin-1").split(",") if v.strip()]
    return found


@dataclass(frozen=True)
class Forwarded:
    """What a trusted proxy told us about the client."""

    client: str
    scheme: str | None  # http or https, as the client used it; None: not said (or not believed)
    host: str | None  # the host the client asked for; None: not said (or not believed)


class TrustedProxies:
    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        self._networks = tuple(networks)

    def trusts(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in network for network in self._networks)

    def resolve(self, peer: str | None, headers: Sequence[tuple[bytes, bytes]]) -> Forwarded | None:
        """The client behind a trusted peer, or None when the peer is not trusted (then every
        X-Forwarded-* header is ignored: it is only what the client claims)."""
        peer_address = parse_address(peer or "")
        if not self.trusts(peer_address):
            return None
        client, hops = str(peer_address), 1  # hops: trusted proxies the request went through
        chain = _values(headers, b"x-forwarded-for")
        for entry in reversed(chain):
            address = parse_address(entry)
            if address is None:
                break  # unreadable: the last address we could vouch for stands
            client = str(address)
            if not self.trusts(address):
                break
            hops += 1
        return Forwarded(
            client=client,
            scheme=_outermost(_values(headers, b"x-forwarded-proto"), hops, _SCHEMES.__contains__),
            host=_outermost(_values(headers, b"x-forwarded-host"), hops, _HOST.fullmatch),
        )


def _outermost(values: list[str], hops: int, valid: Callable[[str], object]) -> str | None:
    """The value written by the outermost trusted proxy: proxies that append write one value
    each, so it is `hops` from the right; proxies that overwrite leave one value, and a list
    shorter than the chain means the inner ones passed it on. None if it is not valid."""
    if not values:
        return None
    value = values[-hops] if len(values) >= hops else values[0]
    if not valid(value.lower()):
        return None
    return value.lower()


class ForwardedHeaders:
    """ASGI middleware: the scope's client, scheme and Host as a trusted proxy reports them."""

    def __init__(self, app: Any, proxies: TrustedProxies) -> None:
        self._app = app
        self._proxies = proxies

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self._resolved(scope)
        await self._app(scope, receive, send)

    def _resolved(self, scope: Scope) -> Scope:
        original = cast(dict[str, Any], scope)
        peer = (original.get("client") or (None,))[0]
        headers: list[tuple[bytes, bytes]] = list(original.get("headers", ()))
        forwarded = self._proxies.resolve(peer, headers)
        if forwarded is None:
            return scope
        changed = dict(original, client=(forwarded.client, 0))
        if forwarded.scheme is not None:
            plain, socket = _SCHEMES[forwarded.scheme]
            changed["scheme"] = socket if scope["type"] == "websocket" else plain
        if forwarded.host is not None:
            host = forwarded.host.encode("latin-1")
            changed["headers"] = [(b"host", host)] + [(k, v) for k, v in headers if k != b"host"]
        return cast(Scope, changed)


def install_forwarded_headers(app: QuartTrio, settings: Settings) -> None:
    """Resolve client, scheme and host before anything reads them (a no-op with no trusted
    proxy)."""
    if settings.trusted_proxies:
        middleware = ForwardedHeaders(app.asgi_app, TrustedProxies(settings.trusted_proxies))
        app.asgi_app = middleware  # type: ignore[method-assign]


def public_base() -> str:
    """What every absolute URL starts with: scheme, host and path prefix, no trailing slash."""
    configured: str = services().settings.public_url
    if configured:
        return configured
    return f"{request.scheme}://{request_host()}{request.root_path.rstrip('/')}"


def absolute_url(path: str) -> str:
    """The absolute URL of one of our routes (`/hls/...`), as a client outside reaches it."""
    return public_base() + path


def request_host() -> str:
    """The host this request was sent to: its Host header (as a trusted proxy may have
    corrected it). Werkzeug leaves it empty when it is missing (HTTP/1.0) or not a valid host
    name; then the address of our end of the connection, which reached us."""
    if request.host:
        return request.host
    server = request.server
    if server is None or server[1] is None:
        return "localhost"
    name, port = server
    if ":" in name:
        name = f"[{name}]"
    default = {"http": 80, "https": 443}.get(request.scheme)
    return name if port == default else f"{name}:{port}"

"""Fetch feeds over HTTP ourselves: conditional GET, a wall-clock deadline, a cap on decompressed bytes,
a redirect cap, http/https only, the SSRF guard on every connection, global and per-host concurrency limits,
and a real User-Agent.

feedparser's own HTTP client has none of these (no timeout, no size cap, and it reads local paths), so it is
never given a URL: it only ever parses the bytes fetched here.

A failure never raises out of :func:`fetch_all`: each feed gets a :class:`FetchResult` whose ``error`` says
what went wrong, so one bad feed never stops a cycle.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from newsmon.decoding import ACCEPT_ENCODING, BoundedDecoder
from newsmon.errors import FeedError
from newsmon.netguard import NetworkPolicy
from newsmon.transport import guarded_transport

__all__ = [
    "FetchLimits",
    "FetchRequest",
    "FetchResult",
    "fetch_all",
    "fetch_one",
    "make_transport",
]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How much one fetch may cost."""

    timeout_seconds: float = 20.0
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 10
    concurrency: int = 16
    per_host_concurrency: int = 4
    user_agent: str = "newsmon/0.1"
    policy: NetworkPolicy = field(default_factory=NetworkPolicy)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One feed to fetch, with the validators of the last successful fetch."""

    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch produced. ``body`` is None on 304 (``not_modified``) and on error."""

    feed_id: str
    url: str
    fetched: datetime
    status: int | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    final_url: str = ""
    permanent_url: str | None = None
    error_kind: str | None = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error_kind is None


def _host(url: str) -> str:
    """The URL's host, lower-cased; empty for a URL too broken to have one (the fetch then reports it)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _check_scheme(url: str) -> None:
    try:
        scheme = urlsplit(url).scheme
    except ValueError as exc:
        raise FeedError("url", f"not a valid URL: {url!r} ({exc})") from exc
    if scheme not in ("http", "https"):
        raise FeedError("scheme", f"only http and https feeds are fetched, not {url!r}")


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, counted as it is inflated in bounded steps: the cap holds against gzip bombs."""
    decoder = BoundedDecoder(response.headers.get("content-encoding"))
    chunks: list[bytes] = []
    size = 0

    def take(piece: bytes) -> None:
        nonlocal size
        size += len(piece)
        if size > max_bytes:
            raise FeedError("too_large", f"body exceeds {max_bytes} bytes after decompression")
        chunks.append(piece)

    async for raw in response.aiter_raw():
        for piece in decoder.decode(raw):
            take(piece)
    take(decoder.flush())
    return b"".join(chunks)


@asynccontextmanager
async def _get(
    transport: httpx.AsyncBaseTransport, url: str, headers: Mapping[str, str], limits: FetchLimits, hop: int
) -> AsyncIterator[httpx.Response]:
    """One GET on the guarded transport. Straight to the transport, not through a client: a client parses
    and judges redirect targets itself, and here every hop's URL is ours to check and classify."""
    _check_scheme(url)
    try:
        request = httpx.Request(
            "GET", url, headers=headers, extensions={"timeout": httpx.Timeout(limits.timeout_seconds).as_dict()}
        )
        if not 0 < (request.url.port or 80) < 65536:
            raise httpx.InvalidURL(f"port {request.url.port} is out of range")
    except httpx.InvalidURL as exc:
        where = "the feed URL" if hop == 0 else "a redirect target"
        raise FeedError("url", f"{where} is not a valid URL: {url!r} ({exc})") from exc
    response = await transport.handle_async_request(request)
    try:
        yield response
    finally:
        await response.aclose()


async def _follow(transport: httpx.AsyncBaseTransport, request: FetchRequest, limits: FetchLimits) -> FetchResult:
    headers = {
        "User-Agent": limits.user_agent,
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    url, permanent, fetched = request.url, None, datetime.now(UTC)
    for hop in range(limits.max_redirects + 1):
        async with _get(transport, url, headers, limits, hop) as response:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                target = urljoin(url, response.headers["location"])
                if response.status_code in _PERMANENT_REDIRECTS and permanent is None and url == request.url:
                    permanent = target
                url = target
                continue
            result_headers = {k.lower(): v for k, v in response.headers.items()}
            result = FetchResult(
                feed_id=request.feed_id,
                url=request.url,
                fetched=fetched,
                status=response.status_code,
                headers=result_headers,
                final_url=url,
                permanent_url=permanent,
            )
            if response.status_code == 304:
                return result
            if response.status_code >= 400:
                return replace(
                    result,
                    error_kind="http_status",
                    error=f"HTTP {response.status_code}",
                    retry_after=response.headers.get("retry-after"),
                )
            return replace(result, body=await _read_capped(response, limits.max_bytes))
    raise FeedError("redirects", f"more than {limits.max_redirects} redirects")


async def fetch_one(transport: httpx.AsyncBaseTransport, request: FetchRequest, limits: FetchLimits) -> FetchResult:
    """Fetch one feed within the deadline; every failure becomes a FetchResult with ``error_kind`` set."""
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            return await _follow(transport, request, limits)
    except FeedError as exc:
        kind, message = exc.kind, str(exc)
    except TimeoutError:
        kind, message = "timeout", f"no complete answer within {limits.timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        kind, message = "network", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # a bug or an exotic failure in one fetch is that feed's error, never the cycle's
        kind, message = "internal", f"{type(exc).__name__}: {exc}"
    return FetchResult(
        feed_id=request.feed_id, url=request.url, fetched=datetime.now(UTC), error_kind=kind, error=message
    )


def make_transport(limits: FetchLimits) -> httpx.AsyncHTTPTransport:
    """The connection pool every fetch of a cycle shares; every connection passes the SSRF guard."""
    pool = httpx.Limits(max_connections=limits.concurrency, max_keepalive_connections=limits.concurrency)
    return guarded_transport(limits.policy, pool)


async def _fetch_all(requests: Iterable[FetchRequest], limits: FetchLimits) -> list[FetchResult]:
    gate = asyncio.Semaphore(limits.concurrency)
    host_gates: defaultdict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(limits.per_host_concurrency)
    )

    async with make_transport(limits) as transport:

        async def gated(request: FetchRequest) -> FetchResult:
            # the host's slot first, so a feed waiting for a busy host does not hold one of the global slots
            async with host_gates[_host(request.url)], gate:
                return await fetch_one(transport, request, limits)

        return list(await asyncio.gather(*(gated(r) for r in requests)))


def fetch_all(requests: Iterable[FetchRequest], limits: FetchLimits) -> list[FetchResult]:
    """Fetch every feed concurrently (``limits.concurrency`` at a time); results in request order."""
    return asyncio.run(_fetch_all(list(requests), limits))

"""The offline demo: the bundled recorded feeds (``feeds/*.xml``, built by ``scripts/make_demo_feeds.py``), served
on 127.0.0.1 while a cycle polls them. Only ``--demo`` starts it, and says so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsmon.config import FeedConfig, Settings
from newsmon.dev.feedserver import serve_feeds

__all__ = ["DEMO_FEEDS_DIR", "demo_feeds"]

DEMO_FEEDS_DIR = Path(__file__).parent / "feeds"


@contextmanager
def demo_feeds(settings: Settings) -> Iterator[tuple[tuple[FeedConfig, ...], Settings]]:
    """The bundled feeds served on 127.0.0.1 for the ``with`` block, and settings whose SSRF guard lets the
    fetcher through to that one address (and no other private one)."""
    with serve_feeds(DEMO_FEEDS_DIR, port=settings.demo_feeds_port) as server:
        feeds = tuple(
            FeedConfig(url=server.url(path.name), name=f"demo: {path.stem}", id=f"demo-{path.stem}")
            for path in sorted(DEMO_FEEDS_DIR.glob("*.xml"))
        )
        allow = (*settings.fetch_allow_networks, "127.0.0.1/32")
        yield feeds, settings.model_copy(update={"fetch_allow_networks": allow})

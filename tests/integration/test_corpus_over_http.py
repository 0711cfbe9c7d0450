"""Every recorded feed document (real feeds, feed-rs fixtures, feedparser's corpus) served over HTTP goes
through the production fetch → parse → normalise path: stories or that feed's recorded error, never a crash."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from newsmon.config import FeedConfig, load_settings
from newsmon.errors import FeedError
from newsmon.fetch import FetchRequest
from newsmon.parse import parse_feed
from newsmon.pipeline import fetch_feeds, parse_results, record_intake
from newsmon.store import SQLiteStore
from newsmon.story import Story

from ..conftest import FIXTURES

pytestmark = pytest.mark.integration

CORPUS = FIXTURES / "feeds"
NOW = datetime(2026, 4, 1, tzinfo=UTC)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(CORPUS)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _parse_directly(path: Path, feed: FeedConfig) -> list[Story]:
    try:
        return list(parse_feed(path.read_bytes(), feed_id=feed.id, feed_url=feed.url, fetched=NOW).stories)
    except FeedError:
        return []


def test_every_recorded_document_goes_through_fetch_parse_normalise(corpus_server: str, tmp_path: Path) -> None:
    files = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file())
    assert len(files) > 1000
    feeds = [FeedConfig(url=f"{corpus_server}/{quote(f)}", name=f, id=f"doc-{i}") for i, f in enumerate(files)]
    settings = load_settings(data_dir=tmp_path, fetch_allow_networks=["127.0.0.1/32"])
    results = fetch_feeds([FetchRequest(f.id, f.url) for f in feeds], settings)
    assert [r.status for r in results] == [200] * len(files), [r.error for r in results if r.status != 200][:5]
    stories, outcomes = parse_results(results, settings.parse_timeout_seconds)
    record_intake(SQLiteStore(settings.state_db), results, outcomes, feeds, stories)
    kinds = {o.error_kind for o in outcomes}
    assert kinds <= {None, "parse"}, kinds  # no timeouts, no crashes: only documents that are not feeds at all
    parsed = sum(o.error_kind is None for o in outcomes)
    print(f"{len(files)} documents: {parsed} parsed, {len(files) - parsed} not feeds, {len(stories)} stories")
    assert parsed > 0.95 * len(files)
    assert all(s.title and s.published.tzinfo is not None for s in stories)
    # over HTTP, in the workers, each document yields the stories that parsing its file directly yields
    by_feed = {f.id: sorted(s.id for s in stories if s.feed_id == f.id) for f in feeds}
    direct = {
        f.id: sorted(s.id for s in _parse_directly(CORPUS / name, f)) for f, name in zip(feeds, files, strict=True)
    }
    assert by_feed == direct
    real = [s for s in stories if s.feed_id == feeds[files.index("real/arstechnica_all_2025-01-16.xml")].id]
    assert len(real) == 20 and all(s.language == "en" for s in real)

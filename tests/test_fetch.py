"""Fetching from a local HTTP server: conditional GET, caps, deadlines, errors as results."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsmon.dev.feedserver import serve_feeds
from newsmon.fetch import FetchLimits, FetchRequest, fetch_all

from .conftest import FIXTURES, LOOPBACK


class _Hostile(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.5)
        elif self.path == "/bomb":
            body = gzip.compress(b"<" * (8 * 1024 * 1024))
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", f"/loop{len(self.path)}")
            self.end_headers()
        elif self.path == "/to-bad-url":
            self.send_response(302)
            self.send_header("Location", "http://0177.0.0.1/feed")
            self.end_headers()
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/final")
            self.end_headers()
        else:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<rss/>")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_conditional_get_gives_304_the_second_time() -> None:
    with serve_feeds(FIXTURES / "feeds" / "real") as server:
        url = server.url("arstechnica_all_2025-01-16.xml")
        (first,) = fetch_all([FetchRequest("ars", url)], FetchLimits(policy=LOOPBACK))
        assert first.status == 200 and first.body and first.headers["etag"]
        (second,) = fetch_all([FetchRequest("ars", url, etag=first.headers["etag"])], FetchLimits(policy=LOOPBACK))
        assert second.not_modified and second.body is None and second.ok


def test_errors_become_results_and_other_feeds_still_arrive(hostile: str) -> None:
    limits = FetchLimits(timeout_seconds=2, max_bytes=1024 * 1024, max_redirects=3, policy=LOOPBACK)
    requests = [FetchRequest(n, f"{hostile}/{n}") for n in ("slow", "bomb", "loop", "fine")]
    requests.append(FetchRequest("missing", "http://127.0.0.1:1/nothing"))
    requests.append(FetchRequest("ftp", "ftp://127.0.0.1/x"))
    started = time.monotonic()
    results = {r.feed_id: r for r in fetch_all(requests, limits)}
    assert time.monotonic() - started < 10  # each fetch ends within its 2 s deadline, not the 10 s drip
    assert results["slow"].error_kind == "timeout"
    assert results["bomb"].error_kind == "too_large"
    assert results["loop"].error_kind == "redirects"
    assert results["missing"].error_kind == "network"
    assert results["ftp"].error_kind == "scheme"
    assert results["fine"].ok and results["fine"].body == b"<rss/>"


def test_permanent_redirect_is_reported(hostile: str) -> None:
    (result,) = fetch_all([FetchRequest("m", f"{hostile}/moved")], FetchLimits(policy=LOOPBACK))
    assert result.permanent_url == f"{hostile}/final" and result.final_url == f"{hostile}/final"


def test_http_errors_are_recorded_not_raised(tmp_path: Path) -> None:
    with serve_feeds(tmp_path) as server:
        (result,) = fetch_all([FetchRequest("x", server.url("absent.xml"))], FetchLimits(policy=LOOPBACK))
    assert (result.status, result.error_kind) == (404, "http_status")


def test_a_malformed_url_is_that_feeds_error_not_the_cycles(hostile: str) -> None:
    requests = [
        FetchRequest("bracket", "http://[::1/feed"),
        FetchRequest("port", "http://127.0.0.1:99999/feed"),
        FetchRequest("redirect", f"{hostile}/to-bad-url"),
        FetchRequest("fine", f"{hostile}/fine"),
    ]
    results = {r.feed_id: r for r in fetch_all(requests, FetchLimits(policy=LOOPBACK))}
    assert [results[k].error_kind for k in ("bracket", "port", "redirect")] == ["url"] * 3
    assert "a redirect target is not a valid URL: 'http://0177.0.0.1/feed'" in (results["redirect"].error or "")
    assert results["fine"].ok

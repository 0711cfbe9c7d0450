"""A small local HTTP server for recorded feeds: the offline demo and the tests fetch from it.

It serves every ``*.xml`` file of one folder at ``/<name>.xml`` with an ETag and Last-Modified, answers
conditional GETs with 304 like a well-behaved publisher, and counts requests per path so tests can tell
what was fetched. It binds to 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["FeedServer", "serve_feeds"]


class FeedServer:
    """Serves the XML files of ``folder``; ``url(name)`` gives a file's address."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.requests: Counter[str] = Counter()
        self._modified = formatdate(usegmt=True)
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="feed-server", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                name = self.path.lstrip("/").split("?", 1)[0]
                path = server.folder / name
                if "/" in name or not name.endswith(".xml") or not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", server._modified)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by design
                return

        return Handler


@contextmanager
def serve_feeds(folder: Path, port: int = 0) -> Iterator[FeedServer]:
    """Run a FeedServer for the duration of a ``with`` block; a taken ``port`` falls back to a free one."""
    try:
        server = FeedServer(folder, port=port).start()
    except OSError:
        server = FeedServer(folder).start()
    try:
        yield server
    finally:
        server.stop()

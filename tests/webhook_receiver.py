"""A webhook receiver on 127.0.0.1 for tests: answers from a script of statuses (then 200), records each request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


class Receiver(BaseHTTPRequestHandler):
    script: ClassVar[list[int]] = []
    seen: ClassVar[list[tuple[dict[str, str], Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((dict(self.headers), body))
        status = type(self).script.pop(0) if type(self).script else 200
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return

    @classmethod
    def keys(cls) -> list[str]:
        """The Idempotency-Key of every request, in arrival order."""
        return [headers["Idempotency-Key"] for headers, _ in cls.seen]


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, type[Receiver]]]:
    """(URL, handler class with this server's own ``script`` and ``seen``)."""
    handler = type("TestReceiver", (Receiver,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()

"""A feed server that does everything a hostile or broken publisher might, on 127.0.0.2 only.

Each route is one attack from the feed-reader literature; ``HostileServer.requests`` records what was asked for,
so a test can prove that (say) an external DTD was never fetched.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.2"


def gzip_bomb(gib: int = 10) -> bytes:
    """A valid gzip stream of ``gib`` GiB of zeros in about 10 MB per 10 GiB: one fully flushed deflate block
    of 1 MiB of zeros, repeated (each block stands alone, so repeating it stays valid deflate)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = gib * 1024
    zeros, crc = bytes(64 << 20), 0
    for _ in range(count // 64):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * count + b"\x03\x00" + struct.pack("<II", crc, (count << 20) & 0xFFFFFFFF)


def _rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


class HostileServer:
    def __init__(self, good_feed: bytes, canary: Path, bomb: bytes) -> None:
        self.requests: Counter[str] = Counter()
        self._good, self._canary, self._bomb = good_feed, canary, bomb
        self._httpd = ThreadingHTTPServer((HOST, 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._table = self._routes()
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}/{path.lstrip('/')}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _routes(self) -> dict[str, tuple[int, dict[str, str], bytes]]:
        """path -> (status, headers, body) for the routes that answer at once."""
        port, canary = self.port, self._canary.as_uri()
        laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
        author = "a" * 20_000
        redirect = {
            "/loop": "/loop?again",
            "/to-loopback": f"http://127.0.0.1:{port}/good.xml",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-private": "http://10.0.0.1/feed.xml",
            "/to-octal-loopback": f"http://0177.0.0.1:{port}/good.xml",
            "/to-decimal-loopback": f"http://2130706433:{port}/good.xml",
            "/to-ipv6-mapped": f"http://[::ffff:127.0.0.1]:{port}/good.xml",
            "/to-file": "file:///etc/passwd",
        }
        routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            path: (302, {"Location": target}, b"") for path, target in redirect.items()
        }
        routes |= {
            "/good.xml": (200, {"Content-Type": "application/rss+xml"}, self._good),
            "/xxe.xml": (
                200,
                {},
                f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{canary}">]>'.encode()
                + _rss("<item><title>leak &xxe;</title><link>http://x.example/1</link></item>")[21:],
            ),
            "/xxe-dtd.xml": (
                200,
                {},
                f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://{HOST}:{port}/evil.dtd">'.encode()
                + _rss("<item><title>dtd &ext;</title><link>http://x.example/2</link></item>")[21:],
            ),
            "/evil.dtd": (200, {}, f'<!ENTITY ext SYSTEM "{canary}">'.encode()),
            "/laughs.xml": (
                200,
                {},
                f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>'.encode()
                + _rss("<item><title>&l9;</title><link>http://x.example/3</link></item>")[21:],
            ),
            "/authors.xml": (
                200,
                {},
                _rss(
                    "".join(
                        f"<item><title>t{i}</title><link>http://x.example/a{i}</link><author>{author}</author></item>"
                        for i in range(500)
                    )
                ),
            ),
            "/bomb.xml": (200, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}, self._bomb),
        }
        return routes

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests[path] += 1
                try:
                    if path == "/slow.xml":
                        self._drip()
                    elif path == "/huge.xml":
                        self._huge()
                    else:
                        self._answer(*server._table.get(path, (404, {}, b"")))
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up, as it should

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drip(self) -> None:
                """Slow-loris: a valid start, then one byte a second, each well inside any read timeout."""
                self.send_response(200)
                self.end_headers()
                for byte in (b"<rss>" + b" " * 120)[:125]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)

            def _huge(self) -> None:
                """A 2 GiB body, announced honestly, sent as fast as the client reads."""
                self.send_response(200)
                self.send_header("Content-Length", str(2 << 30))
                self.end_headers()
                chunk = b"<" * (1 << 20)
                for _ in range(2048):
                    self.wfile.write(chunk)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by design
                return

        return Handler

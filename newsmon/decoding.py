"""Content-Encoding decoding in bounded steps, so a compression bomb can never cost more than the size cap.

httpx's own decoder inflates each network read whole: 64 KiB of gzipped zeros becomes about 66 MB before a
caller can count it. Here every step yields at most ``step`` bytes, the caller counts as it goes, and a
10 MB → 10 GB bomb costs the cap plus one step. Only the encodings newsmon asks for (gzip, deflate) are
decoded; anything else is an error rather than bytes feedparser would misread.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from newsmon.errors import FeedError

__all__ = ["ACCEPT_ENCODING", "BoundedDecoder"]

ACCEPT_ENCODING = "gzip, deflate"
_STEP = 256 * 1024


class BoundedDecoder:
    """Decodes one response body (identity, gzip incl. concatenated members, zlib or raw deflate)."""

    def __init__(self, content_encoding: str | None, step: int = _STEP) -> None:
        encodings = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
        encodings = [e for e in encodings if e != "identity"]
        if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FeedError("encoding", f"unsupported Content-Encoding {content_encoding!r} (asked for gzip, deflate)")
        self._kind = encodings[0] if encodings else "identity"
        self._step = step
        self._wbits = 31 if "gzip" in self._kind else 15  # 31: gzip wrapper; 15: zlib wrapper
        self._inflater = zlib.decompressobj(self._wbits)
        self._head: bytes | None = b"" if self._kind == "deflate" else None  # until the wrapper is known

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces of at most ``step`` bytes."""
        if self._kind == "identity":
            for start in range(0, len(data), self._step):
                yield data[start : start + self._step]
            return
        if self._head is not None:
            data = self._choose_deflate_wrapper(self._head + data)
        while data:
            try:
                piece = self._inflater.decompress(data, self._step)
            except zlib.error as exc:
                raise FeedError("encoding", f"corrupt {self._kind} body: {exc}") from exc
            if piece:
                yield piece
            data = self._inflater.unconsumed_tail
            if self._inflater.eof and self._inflater.unused_data.strip(b"\0"):
                data, self._inflater = self._inflater.unused_data, zlib.decompressobj(self._wbits)  # next member

    def _choose_deflate_wrapper(self, data: bytes) -> bytes:
        """HTTP's "deflate" is zlib-wrapped, but some servers send raw deflate: the first two bytes tell."""
        if len(data) < 2:
            self._head = data
            return b""
        self._head = None
        if (data[0] & 0x0F) != 8 or (data[0] << 8 | data[1]) % 31:
            self._wbits = -15
            self._inflater = zlib.decompressobj(self._wbits)
        return data

    def flush(self) -> bytes:
        """What the inflater still holds once the body has ended."""
        return b"" if self._kind == "identity" else self._inflater.flush()

"""Bounded Content-Encoding decoding: exact for every split of every stream, never a piece above the step."""

from __future__ import annotations

import gzip
import itertools
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.decoding import BoundedDecoder
from newsmon.errors import FeedError


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {"gzip": gzip.compress, "deflate": zlib.compress, "raw-deflate": _raw_deflate, "identity": bytes}


def _decode(encoding: str, body: bytes, cuts: list[int], step: int) -> list[bytes]:
    decoder = BoundedDecoder(None if encoding == "identity" else encoding.replace("raw-", ""), step=step)
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    pieces = [p for a, b in itertools.pairwise(points) for p in decoder.decode(body[a:b])]
    return [*pieces, decoder.flush()]


@given(
    st.sampled_from(sorted(ENCODERS)),
    st.binary(max_size=5000) | st.builds(lambda n: b"\0" * n, st.integers(0, 300_000)),
    st.lists(st.integers(0, 10**6), max_size=6),
    st.integers(1, 70_000),
)
def test_every_split_decodes_exactly_and_no_piece_exceeds_the_step(
    encoding: str, data: bytes, cuts: list[int], step: int
) -> None:
    pieces = _decode(encoding, ENCODERS[encoding](data), cuts, step)
    assert b"".join(pieces) == data
    assert all(len(p) <= step for p in pieces[:-1])


def test_concatenated_gzip_members_are_all_decoded() -> None:
    assert b"".join(_decode("gzip", gzip.compress(b"<rss>") + gzip.compress(b"</rss>"), [], 1024)) == b"<rss></rss>"


def test_a_bomb_is_handed_out_in_steps_so_the_caller_can_stop_early() -> None:
    bomb = zlib.compress(b"\0" * (256 * 1024 * 1024), 9)  # 256 MiB of zeros in ~250 KB
    decoder = BoundedDecoder("deflate", step=64 * 1024)
    seen = 0
    for piece in decoder.decode(bomb):
        assert len(piece) <= 64 * 1024
        seen += len(piece)
        if seen > 1024 * 1024:
            break
    assert seen <= 1024 * 1024 + 64 * 1024


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br", "compress"])
def test_encodings_not_asked_for_are_an_error(encoding: str) -> None:
    with pytest.raises(FeedError, match="unsupported Content-Encoding") as info:
        BoundedDecoder(encoding)
    assert info.value.kind == "encoding"


def test_a_corrupt_gzip_body_is_an_encoding_error() -> None:
    with pytest.raises(FeedError) as info:
        list(BoundedDecoder("gzip").decode(b"\x1f\x8b\x08\x00garbage-not-deflate"))
    assert info.value.kind == "encoding"

"""Canonical URLs and story ids: the contract that makes a story one story across feeds and restarts."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.story import canonical_url, story_id

hosts = st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,20}\.(com|org|co\.kr)", fullmatch=True)
paths = st.from_regex(r"(/[a-zA-Z0-9._~-]{0,12}){0,4}", fullmatch=True)
params = st.lists(
    st.tuples(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.from_regex(r"[a-z0-9]{0,8}", fullmatch=True)), max_size=4
)


def _url(scheme: str, host: str, path: str, query: list[tuple[str, str]], fragment: str = "") -> str:
    q = "&".join(f"{k}={v}" for k, v in query)
    return f"{scheme}://{host}{path}" + (f"?{q}" if q else "") + (f"#{fragment}" if fragment else "")


@given(st.sampled_from(["http", "https", "HTTPS"]), hosts, paths, params)
def test_canonical_url_is_idempotent(scheme: str, host: str, path: str, query: list[tuple[str, str]]) -> None:
    once = canonical_url(_url(scheme, host, path, query))
    assert canonical_url(once) == once


@given(
    hosts,
    paths,
    params,
    st.sampled_from(["utm_source", "utm_campaign", "fbclid", "gclid", "UTM_Medium"]),
    st.text(alphabet="abc123", max_size=6),
    st.text(alphabet="abc", max_size=5),
)
def test_tracking_parameters_host_case_and_fragment_do_not_change_the_id(
    host: str, path: str, query: list[tuple[str, str]], tracker: str, value: str, fragment: str
) -> None:
    plain = _url("https", host, path, query)
    tracked = _url("https", host.upper(), path, [*query, (tracker, value)], fragment)
    assert story_id(tracked) == story_id(plain)
    assert tracker.lower() not in urlsplit(canonical_url(tracked)).query.lower()


def test_meaningful_parameters_and_paths_keep_stories_apart() -> None:
    assert story_id("https://example.com/a?id=1") != story_id("https://example.com/a?id=2")
    assert story_id("https://example.com/a") != story_id("https://example.com/b")


def test_default_port_and_empty_path_are_normalised() -> None:
    assert canonical_url("HTTPS://Example.COM:443") == "https://example.com/"
    assert canonical_url("http://example.com:8080/x#top") == "http://example.com:8080/x"


def test_guid_is_the_fallback_and_a_story_needs_one_or_the_other() -> None:
    assert story_id(None, "tag:example.com,2024:1") == story_id("", "tag:example.com,2024:1")
    assert story_id(None, "guid-1") != story_id(None, "guid-2")
    assert len(story_id("https://example.com/")) == 32
    with pytest.raises(ValueError, match="link or a guid"):
        story_id(None, None)

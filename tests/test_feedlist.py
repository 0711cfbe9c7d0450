"""Feeds files and OPML: round trips, folders as tags, hostile OPML refused, clashes resolved, errors named."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.config import FeedConfig, load_settings
from newsmon.errors import ConfigError
from newsmon.feedlist import configured_feeds, load_feeds, merge_feeds, read_opml, save_feeds, write_opml

OPML = b"""<?xml version="1.0"?>
<opml version="1.0"><head><title>mine</title></head><body>
 <outline text="Chips"><outline text="EE Times" type="rss" xmlUrl="https://www.eetimes.com/feed/"/>
   <outline text="Asia"><outline title="Yonhap" xmlUrl="https://en.yna.co.kr/RSS/news.xml" category="/korea"/></outline>
 </outline>
 <outline text="Podcast" xmlUrl="feed://odd.example/x"/>
</body></opml>"""


def test_opml_folders_become_tags_and_non_http_entries_are_reported() -> None:
    feeds, skipped = read_opml(OPML)
    assert [(f.name, f.tags) for f in feeds] == [("EE Times", ("Chips",)), ("Yonhap", ("Chips", "Asia", "korea"))]
    assert skipped == ("feed://odd.example/x",)


def test_opml_with_entity_tricks_is_refused() -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    with pytest.raises(ConfigError, match="not usable OPML"):
        read_opml(laughs + b'<opml><body><outline xmlUrl="https://x.example/&b;"/></body></opml>')
    with pytest.raises(ConfigError, match="not OPML"):
        read_opml(b"<rss><channel/></rss>")


_names = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_characters="\x7f"), min_size=1, max_size=30
)
_feeds = st.lists(
    st.builds(
        FeedConfig,
        url=st.from_regex(r"https://[a-z]{1,12}\.example/[a-z0-9]{0,10}", fullmatch=True),
        name=_names.filter(str.strip),
        tags=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), max_size=3, unique=True).map(tuple),
    ),
    max_size=8,
    unique_by=lambda f: f.url,
)


@given(_feeds)
def test_opml_export_then_import_keeps_url_name_and_tags(feeds: list[FeedConfig]) -> None:
    back, skipped = read_opml(write_opml(feeds).encode())
    assert skipped == ()
    assert [(f.url, f.name.strip(), f.tags) for f in back] == [(f.url, f.name.strip(), f.tags) for f in feeds]


def test_feeds_file_round_trip_and_merge(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    first = (FeedConfig(url="https://a.example/rss", name="News", interval_seconds=300, tags=("x",)),)
    save_feeds(path, first)
    assert load_feeds(path) == first
    clash = FeedConfig(url="https://b.example/rss", name="News")
    merged, added = merge_feeds(load_feeds(path), [clash, *first])
    assert added == 1 and [f.id for f in merged] == ["news", "news-2"]


def test_configured_feeds_join_the_config_and_its_feeds_file(tmp_path: Path) -> None:
    save_feeds(tmp_path / "more.yaml", [FeedConfig(url="https://b.example/rss", name="B")])
    config = tmp_path / "c.yaml"
    config.write_text("feeds_file: more.yaml\nfeeds:\n  - {url: 'https://a.example/rss', name: A}\n")
    assert [f.id for f in configured_feeds(load_settings(config))] == ["a", "b"]
    config.write_text("feeds_file: more.yaml\nfeeds:\n  - {url: 'https://c.example/rss', name: B}\n")
    with pytest.raises(ConfigError, match=r"two feeds .* have the id 'b'"):
        configured_feeds(load_settings(config))


@pytest.mark.parametrize(
    ("text", "message"),
    [("feeds: 3", "must hold a list"), ("- {url: 'ftp://x/'}", r"feed #1 .* is invalid"), (": :", "cannot read")],
)
def test_a_bad_feeds_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_feeds(path)

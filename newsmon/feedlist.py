"""The feeds file (YAML) and OPML, the format every feed reader imports and exports.

A feeds file is a YAML list of feeds (or a mapping with a ``feeds:`` list), each with ``url`` and optionally
``name``, ``id``, ``interval_seconds``, ``tags`` and ``enabled``: exactly :class:`FeedConfig`. OPML is
untrusted XML from elsewhere, so it is read with DTDs forbidden (no entity tricks), and an outline's
enclosing folders become its tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, indent, tostring

import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from pydantic import ValidationError

from newsmon.config import FeedConfig, Settings
from newsmon.errors import ConfigError, plain_validation
from newsmon.files import load_yaml, replace_file

__all__ = ["configured_feeds", "load_feeds", "merge_feeds", "read_opml", "save_feeds", "write_opml"]


def _unique(feeds: Sequence[FeedConfig], where: str) -> tuple[FeedConfig, ...]:
    seen: dict[str, FeedConfig] = {}
    for feed in feeds:
        if feed.id in seen:
            raise ConfigError(f"two feeds in {where} have the id {feed.id!r} ({seen[feed.id].url}, {feed.url})")
        seen[feed.id] = feed
    return tuple(feeds)


def load_feeds(path: Path) -> tuple[FeedConfig, ...]:
    """The feeds of a YAML feeds file; a missing file, bad YAML, a bad entry or a repeated id is a ConfigError."""
    try:
        loaded: Any = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read feeds file {path}: {exc}") from exc
    entries = loaded.get("feeds") if isinstance(loaded, dict) else loaded
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError(f"feeds file {path} must hold a list of feeds (or 'feeds: [...]')")
    feeds = []
    for number, entry in enumerate(entries, start=1):
        try:
            feeds.append(FeedConfig.model_validate(entry))
        except ValidationError as exc:
            problems = plain_validation(exc, FeedConfig.model_fields)
            raise ConfigError(f"feed #{number} in {path} is invalid:\n{problems}") from exc
    return _unique(feeds, str(path))


def configured_feeds(settings: Settings) -> tuple[FeedConfig, ...]:
    """The feeds of the config itself followed by those of its ``feeds_file``; ids must be unique across both."""
    from_file = load_feeds(settings.feeds_file) if settings.feeds_file else ()
    return _unique((*settings.feeds, *from_file), "the config and its feeds file")


def save_feeds(path: Path, feeds: Iterable[FeedConfig]) -> None:
    """Write a feeds file (atomically: a crash leaves the old file or the new one, never half of one)."""
    entries = [feed.model_dump(mode="json", exclude_defaults=True) for feed in feeds]
    text = "# newsmon feeds file: url, name, id, interval_seconds, tags, enabled per feed\n"
    text += yaml.safe_dump({"feeds": entries}, sort_keys=False, allow_unicode=True, width=120)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, text)


def merge_feeds(existing: Sequence[FeedConfig], incoming: Iterable[FeedConfig]) -> tuple[tuple[FeedConfig, ...], int]:
    """``existing`` plus the incoming feeds whose URL is new; a clashing id gets a numeric suffix. Returns
    the merged feeds and how many were added."""
    urls = {f.url for f in existing}
    ids = {f.id for f in existing}
    merged = list(existing)
    for feed in incoming:
        if feed.url in urls:
            continue
        feed_id, n = feed.id, 2
        while feed_id in ids:
            feed_id, n = f"{feed.id}-{n}", n + 1
        merged.append(feed.model_copy(update={"id": feed_id}))
        urls.add(feed.url)
        ids.add(feed_id)
    return tuple(merged), len(merged) - len(existing)


def _outlines(node: Element, folders: tuple[str, ...]) -> Iterable[FeedConfig | str]:
    for outline in node.findall("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        label = (outline.get("title") or outline.get("text") or "").strip()
        if not url:
            yield from _outlines(outline, (*folders, label) if label else folders)
            continue
        categories = [c.strip().strip("/") for c in (outline.get("category") or "").split(",")]
        tags = tuple(dict.fromkeys(t for t in (*folders, *categories) if t))
        try:
            yield FeedConfig(url=url, name=label or url, tags=tags)
        except ValidationError:
            yield url  # not an http(s) feed (feed://, a local file): nothing newsmon may poll


def read_opml(data: bytes, source: str = "OPML") -> tuple[tuple[FeedConfig, ...], tuple[str, ...]]:
    """The feeds of an OPML document, and the URLs skipped as not http(s); folders (outlines without
    ``xmlUrl``) become tags."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise ConfigError(f"{source} is not usable OPML: {exc}") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError(f"{source} is not OPML (no <opml><body>)")
    found = list(_outlines(body, ()))
    return tuple(f for f in found if isinstance(f, FeedConfig)), tuple(f for f in found if isinstance(f, str))


def write_opml(feeds: Iterable[FeedConfig], title: str = "newsmon feeds") -> str:
    """An OPML 2.0 document of the feeds, tags in the ``category`` attribute (read back by :func:`read_opml`)."""
    root = Element("opml", version="2.0")
    SubElement(SubElement(root, "head"), "title").text = title
    body = SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.tags:
            attributes["category"] = ",".join(feed.tags)
        SubElement(body, "outline", attributes)
    indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"

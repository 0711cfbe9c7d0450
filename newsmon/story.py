"""The Story: one news item as the rest of the pipeline sees it, and its stable id.

Nothing downstream of the parser sees feedparser's objects: a Story is plain, frozen, typed data.
The story id is the contract of DESIGN.md: a hash of the canonical URL, else of the feed's guid.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["Story", "canonical_url", "split_publisher", "story_id"]

# Query parameters that only track the reader; dropping them makes syndicated copies of one URL one story.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ocid",
        "cmpid",
        "ref_src",
        "ncid",
        "sr_share",
        "s_cid",
        "at_medium",
        "at_campaign",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(param: str) -> bool:
    lowered = param.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL two copies of one story share: scheme and host lower-cased, default port, tracking
    parameters and fragment dropped, an empty path written as ``/``. Other parameters keep their order."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port if parts.port and parts.port != _DEFAULT_PORTS.get(scheme) else None
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)])
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def story_id(url: str | None, guid: str | None = None) -> str:
    """Stable id: sha256 of the canonical URL (``u:`` namespace), else of the guid (``g:``); 32 hex chars."""
    if url and urlsplit(url.strip()).scheme in ("http", "https"):
        basis = "u:" + canonical_url(url)
    elif guid:
        basis = "g:" + guid.strip()
    else:
        raise ValueError("a story needs an http(s) link or a guid to have an id")
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Story:
    """One normalised news item. Times are timezone-aware UTC; ``summary`` is plain text."""

    id: str
    title: str
    url: str
    summary: str
    published: datetime
    fetched: datetime
    feed_id: str
    feed_title: str
    feed_url: str
    source: str = ""
    language: str | None = None

    @property
    def text(self) -> str:
        """What the encoder reads: the title, then the summary."""
        return f"{self.title}. {self.summary}".strip(". ") if self.summary else self.title


_PUBLISHER_SUFFIX = re.compile(r"^(?P<title>.{12,}?)\s+[-–—|]\s+(?P<source>[^-–—|]{2,60})$")


def split_publisher(title: str, known_source: str = "") -> tuple[str, str]:
    """Split an aggregator title ``"Chip curbs tighten - Reuters"`` into (title, publisher).

    Only aggregator-style titles are split: when the entry names its source and the suffix is that
    source, or when the suffix is short and title-cased like a publisher name.
    """
    match = _PUBLISHER_SUFFIX.match(title.strip())
    if not match:
        return title.strip(), known_source
    head, tail = match["title"].strip(), match["source"].strip()
    if known_source and tail.lower() == known_source.lower():
        return head, known_source
    words = tail.split()
    if not known_source and len(words) <= 5 and all(w[:1].isupper() or not w[:1].isalpha() for w in words):
        return head, tail
    return title.strip(), known_source

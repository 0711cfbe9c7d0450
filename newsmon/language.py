"""Which language a story is written in, detected from its text (py3langid, model shipped in the package).

Feeds often declare one language for everything they carry (``en-us`` on a feed that mixes Korean and English
items), so the text decides when it is clear; the feed's declaration is the fallback for text too short or
too mixed to tell. Importing this module loads the model (about a second): the parse workers' forkserver
preloads it once, and everything else imports it lazily.
"""

from __future__ import annotations

from py3langid.langid import MODEL_FILE, LanguageIdentifier

__all__ = ["MIN_CONFIDENCE", "detect_language"]

MIN_CONFIDENCE = 0.5
_IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text`` when the detector is confident, else the ``declared`` one (primary subtag)."""
    fallback = (declared or "").split("-")[0].strip().lower() or None
    if not text.strip():
        return fallback
    language, confidence = _IDENTIFIER.classify(text[:240])  # a headline and its lede: enough, and cheap
    return str(language) if confidence >= MIN_CONFIDENCE else fallback

"""Small file helpers shared by the packages: whole-file replacement and JSONL line reading."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from newsmon.errors import ConfigError

__all__ = ["jsonl_lines", "replace_file"]


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` beside ``path``, then rename it over: a crash leaves the old file or the new one, never
    half of one (feeds files, digests, review files an analyst is labelling)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSONL file with their 1-based numbers, so errors can name the line; a file
    that cannot be read is a ConfigError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line

"""Normalise model text once, as the job receives it (docs/protocol.md#one-bad-reply).

Some text no store can keep: U+0000 (PostgreSQL refuses it), lone UTF-16
surrogates (not encodable as UTF-8).  A model may also split one astral
character's surrogate pair across two chunks (JSON ``"\\ud83d"`` then
``"\\ude00"``).  Each becomes U+FFFD, except a split pair, which is joined,
so that the stream, the snapshot and the database hold the same text.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TextNormalizer",
    "normalize",
    "normalize_json",
    "title_from",
]

REPLACEMENT = "\ufffd"


def _is_high(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


def normalize(text: str) -> str:
    """``text`` with pairs joined and NUL / lone surrogates replaced."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", REPLACEMENT)


def normalize_json(value: Any) -> Any:
    """Every string in a JSON value normalised (keys too): a tool's arguments, as parsed."""
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, list):
        return [normalize_json(item) for item in value]
    if isinstance(value, dict):
        return {normalize(str(key)): normalize_json(item) for key, item in value.items()}
    return value


class TextNormalizer:
    """Normalises a stream of chunks, holding back a trailing high surrogate."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        """The part of ``held + chunk`` that is final now."""
        if not chunk:
            return ""
        chunk, self._held = self._held + chunk, ""
        if _is_high(chunk[-1]):
            chunk, self._held = chunk[:-1], chunk[-1]
        return normalize(chunk)

    def flush(self) -> str:
        """What is still held (a lone high surrogate becomes U+FFFD)."""
        held, self._held = self._held, ""
        return normalize(held)


TITLE_CHARS = 60


def title_from(content: str) -> str:
    """A conversation's title from its first message: its first words, cut at a word."""
    words = " ".join(content.split())
    if len(words) <= TITLE_CHARS:
        return words
    cut = words[:TITLE_CHARS].rsplit(" ", 1)[0] or words[:TITLE_CHARS]
    return cut.rstrip(" ,.;:") + "…"

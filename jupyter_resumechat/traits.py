"""Trait types that read the command line the way users write it.

``--ResumeChat.models='["a","b"]'`` reaches a List trait as one string, which
traitlets either warns about or (through the server's own parser) keeps as a
single item named ``["a","b"]``.  ``JsonList`` reads a JSON list there, and
keeps the repeated-flag form (``--ResumeChat.models=a --ResumeChat.models=b``).
"""

from __future__ import annotations

import json
from typing import Any

from traitlets import List, TraitError

__all__ = ["JsonList"]


class JsonList(List):  # type: ignore[type-arg]
    """A List trait that also takes one JSON list from the command line."""

    def from_string(self, s: str) -> Any:
        """One ``--Class.trait=…``: a JSON list, else a list of that one item."""
        if s.lstrip().startswith("["):
            return self._json(s)
        return [self.item_from_string(s)]

    def from_string_list(self, s_list: list[str]) -> Any:
        """Repeated flags: each is an item; a single JSON list is the list."""
        if len(s_list) == 1:
            return self.from_string(s_list[0])
        return [self.item_from_string(s) for s in s_list]

    def _json(self, s: str) -> list[Any]:
        try:
            value = json.loads(s)
        except ValueError as exc:
            raise TraitError(f'{s!r} is not a JSON list ({exc}); write \'["a", "b"]\'') from None
        if not isinstance(value, list):
            raise TraitError(f'{s!r} is not a JSON list; write \'["a", "b"]\'')
        return value

"""Which calls need a person's approval (the ``tool_approval`` trait).

By default a tool that only reads runs at once (``auto``); one that writes or
executes waits for a decision (``ask``). ``tool_approval`` maps a tool name or
glob to ``auto``, ``ask`` or ``never``; the most specific pattern wins (an
exact name before any glob, a longer glob before a shorter). A conversation
may add "always for this conversation" grants, which turn ``ask`` into
``auto`` for that conversation only and never lift a ``never``.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Collection, Mapping

__all__ = ["Approval", "Effect", "approval_for", "parse_rules"]


class Effect(str, enum.Enum):
    """What running a tool does to the world."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"


class Approval(str, enum.Enum):
    """Whether a call runs at once, waits for a decision, or is never offered."""

    AUTO = "auto"
    ASK = "ask"
    NEVER = "never"


def parse_rules(rules: Mapping[str, str]) -> dict[str, Approval]:
    """The trait's value checked; raises ValueError naming the first bad entry."""
    parsed: dict[str, Approval] = {}
    for pattern, value in rules.items():
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValueError(f"tool_approval: a key must be a tool name or glob, not {pattern!r}")
        try:
            parsed[pattern] = Approval(value)
        except ValueError:
            raise ValueError(
                f"tool_approval[{pattern!r}] must be 'auto', 'ask' or 'never', not {value!r}"
            ) from None
    return parsed


def _specificity(pattern: str) -> tuple[int, int]:
    is_exact = not any(ch in pattern for ch in "*?[")
    return (1 if is_exact else 0, len(pattern))


def approval_for(
    name: str,
    effect: Effect,
    rules: Mapping[str, Approval],
    always: Collection[str] = (),
) -> Approval:
    """The approval a call of ``name`` gets: the configured rule, else the effect's default.

    ``always`` holds the tool names a person allowed for the whole conversation.
    """
    matching = [pattern for pattern in rules if fnmatch.fnmatchcase(name, pattern)]
    if matching:
        chosen = rules[max(matching, key=_specificity)]
    else:
        chosen = Approval.AUTO if effect is Effect.READ else Approval.ASK
    if chosen is Approval.ASK and name in always:
        return Approval.AUTO
    return chosen

"""Fitting a conversation into the model's context window.

Every model reads a bounded number of tokens; a long chat must not start
failing with "context length exceeded" (or, on Ollama and llama.cpp, be cut
silently from the front).  Before each reply the conversation is trimmed to
the model's budget (``ResumeChat.context_tokens``): the oldest turns go
first; the current message and its context never go.  The reply records the
``Window`` it was made in, so the view can say that earlier turns were left
out and draw a meter.

Counting: tokens are *estimated* (``providers/tokens.py``: UTF-8 bytes / 4
rounded up, plus 4 per message), then corrected by the model's own count: once a reply reports ``usage.input_tokens`` for what was sent, the
ratio between that count and the estimate scales the estimates of the same
conversation's next request.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..models import Message, Role, Window
from ..providers import ChatTurn
from ..providers.tokens import PER_MESSAGE, estimate

__all__ = ["DEFAULT_BUDGET", "PER_MESSAGE", "Fitted", "budget_for", "calibration", "estimate", "fit"]

DEFAULT_BUDGET = 16_384
"""Tokens for a model no entry of ``context_tokens`` names.  Hosted models read
far more; a local server's default is often smaller (Ollama's ``num_ctx``,
llama.cpp's ``-c``: 2048–8192), so name those models in ``context_tokens``."""

# The scale only ever grows the estimate: a count below it is as likely a prompt the
# server truncated (Ollama reports what it kept) or cached tokens left out as a
# tokenizer thriftier than bytes / 4, and believing it would send more, not less.
_CALIBRATION = (1.0, 3.0)


def budget_for(model: str, table: Mapping[str, int]) -> int:
    """The budget of ``model``: its own entry, else the most specific glob
    (``"gpt-4o*"``), else ``"*"``, else DEFAULT_BUDGET."""
    if model in table:
        return table[model]
    globs = [p for p in table if any(c in p for c in "*?[") and fnmatch.fnmatchcase(model, p)]
    if globs:
        return table[max(globs, key=lambda p: len(p.replace("*", "")))]
    return DEFAULT_BUDGET


def calibration(history: Sequence[Message]) -> float:
    """How the model's own token count compares with the estimate: each reply
    that reported ``input_tokens`` corrects the scale its window was made with
    (1.0 before any did), so the scale converges instead of swinging."""
    scale = 1.0
    for message in history:
        if message.role is Role.ASSISTANT and message.usage and message.window:
            if message.usage.input_tokens > 0 and message.window.tokens > 0:
                scale *= message.usage.input_tokens / message.window.tokens
                scale = min(max(scale, _CALIBRATION[0]), _CALIBRATION[1])
    return scale


@dataclass(frozen=True)
class Fitted:
    """The turns to send and the window they make."""

    turns: list[ChatTurn]
    window: Window


def fit(turns: Sequence[ChatTurn], keep: int, budget: int, scale: float = 1.0) -> Fitted:
    """The newest turns that fit ``budget`` tokens: the last ``keep`` turns (the
    current message with its context, a continued reply) always, then earlier
    ones from the newest back while they fit.  What is sent never starts with
    the model's own turn (Anthropic requires a user turn first)."""
    costs = [math.ceil((_cost(t) + PER_MESSAGE) * scale) for t in turns]
    keep = min(max(keep, 1), len(turns))
    start = len(turns) - keep
    used = sum(costs[start:])
    while start > 0 and used + costs[start - 1] <= budget:
        start -= 1
        used += costs[start]
    while start < len(turns) - keep and turns[start].role != "user":
        used -= costs[start]
        start += 1
    return Fitted(list(turns[start:]), Window(budget, used, omitted=start))


def _cost(turn: ChatTurn) -> int:
    """A turn's estimate: its text, and the name and arguments of each call it made
    (an agent run's turns: calls and results count like any text)."""
    return estimate(turn.content) + sum(estimate(c.name) + estimate(c.arguments) for c in turn.calls)

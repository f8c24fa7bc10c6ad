"""Tokens by the documented estimate, for models whose tokenizer we do not have.

No tokenizer ships with the SDKs we use (tiktoken downloads one per encoding),
so the context window (jobs/window.py) and the demo model count the same way:
UTF-8 bytes / 4, rounded up, plus 4 per message for the chat framing (as
OpenAI's chat format costs).  jobs/window.py corrects it by the model's own
counts once a reply reports them.
"""

from __future__ import annotations

import math

__all__ = ["PER_MESSAGE", "estimate"]

PER_MESSAGE = 4  # role and framing tokens per message


def estimate(text: str) -> int:
    """Tokens in ``text`` by the documented estimate: UTF-8 bytes / 4, rounded up."""
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / 4)

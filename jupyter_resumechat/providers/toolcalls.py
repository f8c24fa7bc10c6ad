"""Tool calls assembled from a model's stream, for every API's way of streaming them.

OpenAI-compatible endpoints stream ``tool_calls`` deltas keyed by ``index``:
the first piece of a call carries its ``id`` and name, later ones only more
argument text; some servers send no ``id`` at all, or send a whole call in one
piece, or reuse one index for several calls that each carry a new ``id``.
Anthropic streams ``tool_use`` content blocks: a start with id and name, then
``input_json_delta`` pieces. Both become the same pieces here: a call
``started`` (with an id, made up when the model gave none), and argument
text ``appended`` to it, so the job can stream ``tool_arguments`` deltas as
they form and keep the whole call at the end. Pure: no I/O, no SDK types.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

__all__ = ["AssembledCall", "ToolCallAssembler"]


@dataclass
class AssembledCall:
    """One call as the model made it: the model's id for it, the tool's name, the JSON text."""

    provider_id: str
    name: str
    arguments: str = ""
    pieces: int = field(default=0, compare=False)


class ToolCallAssembler:
    """Collects the calls of one model turn, in the order the model started them."""

    def __init__(self) -> None:
        self.calls: list[AssembledCall] = []
        self._by_key: dict[object, AssembledCall] = {}

    def _start(self, key: object, provider_id: str | None, name: str) -> AssembledCall:
        call = AssembledCall(provider_id or f"call_{uuid.uuid4().hex[:24]}", name)
        self.calls.append(call)
        self._by_key[key] = call
        return call

    def openai(
        self, index: int | None, call_id: str | None, name: str | None, arguments: str | None
    ) -> tuple[AssembledCall, str]:
        """Take one ``tool_calls`` delta; returns the call it belongs to and the argument text it added."""
        call: AssembledCall | None
        if index is None:  # a server that numbers nothing: a piece with an id or name starts a call
            key: object = ("openai", "unnumbered", len(self.calls))
            call = self.calls[-1] if self.calls and not (call_id or name) else None
        else:
            key = ("openai", index)
            call = self._by_key.get(key)
            if call is not None and call_id and call.provider_id != call_id and call.pieces:
                call = None  # the index reused for the next call (each with its own id)
        if call is None:
            call = self._start(key, call_id, name or "")
        elif name and not call.name:
            call.name = name
        added = arguments or ""
        call.arguments += added
        call.pieces += 1
        return call, added

    def anthropic_start(self, index: int, call_id: str | None, name: str) -> AssembledCall:
        """A ``tool_use`` block began at content index ``index``."""
        return self._start(("anthropic", index), call_id, name)

    def anthropic_delta(self, index: int, partial_json: str) -> tuple[AssembledCall, str] | None:
        """More of block ``index``'s input; None for a block that is not a tool call."""
        call = self._by_key.get(("anthropic", index))
        if call is None:
            return None
        call.arguments += partial_json
        call.pieces += 1
        return call, partial_json

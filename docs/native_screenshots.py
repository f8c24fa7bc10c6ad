"""Screenshots for docs/native.md: the chat beside JupyterLab's own parts, in
JupyterLab's light, dark and high-contrast themes.

For each theme: the whole page (the file browser open on the left, a notebook
whose markdown cell holds the same markdown as the chat's reply below it), and
the left sidebar's three panels cut side by side from the same page: the file
browser, the Chats panel and the running-sessions panel.

python docs/native_screenshots.py   # docs/native-*.png
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
from shots import DOCS, lab, open_notebook

from tests.browser.conftest import NOTEBOOK

THEMES = {
    "light": "JupyterLab Light",
    "dark": "JupyterLab Dark",
    "high-contrast": "JupyterLab Dark High Contrast",
}
REPLY = (
    "## Resuming a stream\n\nThe view reconnects with **the last event id**, so nothing is sent twice:\n\n"
    "```python\nfrom jupyter_resumechat import ChatPanel\nChatPanel()\n```\n\n"
    "- a reload keeps the reply\n- a kernel restart too\n"
)
WAIT = 120_000
FINISHED = """() => { const b = [...document.querySelectorAll('.rc-panel .rc-assistant')].pop();
  return b && !b.classList.contains('rc-status-streaming') && b.querySelector('.jp-RenderedMarkdown pre .rc-copy'); }"""


def notebook_content() -> dict[str, Any]:
    """The chat cell, then a markdown cell with the reply's markdown, to compare with."""
    content = json.loads(json.dumps(NOTEBOOK))
    content["cells"].append({"cell_type": "markdown", "id": "same", "metadata": {}, "source": REPLY})
    return content


def set_theme(root: Path, theme: str) -> None:
    themes = root / "lab-settings" / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings"
    themes.write_text(json.dumps({"theme": theme}))


def sidebar(page: Any, panel: str, path: Path) -> None:
    """The left sidebar with ``panel`` (its tab's data-id) open."""
    tab = page.locator(f'.jp-SideBar.jp-mod-left [data-id="{panel}"]')
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    page.locator(f"#{panel}").wait_for(timeout=WAIT)
    filled = {
        "filebrowser": ".jp-DirListing-item",
        "rc-conversations": ".rc-conversation",
        "jp-running-sessions": ".jp-RunningSessions-item",
    }
    page.locator(f"#{panel} {filled[panel]}").first.wait_for(timeout=WAIT)  # listed, not still loading
    box = page.locator("#jp-left-stack").bounding_box()
    page.screenshot(
        path=str(path), clip={"x": 0, "y": box["y"], "width": box["x"] + box["width"], "height": 420}
    )


def shoot() -> None:
    with lab("resumechat-native-", demo_delay=0.01) as (root, server, browser):
        for name, theme in THEMES.items():
            set_theme(root, theme)
            shutil.rmtree(
                root / "ws", ignore_errors=True
            )  # no workspace: the last theme's notebook stays closed
            (root / "ws").mkdir()
            path = f"{name}.ipynb"  # a notebook, so a conversation, of its own
            (root / path).write_text(json.dumps(notebook_content()))
            notebook = open_notebook(browser, server, 1280, 1000, path=path)
            page = notebook.page
            page.wait_for_function("(t) => document.body.dataset.jpThemeName === t", arg=theme, timeout=WAIT)
            notebook.run_cell()
            notebook.send(f"/repeat 1 {REPLY}")
            page.wait_for_function(FINISHED, timeout=WAIT)
            with httpx.Client(headers=server.headers, timeout=30) as http:  # a title as a model would give
                newest = http.get(server.url("conversations")).json()["conversations"][0]
                http.patch(server.url(f"conversations/{newest['id']}"), json={"title": "Resuming a stream"})
            notebook.save()
            page.reload()  # the saved output, the conversation loaded again with its title
            page.locator(".rc-panel .rc-title", has_text="Resuming a stream").wait_for(timeout=WAIT)
            page.wait_for_function(FINISHED, timeout=WAIT)
            page.locator(".jp-MarkdownCell .jp-RenderedMarkdown h2").wait_for(timeout=WAIT)
            page.mouse.move(0, 0)
            sidebar(page, "filebrowser", DOCS / f"native-filebrowser-{name}.png")
            page.screenshot(path=str(DOCS / f"native-{name}.png"))
            sidebar(page, "rc-conversations", DOCS / f"native-chats-{name}.png")
            sidebar(page, "jp-running-sessions", DOCS / f"native-running-{name}.png")
            page.close()


if __name__ == "__main__":
    shoot()

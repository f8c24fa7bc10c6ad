"""A notebook from elsewhere (untrusted: not signed by this server) shows its
transcript, and its chat output makes no request to the server.

Otherwise a downloaded file could name one of the user's own conversation
keys, have the view load that private chat with the user's login, and write
its transcript into the file on the next save.
"""

from __future__ import annotations

import json

import httpx

from jupyter_resumechat.widget.transcript import MIME_TYPE
from tests.browser.conftest import NOTEBOOK, own_notebook
from tests.browser.notebook import TIMEOUT, Notebook


def test_an_untrusted_notebook_shows_its_transcript_and_asks_nothing(browser, server, frontend, request):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        with httpx.Client(headers=server.headers, timeout=30) as http:  # the user's own private chat
            http.post(server.url("conversations"), json={"key": "notes"})
        foreign = json.loads(json.dumps(NOTEBOOK))
        foreign["cells"][0]["outputs"] = [
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {
                    MIME_TYPE: {"conversation_id": "", "key": "notes", "notebook": False},
                    "text/markdown": "**Chat (jupyter-resumechat transcript, 1 messages)**\n\n---\n\n"
                    "**User:**\n\nshipped with the file",
                    "text/plain": "Chat\n\nUser: shipped with the file\n",
                },
            }
        ]
        # written here, never opened or signed by this server: untrusted, as a download is
        path = own_notebook(server, request.node.name, foreign)
        page = context.new_page()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/resumechat/api/" in r.url else None)
        Notebook(page, server, frontend, path=path).open()
        page.get_by_text("shipped with the file").wait_for(timeout=TIMEOUT)
        assert page.locator(".rc-panel").count() == 0
        assert asked == [], asked
    finally:
        context.close()

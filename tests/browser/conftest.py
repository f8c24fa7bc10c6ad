"""A real JupyterLab 4 / Notebook 7 process and a real Chromium, driven by Playwright.

One server per front end serves every test of a module (``frontends``, started on
first use), and one Chromium (``browser``); a test is kept apart from the others
by its own notebook in a folder of its own (so its own conversation key and
kernel), its own browser context, and a reset before it starts that shuts down
every kernel, deletes every conversation and puts the settings and workspaces
back as a new server has them (``reset``).  A test that needs a server of its own
(other traits, or one it kills) starts it with ``start_frontend`` and says why.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import jupyter_resumechat
from tests.browser.notebook import Notebook
from tests.support.server_process import ServerProcess
from tests.support.services import unavailable

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "chat",
            "metadata": {},
            "outputs": [],
            "source": "from jupyter_resumechat import ChatPanel\nChatPanel()",
        }
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="session")
def _spare_loops() -> Iterator[list[asyncio.AbstractEventLoop]]:
    """Loops set after Playwright's, closed at the end (an unclosed loop's socket
    pair would be reported as a ResourceWarning in whatever test runs next)."""
    loops: list[asyncio.AbstractEventLoop] = []
    yield loops
    for loop in loops:
        loop.close()


@pytest.fixture(scope="module")
def browser(_spare_loops: list[asyncio.AbstractEventLoop]) -> Iterator[Any]:
    """Chromium for one module. Playwright's sync API runs its own event loop in
    this thread; it must be gone before tests that use pytest-jupyter's loop."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        unavailable("Debian's chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()
    _spare_loops.append(asyncio.new_event_loop())
    asyncio.set_event_loop(_spare_loops[-1])


def write_settings(root: Path, dark: bool) -> Path:
    settings = root / "lab-settings"
    apputils = settings / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    (apputils / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    return settings


def labextension_path(root: Path) -> Path:
    """A Jupyter path holding this checkout's prebuilt extension, as a wheel's
    ``share/jupyter/labextensions`` would (first on the path, so it wins over an
    installed copy): the servers load exactly the code under test."""
    built = Path(jupyter_resumechat.__file__).parent / "labextension"
    if not (built / "package.json").exists():
        unavailable("the JupyterLab extension is not built (npm run build)")
    path = root / "jupyter-path"
    (path / "labextensions").mkdir(parents=True, exist_ok=True)
    link = path / "labextensions" / "jupyter-resumechat"
    if not link.exists():
        link.symlink_to(built, target_is_directory=True)
    return path


# Two saves of one notebook at once (a test's save beside one the front end makes itself) collide on
# the backup copy jupyter_server's atomic writing makes and removes, and the loser's "File Save
# Error" dialog covers the page for the next click. The tests' servers write in place; the tests
# that read a notebook mid-save treat an unreadable answer as "not saved yet".
NO_SAVE_COLLISIONS = ["--FileManagerMixin.use_atomic_writing=False"]


def start_frontend(root: Path, frontend: str, dark: bool = False, **traits: Any) -> ServerProcess:
    root.mkdir(parents=True, exist_ok=True)
    (root / "chat.ipynb").write_text(json.dumps(NOTEBOOK))
    settings = write_settings(root, dark)
    server = ServerProcess(
        root,
        app="jupyterlab" if frontend == "lab" else "notebook",
        env={
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / "ws"),
            "JUPYTER_PATH": str(labextension_path(root)),
        },
        db_url=f"sqlite+aiosqlite:///{root / 'chat.db'}",
        **{"demo_delay": 0.02, **traits, "extra": [*NO_SAVE_COLLISIONS, *traits.get("extra", [])]},
    )
    return server.start()


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    """Browser tests drive servers in other processes; Playwright owns this thread's loop."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    yield None


def reset(server: ServerProcess) -> None:
    """Put a shared server back as a new one is, whatever the last test left: no
    session or kernel, no conversation (a running reply is aborted by the delete),
    the settings as ``write_settings`` wrote them and no saved workspace."""
    with httpx.Client(headers=server.headers, timeout=60) as http:
        _end_all(http, server.base + "api/sessions")
        _end_all(http, server.base + "api/kernels")
        while True:
            listed = http.get(server.url("conversations"), params={"limit": 500}).raise_for_status()
            conversations = listed.json()["conversations"]
            if not conversations:
                break
            for conversation in conversations:
                http.delete(server.url(f"conversations/{conversation['id']}")).raise_for_status()
    shutil.rmtree(server.root / "lab-settings", ignore_errors=True)
    write_settings(server.root, dark=False)
    shutil.rmtree(server.root / "ws", ignore_errors=True)
    (server.root / "ws").mkdir()


def _end_all(http: httpx.Client, listing: str) -> None:
    """Delete everything ``listing`` (sessions or kernels) lists, until it lists nothing: a
    kernel the last test left restarting answers its delete with a 500 until it is up again."""
    for _ in range(120):
        found = http.get(listing).raise_for_status().json()
        if not found:
            return
        for each in found:
            http.delete(f"{listing}/{each['id']}")  # 204, 404 (gone meanwhile) or 500 (retried)
        time.sleep(0.25)  # polling the server until it lists nothing, not a fixed wait
    raise AssertionError(f"{listing} still lists {found} after 30 s of deletes")


def own_notebook(server: ServerProcess, name: str, content: dict[str, Any] = NOTEBOOK) -> str:
    """``<folder named after the test>/chat.ipynb`` on ``server``, written afresh:
    the test's own file, so its own conversation key, kernel and saved output."""
    folder = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    (server.root / folder).mkdir(parents=True, exist_ok=True)
    (server.root / folder / "chat.ipynb").write_text(json.dumps(content))
    return f"{folder}/chat.ipynb"


class Frontends:
    """Servers of one set of traits, one per front end, each started when a test first asks."""

    def __init__(self, root: Path, traits: dict[str, Any]) -> None:
        self.root, self.traits = root, traits
        self.servers: dict[str, ServerProcess] = {}

    def get(self, frontend: str) -> ServerProcess:
        """The front end's server, reset for the test that asks (see ``reset``)."""
        if frontend not in self.servers:
            self.servers[frontend] = start_frontend(self.root / frontend, frontend, **self.traits)
        server = self.servers[frontend]
        if server.proc is None or server.proc.poll() is not None:
            del self.servers[frontend]  # this test fails; the next one gets a new server
            raise RuntimeError(f"the shared {frontend} server is gone: {server.read_log()[-3000:]}")
        reset(server)
        return server

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="module")
def frontend_traits() -> dict[str, Any]:
    """The traits of the module's shared servers (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="session")
def default_frontends(tmp_path_factory) -> Iterator[Frontends]:
    """The servers of every module that sets no traits of its own, shared for the whole
    session (per xdist worker): a JupyterLab or Notebook 7 start costs 10-20 s, more
    than most browser tests; ``reset`` puts a server back as new before each test."""
    shared = Frontends(tmp_path_factory.mktemp("frontends"), {})
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture(scope="module")
def frontends(request, tmp_path_factory, frontend_traits) -> Iterator[Frontends]:
    """The module's servers: the session's shared ones, or its own for its own traits."""
    if not frontend_traits:
        yield request.getfixturevalue("default_frontends")
        return
    own = Frontends(tmp_path_factory.mktemp("frontends"), frontend_traits)
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture(params=["lab", "notebook"])
def frontend(request) -> str:
    return request.param


@pytest.fixture
def server(frontends, frontend):
    """The module's server for this front end, reset for this test."""
    return frontends.get(frontend)


@pytest.fixture
def notebook_content() -> dict[str, Any]:
    """What the test's own notebook holds (a module overrides this fixture)."""
    return NOTEBOOK


@pytest.fixture
def chat_path(server, request, notebook_content) -> str:
    """The test's own notebook on the shared server (see ``own_notebook``)."""
    return own_notebook(server, request.node.name, notebook_content)


@pytest.fixture
def tab(browser, server, frontend, chat_path):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        notebook = Notebook(context.new_page(), server, frontend, path=chat_path).open()
        notebook.run_cell()
        notebook.save()
        yield notebook
    finally:
        context.close()

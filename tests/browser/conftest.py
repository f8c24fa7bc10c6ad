"""A real JupyterLab 4 / Notebook 7 process and a real Chromium, driven by Playwright."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
        **{"demo_delay": 0.02, **traits},
    )
    return server.start()


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    """Browser tests drive servers in other processes; Playwright owns this thread's loop."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    yield None


@pytest.fixture(params=["lab", "notebook"])
def frontend(request) -> str:
    return request.param


@pytest.fixture
def server(tmp_path, frontend):
    process = start_frontend(tmp_path, frontend)
    yield process
    process.stop()


@pytest.fixture
def tab(browser, server, frontend):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    notebook = Notebook(page, server, frontend).open()
    notebook.run_cell()
    notebook.save()
    yield notebook
    context.close()

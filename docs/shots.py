"""What every docs screenshot script needs: a JupyterLab of its own (our extension
and the offline demo model) and a headless Chromium, both gone on any outcome."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from tests.browser.conftest import ARGS, CHROMIUM, start_frontend
from tests.browser.notebook import Notebook
from tests.support.server_process import ServerProcess

DOCS = Path(__file__).resolve().parent


@contextmanager
def lab(prefix: str, dark: bool = False, **traits: Any) -> Iterator[tuple[Path, ServerProcess, Any]]:
    """``(root, server, browser)``: a JupyterLab on a fresh root folder (``traits`` set
    on the extension), and a browser; the folder, server and browser go afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        server = start_frontend(root, "lab", dark=dark, **traits)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    yield root, server, browser
                finally:
                    browser.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def open_notebook(browser: Any, server: ServerProcess, width: int, height: int, **where: Any) -> Notebook:
    """A new page of ``width`` × ``height`` with the notebook open (``chat.ipynb``, or ``path=``)."""
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    return Notebook(page, server, "lab", **where).open()

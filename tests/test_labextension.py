"""The kernel-free view ships prebuilt: ``pip install`` alone makes JupyterLab
and Notebook 7 load it (no ``jupyter lab build``), as ``jupyter labextension
list`` shows in a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIST = "import sys; from jupyterlab.labextensions import main; sys.argv = ['jupyter-labextension', 'list']; main()"


@pytest.mark.timeout(900)
def test_pip_install_alone_lists_the_extension_enabled(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # The environment's packages (JupyterLab among them) are seen; this package is installed anew.
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300
    )
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--quiet", str(ROOT)], check=True, timeout=840
    )
    env = {k: v for k, v in os.environ.items() if k not in {"JUPYTER_PATH", "PYTHONPATH"}}
    listing = subprocess.run([python, "-c", LIST], capture_output=True, text=True, env=env, timeout=120)
    said = listing.stdout + listing.stderr
    shipped = venv / "share" / "jupyter" / "labextensions" / "jupyter-resumechat"
    assert (shipped / "package.json").exists(), said
    assert (shipped / "schemas" / "jupyter-resumechat" / "conversations.json").exists()  # View > Chats Panel
    lines = [line for line in said.splitlines() if "jupyter-resumechat" in line]
    assert lines and "enabled" in lines[0] and "OK" in lines[0], said

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
    # A venv of its own, whatever runs the suite (a venv, conda, the system Python): the checkout
    # with its own dependencies and JupyterLab, pinned as the suite is, from the pip cache.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    pins = ["-c", str(ROOT / "constraints.txt")]
    install = [python, "-m", "pip", "install", "--quiet", str(ROOT), "jupyterlab", *pins]
    subprocess.run(install, check=True, timeout=840)
    env = {k: v for k, v in os.environ.items() if k not in {"JUPYTER_PATH", "PYTHONPATH"}}
    listing = subprocess.run([python, "-c", LIST], capture_output=True, text=True, env=env, timeout=120)
    said = listing.stdout + listing.stderr
    shipped = venv / "share" / "jupyter" / "labextensions" / "jupyter-resumechat"
    assert (shipped / "package.json").exists(), said
    assert (shipped / "schemas" / "jupyter-resumechat" / "conversations.json").exists()  # View > Chats Panel
    lines = [line for line in said.splitlines() if "jupyter-resumechat" in line]
    assert lines and "enabled" in lines[0] and "OK" in lines[0], said

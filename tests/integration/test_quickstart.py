"""notebooks/quickstart.ipynb runs top to bottom in a real kernel on the demo model."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx

from tests.support.kernel import execute
from tests.support.server_process import ServerProcess

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def test_quickstart_runs(tmp_path):
    shutil.copy(QUICKSTART, tmp_path / "quickstart.ipynb")
    server = ServerProcess(tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", demo_delay=0.001)
    server.start()
    try:
        session = httpx.post(
            server.base + "api/sessions",
            headers=server.headers,
            json={
                "path": "quickstart.ipynb",
                "type": "notebook",
                "name": "quickstart.ipynb",
                "kernel": {"name": "python3"},
            },
        ).json()
        kernel = session["kernel"]["id"]
        cells = [c for c in json.loads(QUICKSTART.read_text())["cells"] if c["cell_type"] == "code"]

        async def run_all() -> list[str]:
            outputs = []
            for cell in cells:
                source = "".join(cell["source"])
                out, errors = await execute(server.base, server.headers, kernel, source)
                assert not errors, (source, errors)
                outputs.append(out)
            return outputs

        outputs = asyncio.run(run_all())
        key, _ = asyncio.run(execute(server.base, server.headers, kernel, "print(panel.conversation_key)"))
        assert key.strip().endswith("quickstart.ipynb")  # the notebook's path is the conversation key
        assert any(out.startswith("complete") for out in outputs)
        conv = httpx.post(
            server.url("conversations"), headers=server.headers, json={"key": key.strip()}
        ).json()
        messages = httpx.get(
            server.url(f"conversations/{conv['id']}/messages"), headers=server.headers
        ).json()
        assert messages["messages"][1]["content"] == "Every word arrives exactly once. " * 150
        asked = messages["messages"][2]  # the DataFrame went with the question, rendered by the kernel
        assert [(c["kind"], c["name"]) for c in asked["context"]] == [("variable", "sales")]
        assert asked["context"][0]["content"].startswith("pandas.DataFrame: 4 rows × 2 columns")
        assert "You attached, and I read:" in messages["messages"][3]["content"]
    finally:
        server.stop()

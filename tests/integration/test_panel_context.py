"""``panel.send(text, context=[df, "cell:1", "error"])`` in a real kernel: what is
attached is read in the kernel, stored on the message and sent to the model
(a local server that speaks OpenAI's API records the request)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from tests.support.fake_openai import BEHAVIOURS
from tests.support.kernel import execute, start_kernel
from tests.support.server_process import ServerProcess


@pytest.fixture
def server(tmp_path, threaded_fake) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path,
        provider="openai",
        base_url=threaded_fake.url,
        api_key="sk-test",
        model="gpt-ok",
        models=json.dumps(BEHAVIOURS),
        db_url=f"sqlite:///{tmp_path / 'chat.db'}",
    ).start()
    yield process
    process.stop()


CELLS = [
    "import pandas as pd\n"
    "sales = pd.DataFrame({'region': ['north', 'south', 'east'], 'revenue': [120.5, 98.0, 143.25]})",
    "sales.revenue.sum()",
    "sales['profit']",  # KeyError: the last error
]
ASK = (
    "from jupyter_resumechat import ChatPanel\n"
    "panel = ChatPanel('context-test')\n"
    "sid = panel.send('Which region earns most?', context=[sales, 'cell:2', 'error'])\n"
    "reply = panel.wait(sid)\n"
    "import json\n"
    "print(json.dumps([m.to_json() for m in panel.messages]))\n"
)


def test_a_dataframe_a_cell_and_the_last_error_reach_the_model(server, threaded_fake):
    async def main():
        kernel = await start_kernel(server.base, server.headers)
        for code in CELLS:
            await execute(server.base, server.headers, kernel, code, store_history=True)
        return await execute(server.base, server.headers, kernel, ASK)

    out, errors = asyncio.run(main())
    assert not errors, errors
    user, reply = json.loads(out)
    assert reply["status"] == "complete", reply
    kinds = [(c["kind"], c["name"]) for c in user["context"]]
    assert kinds == [("variable", "sales"), ("cell", "In [2]"), ("error", "KeyError: 'profit'")]
    frame, cell, error = (c["content"] for c in user["context"])
    assert frame.startswith("pandas.DataFrame: 3 rows × 2 columns") and "east" in frame and "143.25" in frame
    assert cell.startswith("In [2]:\nsales.revenue.sum()\n\nOut [2]:\n") and "361.75" in cell
    assert "Traceback" in error and "KeyError: 'profit'" in error
    sent = threaded_fake.seen[-1]["messages"][-1]["content"]
    assert sent.startswith('<context kind="variable" name="sales">\npandas.DataFrame: 3 rows × 2 columns')
    assert sent.endswith("</context>\n\nWhich region earns most?")


def test_a_reference_that_names_nothing_sends_nothing(server, threaded_fake):
    async def main():
        kernel = await start_kernel(server.base, server.headers)
        code = (
            "from jupyter_resumechat import ChatPanel\n"
            "from jupyter_resumechat.widget.context import ContextError\n"
            "panel = ChatPanel('nothing-test')\n"
            "try:\n"
            "    panel.send('see', context=['var:nope', 'cell:99'])\n"
            "except ContextError as exc:\n"
            "    print('refused:', exc)\n"
            "print(len(panel.messages))\n"
        )
        return await execute(server.base, server.headers, kernel, code)

    out, errors = asyncio.run(main())
    assert not errors, errors
    assert out.splitlines() == [
        "refused: no variable named 'nope' in the kernel; no cell In [99] in this kernel (cells run so far: 0)",
        "0",
    ]
    assert threaded_fake.seen == []

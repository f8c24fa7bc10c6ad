"""The file tools through Jupyter's own ContentsManager (the one a server uses), on a real folder."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from jupyter_resumechat.tools import ToolFailed, check_arguments, file_tools
from jupyter_resumechat.tools.files import MAX_READ_BYTES


def run(tmp_path: Path, name: str, arguments: dict[str, Any]) -> str:
    tools = {
        tool.spec.name: tool for tool in file_tools(AsyncLargeFileManager(root_dir=str(tmp_path / "root")))
    }
    check_arguments(arguments, tools[name].spec.input_schema)
    return asyncio.run(tools[name].run(arguments))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "data").mkdir(parents=True)
    (tmp_path / "root" / "data" / "sales.csv").write_text("month,revenue\n2026-01,10\n")
    (tmp_path / "root" / ".secret").write_text("hidden")
    (tmp_path / "root" / "image.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "outside.txt").write_text("not the server's")
    return tmp_path


def test_list_read_and_write_stay_in_the_servers_files(root: Path) -> None:
    listing = run(root, "file_list", {})
    assert "directory\t\tdata" in listing and "image.bin" in listing
    assert ".secret" not in listing  # the ContentsManager's hidden-file rule holds
    assert run(root, "file_read", {"path": "data/sales.csv"}) == "month,revenue\n2026-01,10\n"
    said = run(root, "file_write", {"path": "data/clean.csv", "content": "month\n"})
    assert said == "wrote 6 bytes to data/clean.csv"
    assert (root / "root" / "data" / "clean.csv").read_text() == "month\n"


@pytest.mark.parametrize(
    ("name", "arguments", "kind"),
    [
        ("file_read", {"path": "../outside.txt"}, "forbidden"),
        ("file_read", {"path": "data/../../outside.txt"}, "forbidden"),
        ("file_write", {"path": "../escape.txt", "content": "x"}, "forbidden"),
        ("file_read", {"path": "nope.txt"}, "not_found"),
        ("file_list", {"path": "nope"}, "not_found"),
        ("file_read", {"path": "image.bin"}, "binary"),
        ("file_read", {"path": ".secret"}, "not_found"),
        ("file_write", {"path": "", "content": "x"}, "invalid"),
    ],
)
def test_a_call_the_contents_manager_refuses_ends_as_an_error_the_model_reads(
    root: Path, name: str, arguments: dict[str, Any], kind: str
) -> None:
    with pytest.raises(ToolFailed) as caught:
        run(root, name, arguments)
    assert caught.value.kind == kind, caught.value.detail
    assert str(root) not in caught.value.detail  # the model never learns where the server keeps files
    assert not (root / "escape.txt").exists()


def test_a_huge_file_is_refused_before_it_is_loaded(root: Path) -> None:
    (root / "root" / "huge.txt").write_text("x" * (MAX_READ_BYTES + 1))
    with pytest.raises(ToolFailed, match="file_read reads up to") as caught:
        run(root, "file_read", {"path": "huge.txt"})
    assert caught.value.kind == "too_large"

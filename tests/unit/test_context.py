"""What a message carries from the kernel: variables, cells, the last error and
files, rendered to bounded text a model can read (widget/context.py)."""

from __future__ import annotations

import sys

import numpy
import pandas
import polars
import pytest

from jupyter_resumechat.models import Context
from jupyter_resumechat.widget.context import ContextError, describe, render, render_all, variables


@pytest.fixture
def frame() -> pandas.DataFrame:
    return pandas.DataFrame(
        {"city": ["Oslo", "Lima", "Pune", "Nice", "Bonn", "Kiev"], "temp": [3.5, 19.0, 31.2, 14.8, 9.1, 6.0]}
    )


def test_a_pandas_frame_is_its_schema_and_first_rows(frame) -> None:
    item = render(frame, namespace={"weather": frame})
    assert (item.kind, item.name) == ("variable", "weather")  # named as the notebook names it
    head, rest = item.content.split("\n  city: ", 1)  # object, or str from pandas 3
    assert head == "pandas.DataFrame: 6 rows × 2 columns\ncolumns:" and "\n  temp: float64\n" in rest
    assert "first 5 rows:" in item.content and "Bonn" in item.content and "Kiev" not in item.content


def test_a_polars_frame_and_a_numpy_array() -> None:
    frame = polars.DataFrame({"a": list(range(100)), "b": ["x"] * 100})
    text = describe(frame)
    assert text.startswith("polars.DataFrame: 100 rows × 2 columns\ncolumns:\n  a: Int64\n  b: String")
    array = numpy.arange(10_000, dtype=numpy.float32).reshape(100, 100)
    text = describe(array)
    assert text.startswith("numpy.ndarray: shape (100, 100), dtype float32") and "..." in text
    assert len(text) < 1_000  # a sample, not ten thousand numbers


def test_a_series_and_any_other_object_within_bounds() -> None:
    assert describe(pandas.Series([1, 2, 3], name="n")).startswith("pandas.Series 'n': 3 values, dtype int64")
    big = {f"k{i}": "v" * 10_000 for i in range(1_000)}
    item = render(big, namespace={"big": big}, limit=500)
    assert item.name == "big" and len(item.content) <= 500
    assert item.content.startswith("builtins.dict\n{")


def test_cells_by_their_prompt_number_with_their_output() -> None:
    ns = {"In": ["", "x = 2", "x * 21"], "Out": {2: 42}}
    assert render("cell:2", namespace=ns) == Context("cell", "In [2]", "In [2]:\nx * 21\n\nOut [2]:\n42")
    assert render("In[1]", namespace=ns) == Context("cell", "In [1]", "In [1]:\nx = 2")
    with pytest.raises(ContextError, match=r"no cell In \[7\]"):
        render("cell:7", namespace=ns)


def test_the_last_error_with_its_traceback(monkeypatch) -> None:
    monkeypatch.delattr(sys, "last_value", raising=False)
    with pytest.raises(ContextError, match="no error"):
        render("error", namespace={})
    try:
        {}["missing"]
    except KeyError as exc:
        monkeypatch.setattr(sys, "last_value", exc, raising=False)
        monkeypatch.setattr(sys, "last_traceback", exc.__traceback__, raising=False)
    item = render("error", namespace={})
    assert item.kind == "error" and item.name == "KeyError: 'missing'"
    assert "Traceback (most recent call last)" in item.content and "KeyError: 'missing'" in item.content


def test_files_of_the_notebooks_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("# plan\nship it\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "long.txt").write_text("y" * 100_000)
    assert render("file:notes.md", namespace={}) == Context("file", "notes.md", "# plan\nship it\n")
    assert len(render("file:long.txt", namespace={}, limit=1_000).content) <= 1_000
    for ref, why in [("file:blob.bin", "not a text file"), ("file:absent.csv", "no file")]:
        with pytest.raises(ContextError, match=why):
            render(ref, namespace={})


def test_a_file_is_confined_to_the_notebooks_folder_as_the_contents_api_confines_it(
    tmp_path, monkeypatch
) -> None:
    folder, outside = tmp_path / "notebooks", tmp_path / "private"
    (folder / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "key.txt").write_text("secret")
    (folder / ".env").write_text("OPENAI_API_KEY=x")
    (folder / ".ssh").mkdir()
    (folder / ".ssh" / "id").write_text("key")
    (folder / "sub" / "data.csv").write_text("a,b\n")
    (folder / "link.txt").symlink_to(outside / "key.txt")
    monkeypatch.chdir(folder)
    assert render("file:sub/data.csv", namespace={}).content == "a,b\n"
    assert render(f"file:{folder / 'sub' / 'data.csv'}", namespace={}).content == "a,b\n"
    refused = {
        "file:../private/key.txt": "outside the notebook's folder",
        f"file:{outside / 'key.txt'}": "outside the notebook's folder",
        "file:link.txt": "outside the notebook's folder",
        "file:sub/../../private/key.txt": "outside the notebook's folder",
        "file:.env": "hidden",
        "file:.ssh/id": "hidden",
    }
    for ref, why in refused.items():
        with pytest.raises(ContextError, match=why):
            render(ref, namespace={})


def test_variables_by_name_and_what_completion_lists(frame) -> None:
    ns = {
        "df": frame,
        "n": 3,
        "_private": 1,
        "pandas": pandas,
        "In": [],
        "describe": describe,
        "Frame": pandas.DataFrame,
    }
    assert render("var:df", namespace=ns).name == "df"
    found, problems = render_all(["var:df", "var:gone", "plain words"], namespace=ns)
    assert [(c.kind, c.name) for c in found] == [("variable", "df"), ("text", "text")]
    assert problems == ["no variable named 'gone' in the kernel"]
    assert variables(ns) == [
        {"name": "df", "type": "DataFrame", "summary": "6×2"},
        {"name": "n", "type": "int", "summary": ""},
    ]


def test_a_value_whose_rendering_fails_still_says_what_it_is() -> None:
    class Broken:
        __module__ = "pandas.core.frame"

        @property
        def shape(self):
            raise RuntimeError("boom")

        def __repr__(self) -> str:
            return "<broken>"

    Broken.__name__ = "DataFrame"
    text = describe(Broken())
    assert "could not be summarised: boom" in text and "<broken>" in text


def test_an_errors_end_survives_its_bound() -> None:
    """The last line of a traceback is the exception: a long one keeps its end."""
    trace = (
        "Traceback (most recent call last):\n" + "  frame\n" * 2_000 + "KeyError: 'the_column_you_asked_for'"
    )
    item = Context("error", "KeyError: 'the_column_you_asked_for'", trace).bounded(1_000)
    assert len(item.content) <= 1_000
    assert item.content.startswith("Traceback") and item.content.endswith(
        "KeyError: 'the_column_you_asked_for'"
    )
    assert "more characters left out" in item.content


def test_objects_that_fight_back_are_listed_and_described_without_failing() -> None:
    class Lazy:
        @property
        def shape(self):
            raise RuntimeError("would compute")

        def __len__(self):
            raise AssertionError("len() must not be called on a lazy object")

    ns = {"lazy": Lazy(), "blob": b"\x00" * 50_000_000}
    assert [v["name"] for v in variables(ns)] == ["lazy", "blob"]
    text = render("var:blob", namespace=ns).content
    assert text.startswith("builtins.bytes\nbytes of 50000000 bytes: b'\\x00") and len(text) <= 8_000
    wide = pandas.DataFrame({f"c{i}": [i] for i in range(500)})
    assert "… and 440 more columns" in describe(wide)

"""What a message can carry from the kernel, rendered to bounded text.

``panel.send("why?", context=[df, "cell:3", "error"])`` and the view's ``@``
mentions of variables both come here: the kernel is the only place that
holds the variables, the inputs of executed cells (``In``/``Out``) and the
last error.  Each item becomes a ``Context`` (docs/protocol.md#context) whose text a model
can read: a DataFrame as its schema and first rows, an array as its shape,
dtype and a sample, anything else as a bounded ``repr``.  The server bounds
every item again (``ResumeChat.context_item_chars``).

References a string can make:

* ``"cell:3"`` / ``"In[3]"``: the cell whose prompt shows ``[3]``, its input
  and output;
* ``"error"``: the last error, with its traceback;
* ``"file:data.csv"``: a text file of the kernel's folder (the notebook's) or
  a folder below it, confined as the contents API confines files: a path that
  leads outside it (``..``, an absolute path, a symbolic link) or through a
  hidden name (``.env``, ``.ssh/``) is refused; read such a file in a cell and
  attach the variable instead;
* ``"var:df"``: a variable by name (a bare object is found by identity);
* anything else: attached as text.
"""

from __future__ import annotations

import inspect
import re
import reprlib
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..models import Context
from .shell import user_namespace

__all__ = ["ITEM_CHARS", "ContextError", "render", "render_all", "variables"]

ITEM_CHARS = 8_000
"""Characters per item, as the server's default ``context_item_chars``."""

ROWS = 5  # first rows of a table
MAX_COLUMNS = 60  # columns a schema lists
_CELL = re.compile(r"(?:cell:|In\[)\s*(\d+)\]?")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ContextError(ValueError):
    """A reference that names nothing (no such cell, variable or file)."""


def _namespace() -> dict[str, Any]:
    namespace = user_namespace()
    return dict(namespace) if namespace is not None else {}


def render(item: Any, *, namespace: Mapping[str, Any] | None = None, limit: int = ITEM_CHARS) -> Context:
    """One item as a ``Context``.  Raises ContextError for a reference that names nothing."""
    ns = _namespace() if namespace is None else namespace
    if isinstance(item, Context):
        found = item
    elif isinstance(item, str):
        found = _reference(item, ns, limit)
    else:
        found = Context("variable", _name_of(item, ns), describe(item, limit))
    return Context(found.kind, found.name[:200], found.content).bounded(limit)


def render_all(
    items: Iterable[Any], *, namespace: Mapping[str, Any] | None = None, limit: int = ITEM_CHARS
) -> tuple[list[Context], list[str]]:
    """Every item that can be rendered, and why each other one could not."""
    ns = _namespace() if namespace is None else namespace
    found, problems = [], []
    for item in items:
        try:
            found.append(render(item, namespace=ns, limit=limit))
        except ContextError as exc:
            problems.append(str(exc))
    return found, problems


def variables(namespace: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """The user's variables a mention can name: not private, not modules,
    functions or classes; with their type and a one-line summary."""
    ns = _namespace() if namespace is None else namespace
    hidden = {"In", "Out", "exit", "quit", "get_ipython", "open"}
    found = []
    for name, value in ns.items():
        try:
            if name.startswith("_") or name in hidden or _is_code(value):
                continue
        except Exception:  # an object whose type checks raise is still a variable
            pass
        found.append({"name": name, "type": type(value).__name__, "summary": _summary(value)})
    return found


def _is_code(value: Any) -> bool:
    """Modules, classes (whatever their metaclass) and functions: imports, not data."""
    return inspect.ismodule(value) or inspect.isclass(value) or inspect.isroutine(value)


def describe(value: Any, limit: int = ITEM_CHARS) -> str:
    """A value as a model can read it, within about ``limit`` characters."""
    module = type(value).__module__.split(".", 1)[0]
    kind = type(value).__name__
    try:
        if module == "pandas" and kind == "DataFrame":
            return _frame("pandas", value, lambda: value.dtypes.items(), lambda: value.head(ROWS).to_string())
        if module == "pandas" and kind == "Series":
            return f"pandas.Series {value.name!r}: {len(value)} values, dtype {value.dtype}\n{value.head(ROWS * 2).to_string()}"
        if module == "polars" and kind == "DataFrame":
            return _frame("polars", value, lambda: value.schema.items(), lambda: value.head(ROWS))
        if module == "numpy" and kind == "ndarray":
            return _array(value)
    except Exception as exc:  # a library whose rendering fails: say so, fall back to repr
        return f"{type(value).__qualname__} (could not be summarised: {exc})\n{_repr(value, limit)}"
    return f"{type(value).__module__}.{type(value).__qualname__}\n{_repr(value, limit)}"


def _reference(text: str, ns: Mapping[str, Any], limit: int) -> Context:
    stripped = text.strip()
    cell = _CELL.fullmatch(stripped)
    if cell:
        return _cell(int(cell.group(1)), ns)
    if stripped == "error":
        return _last_error()
    if stripped.startswith("file:"):
        return _file(stripped[5:].strip(), limit)
    if stripped.startswith("var:"):
        name = stripped[4:].strip()
        if name not in ns:
            raise ContextError(f"no variable named {name!r} in the kernel")
        return Context("variable", name, describe(ns[name], limit))
    return Context("text", "text", text)


def _cell(number: int, ns: Mapping[str, Any]) -> Context:
    inputs = ns.get("In") or []
    if not 0 < number < len(inputs):
        raise ContextError(
            f"no cell In [{number}] in this kernel (cells run so far: {max(len(inputs) - 1, 0)})"
        )
    text = f"In [{number}]:\n{inputs[number]}"
    outputs = ns.get("Out") or {}
    if number in outputs:
        text += f"\n\nOut [{number}]:\n{_repr(outputs[number], ITEM_CHARS)}"
    return Context("cell", f"In [{number}]", text)


def _last_error() -> Context:
    error = getattr(sys, "last_value", None)
    if error is None:
        raise ContextError("no error so far in this kernel")
    lines = traceback.format_exception(type(error), error, getattr(sys, "last_traceback", None))
    return Context("error", f"{type(error).__name__}: {error}"[:200], _ANSI.sub("", "".join(lines)))


def _file(name: str, limit: int) -> Context:
    path = _confined(name)
    if not name or not path.is_file():
        raise ContextError(f"no file {name!r} in {Path.cwd()}")
    try:
        with path.open("rb") as handle:
            head = handle.read(limit * 4 + 1)
        size = path.stat().st_size
    except OSError as exc:
        raise ContextError(f"{name!r} could not be read: {exc.strerror or exc}") from None
    if b"\x00" in head:
        raise ContextError(f"{name!r} is not a text file")
    text = head.decode("utf-8", "replace")
    if size > len(head):
        text += f"\n… (the file has {size} bytes)"
    return Context("file", name, text)


def _confined(name: str) -> Path:
    """``name`` inside the kernel's folder, resolved; ContextError when it leads
    outside it or through a hidden name (what the contents API would not show)."""
    root = Path.cwd().resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise ContextError(
            f"{name!r} is outside the notebook's folder {root}: only its files can be attached"
        )
    if any(part.startswith(".") for part in path.relative_to(root).parts):
        raise ContextError(f"{name!r} is a hidden file or folder: hidden files are not attached")
    return path


def _name_of(value: Any, ns: Mapping[str, Any]) -> str:
    for name, held in ns.items():
        if held is value and not name.startswith("_"):
            return name
    return type(value).__name__


def _summary(value: Any) -> str:
    """A shape or a length, where either is cheap: ``len()`` of a lazy frame (dask)
    would compute it, so only builtin containers are measured."""
    try:
        shape = getattr(value, "shape", None)
        if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
            return "×".join(str(n) for n in shape)
        if isinstance(value, (list, tuple, dict, set, frozenset)):
            return f"{len(value)} items"
    except Exception:  # a property that raises: no summary, still listed
        pass
    return ""


def _repr(value: Any, limit: int) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):  # reprlib would build the whole repr first
        head = bytes(value[:limit])
        return f"{type(value).__name__} of {len(value)} bytes: {head!r}"
    short = reprlib.Repr()
    short.maxstring = short.maxother = min(limit, 2_000)
    short.maxlist = short.maxtuple = short.maxset = short.maxdict = 30
    try:
        return short.repr(value)
    except Exception as exc:
        return f"<{type(value).__qualname__}: repr failed: {exc}>"


def _schema(columns: list[tuple[Any, Any]]) -> str:
    shown = "\n".join(f"  {name}: {dtype}" for name, dtype in columns[:MAX_COLUMNS])
    more = len(columns) - MAX_COLUMNS
    return shown + (f"\n  … and {more} more columns" if more > 0 else "")


def _frame(library: str, frame: Any, schema: Callable[[], Any], head: Callable[[], Any]) -> str:
    """A table of either library: its size, its columns' types, its first rows."""
    rows, columns = frame.shape
    return (
        f"{library}.DataFrame: {rows} rows × {columns} columns\ncolumns:\n{_schema(list(schema()))}\n\n"
        f"first {min(ROWS, rows)} rows:\n{head()}"
    )


def _array(array: Any) -> str:
    import numpy

    sample = numpy.array2string(array, threshold=60, edgeitems=3, max_line_width=100)
    return f"numpy.ndarray: shape {array.shape}, dtype {array.dtype}\n{sample}"

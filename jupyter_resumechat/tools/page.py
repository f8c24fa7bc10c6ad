"""The page tools: declared here, executed by the panel in the notebook it belongs to.

Cells are addressed by their stable nbformat cell ids, never by position. The
panel mirrors these names and schemas (``js/``); only the page of the notebook
a call belongs to may claim it.
"""

from __future__ import annotations

from .base import RunsOn, ToolSpec
from .policy import Effect

__all__ = ["PAGE_TOOLS"]

_CELL_ID = {"type": "string", "minLength": 1, "maxLength": 64, "description": "the cell's nbformat id"}
_SOURCE = {"type": "string", "maxLength": 200_000, "description": "the cell's whole source"}
_CELL_TYPE = {"type": "string", "enum": ["code", "markdown", "raw"]}


def _page(
    name: str, description: str, effect: Effect, properties: dict[str, object], required: list[str]
) -> ToolSpec:
    return ToolSpec.closed(name, description, effect, properties, required, RunsOn.PAGE)


PAGE_TOOLS: tuple[ToolSpec, ...] = (
    _page(
        "notebook_read",
        "Read the notebook: each cell's id, type, source and outputs (as bounded text).",
        Effect.READ,
        {"cell_ids": {"type": "array", "items": _CELL_ID, "maxItems": 500}},
        [],
    ),
    _page(
        "notebook_insert_cell",
        "Insert a new cell after the cell with id `after` (or at the top when `after` is omitted).",
        Effect.WRITE,
        {"after": _CELL_ID, "cell_type": _CELL_TYPE, "source": _SOURCE},
        ["source"],
    ),
    _page(
        "notebook_edit_cell",
        "Replace the whole source of the cell with id `cell_id`.",
        Effect.WRITE,
        {"cell_id": _CELL_ID, "source": _SOURCE},
        ["cell_id", "source"],
    ),
    _page(
        "notebook_delete_cell",
        "Delete the cell with id `cell_id`.",
        Effect.WRITE,
        {"cell_id": _CELL_ID},
        ["cell_id"],
    ),
    _page(
        "notebook_run_cell",
        "Run the code cell with id `cell_id` in the notebook's kernel; the result is its outputs or its error.",
        Effect.EXECUTE,
        {"cell_id": _CELL_ID},
        ["cell_id"],
    ),
    _page(
        "kernel_variables",
        "List the kernel's variables with their types and short previews.",
        Effect.READ,
        {"names": {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 100}},
        [],
    ),
)

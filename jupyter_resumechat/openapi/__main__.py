"""``python -m jupyter_resumechat.openapi [--check]``: write the OpenAPI document,
or with ``--check`` only say whether the checked-in one is current (exit 1 if not)."""

from __future__ import annotations

import sys

from . import DOCUMENT_PATH, render


def main(argv: list[str]) -> int:
    text = render()
    current = DOCUMENT_PATH.read_text(encoding="utf-8") if DOCUMENT_PATH.exists() else ""
    if "--check" in argv:
        if current != text:
            print(f"{DOCUMENT_PATH} is stale: run python -m jupyter_resumechat.openapi", file=sys.stderr)
            return 1
        return 0
    if current != text:
        DOCUMENT_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOCUMENT_PATH}")
    return 0


sys.exit(main(sys.argv[1:]))

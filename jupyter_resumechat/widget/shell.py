"""The kernel's IPython shell, typed once for the widget's modules.

IPython types ``get_ipython`` in some releases and not in others; this is the
one place that knows, so mypy's verdict does not depend on the day of install.
"""

from __future__ import annotations

from typing import Any

__all__ = ["user_namespace"]


def user_namespace() -> dict[str, Any] | None:
    """The running shell's namespace, or None outside IPython."""
    try:
        from IPython.core.getipython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return None
    shell: Any = get_ipython()  # type: ignore[no-untyped-call, unused-ignore]
    return shell.user_ns if shell is not None else None  # type: ignore[no-any-return, unused-ignore]

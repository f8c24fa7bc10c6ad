"""ChatPanel: the notebook chat widget (anywidget; its view talks to the server itself)."""

from .panel import ChatPanel

__all__ = ["ChatPanel"]

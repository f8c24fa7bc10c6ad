"""The REST and event-stream handlers of docs/protocol.md#api, one module per resource.

Handlers are thin (parse, one call to the JobManager, serialise); errors
become HTTP in one place (``base.ResumeChatHandler.write_error``).
``routes`` is the table the app registers under ``resumechat/api/``.
"""

from __future__ import annotations

from .base import ResumeChatHandler
from .conversations import ConversationHandler, ConversationsHandler
from .events import EventStreamHandler, MultiplexHandler
from .messages import MessagesHandler
from .service import HealthHandler, ModelsHandler, OpenAPIHandler
from .streams import StreamAbortHandler, StreamStatusHandler
from .tools import ToolCallHandler, ToolsHandler

__all__ = [
    "ConversationHandler",
    "ConversationsHandler",
    "EventStreamHandler",
    "HealthHandler",
    "MessagesHandler",
    "ModelsHandler",
    "MultiplexHandler",
    "OpenAPIHandler",
    "ResumeChatHandler",
    "StreamAbortHandler",
    "StreamStatusHandler",
    "ToolCallHandler",
    "ToolsHandler",
    "routes",
]


def routes() -> list[tuple[str, type[ResumeChatHandler]]]:
    """(path under the API, handler) for every endpoint."""
    return [
        ("conversations", ConversationsHandler),
        ("conversations/([^/]+)", ConversationHandler),
        ("conversations/([^/]+)/messages", MessagesHandler),
        ("conversations/([^/]+)/stream", StreamStatusHandler),
        ("streams/events", MultiplexHandler),
        ("streams/([^/]+)/events", EventStreamHandler),
        ("streams/([^/]+)/abort", StreamAbortHandler),
        ("streams/([^/]+)/tools/([^/]+)/(decision|claim|result)", ToolCallHandler),
        ("tools", ToolsHandler),
        ("models", ModelsHandler),
        ("health", HealthHandler),
        ("openapi.json", OpenAPIHandler),
    ]

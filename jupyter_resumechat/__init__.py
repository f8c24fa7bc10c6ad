"""jupyter-resumechat: a language-model chat inside Jupyter that never loses a word."""

from .client import Client, StreamEvent, SyncClient
from .errors import (
    ConnectionFailed,
    DiscoveryError,
    GenerationActive,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderTimeout,
    ResumeChatError,
    ServerError,
    TooLarge,
    TooManyGenerations,
    Unavailable,
)
from .models import (
    Conversation,
    Event,
    EventKind,
    Message,
    MessageStatus,
    ModelInfo,
    Models,
    Role,
    SendResult,
    StreamStatus,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``ChatPanel`` imports ipywidgets/anywidget only when asked for."""
    if name == "ChatPanel":
        from .widget import ChatPanel

        return ChatPanel
    raise AttributeError(name)


__all__ = [
    "ChatPanel",
    "Client",
    "ConnectionFailed",
    "Conversation",
    "DiscoveryError",
    "Event",
    "EventKind",
    "GenerationActive",
    "InvalidRequest",
    "Message",
    "MessageStatus",
    "ModelInfo",
    "Models",
    "NotFound",
    "ProviderError",
    "ProviderTimeout",
    "ResumeChatError",
    "Role",
    "SendResult",
    "ServerError",
    "StreamEvent",
    "StreamStatus",
    "SyncClient",
    "TooLarge",
    "TooManyGenerations",
    "Unavailable",
    "__version__",
]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import ResumeChat

    return [{"module": "jupyter_resumechat", "app": ResumeChat}]

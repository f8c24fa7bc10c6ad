"""The Python client of jupyter-resumechat: async ``Client``, blocking ``SyncClient``."""

from ..eventstream import Reply, StreamEvent, decode_event
from .api import Client, ModelInfo, Models, SendResult, raise_for_error
from .discovery import ServerInfo, discover, find_server
from .sync import SyncClient

__all__ = [
    "Client",
    "ModelInfo",
    "Models",
    "Reply",
    "SendResult",
    "ServerInfo",
    "StreamEvent",
    "SyncClient",
    "decode_event",
    "discover",
    "find_server",
    "raise_for_error",
]

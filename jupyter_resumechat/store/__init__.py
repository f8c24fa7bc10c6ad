"""Durable conversations and messages on SQLAlchemy (SQLite or PostgreSQL)."""

from .instances import Instances, LapsedReply
from .messages import Commit, CommitResult, MessageStore, NewTurn, Restart, new_id
from .spool import Spool, SpooledFinal
from .url import async_url
from .versions import SchemaState, Versions

__all__ = [
    "Commit",
    "CommitResult",
    "Instances",
    "LapsedReply",
    "MessageStore",
    "NewTurn",
    "Restart",
    "SchemaState",
    "Spool",
    "SpooledFinal",
    "Versions",
    "async_url",
    "new_id",
]

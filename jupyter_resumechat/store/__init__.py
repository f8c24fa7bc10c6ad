"""Durable conversations and messages on SQLAlchemy (SQLite or PostgreSQL)."""

from .instances import Instances, LapsedReply
from .messages import (
    CallRow,
    Commit,
    CommitResult,
    MessageStore,
    NewCall,
    NewTurn,
    ParkedRun,
    Restart,
    new_id,
    waiting_for,
)
from .spool import Spool, SpooledFinal
from .url import async_url
from .versions import SchemaState, Versions

__all__ = [
    "CallRow",
    "Commit",
    "CommitResult",
    "Instances",
    "LapsedReply",
    "MessageStore",
    "NewCall",
    "NewTurn",
    "ParkedRun",
    "Restart",
    "SchemaState",
    "Spool",
    "SpooledFinal",
    "Versions",
    "async_url",
    "new_id",
    "waiting_for",
]

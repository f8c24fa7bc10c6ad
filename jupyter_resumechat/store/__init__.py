"""Durable conversations and messages on SQLAlchemy (SQLite or PostgreSQL)."""

from .messages import Commit, CommitResult, LapsedReply, MessageStore, NewTurn, new_id
from .spool import Spool, SpooledFinal

__all__ = [
    "Commit",
    "CommitResult",
    "LapsedReply",
    "MessageStore",
    "NewTurn",
    "Spool",
    "SpooledFinal",
    "new_id",
]

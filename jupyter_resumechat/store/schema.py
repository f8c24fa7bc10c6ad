"""Tables of the message store, and the schema version they make.

Portable SQLAlchemy Core: the same definitions serve SQLite and PostgreSQL.
Every index serves a query of ``messages.py``: conversations listed by
``updated_at``, found by ``(owner, key)``; messages read in order per
conversation, found by ``client_id`` (idempotent sends), by ``status``
(start-up recovery) and by ``stream_id`` (abort of a finished stream).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["SCHEMA_VERSION", "conversations", "messages", "metadata", "schema_version"]

SCHEMA_VERSION = 1

metadata = MetaData()

schema_version = Table(
    "resumechat_schema",
    metadata,
    Column("version", Integer, nullable=False),
)

conversations = Table(
    "resumechat_conversations",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner", String(255), nullable=False, default=""),
    Column("key", String(1024), nullable=True),
    Column("title", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_resumechat_conversations_owner_key", "owner", "key", unique=True),
    Index("ix_resumechat_conversations_owner_updated", "owner", "updated_at"),
)

messages = Table(
    "resumechat_messages",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "conversation_id",
        String(64),
        ForeignKey("resumechat_conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False, default=""),
    Column("reasoning", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("model", String(255), nullable=True),
    Column("error_type", String(64), nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("client_id", String(255), nullable=True),
    Column("stream_id", String(64), nullable=True),
    Column("reply_to", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_resumechat_messages_conversation", "conversation_id", "pk"),
    Index("ix_resumechat_messages_client", "conversation_id", "client_id", unique=True),
    Index("ix_resumechat_messages_status", "status"),
    Index("ix_resumechat_messages_stream", "stream_id"),
)

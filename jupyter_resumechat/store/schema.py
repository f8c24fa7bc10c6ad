"""Tables of the message store, and the schema version they make.

Portable SQLAlchemy Core: the same definitions serve SQLite and PostgreSQL.
Every index serves a query of ``messages.py``: conversations listed by
``updated_at``, found by ``(owner, key)``; messages read in order per
conversation, found by ``client_id`` (idempotent sends), by ``status``
(recovery) and by ``stream_id`` (abort of a finished stream).

Version 2 adds what was attached to a user message and what a reply cost
(``messages.context``, ``messages.usage``, JSON), who runs each streaming
reply (``messages.owner_instance``),
the servers' heartbeats (``resumechat_instances``) and a partial unique index
that allows one ``streaming`` reply per conversation across every server
sharing the database (docs/protocol.md#bounded-loss, #one-generation).  Version 3 adds the context window
each reply was generated in (``messages.context_window``, JSON).  Version 4
records which schema version each server runs (``resumechat_instances.version``;
NULL: version 3 or older) and which versions may share the database
(``resumechat_schema.readable_by``, see ``versions.py``).  Version 5 adds agent
runs: the tool calls of a reply (``resumechat_tool_calls``, one row a call,
each move a conditional UPDATE), which tools a reply may call
(``messages.tools``), where a run that waits is parked (``messages.waiting``,
``messages.parked_at``: a parked run has no task, only these rows) and the
tools a conversation approved for good (``conversations.always_tools``).
Version 4 servers keep reading and writing it; a run with tools starts only
once no version 4 server is live (``Versions.oldest_live``), since one would
take a parked run for a lapsed reply.

A change is expand-then-contract (docs/protocol.md#upgrades): a version only adds (a
nullable column, a table, an index built without a long lock), so servers of
the previous version go on reading and writing it during a rolling upgrade,
and ``READABLE_BY`` says so; a new kind of data is written only once
``Versions.oldest_live`` says no older server remains; what older servers
needed is dropped only in a later version, whose ``READABLE_BY`` then moves up.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

__all__ = [
    "MIGRATIONS",
    "READABLE_BY",
    "SCHEMA_VERSION",
    "conversations",
    "instances",
    "messages",
    "metadata",
    "schema_version",
    "tool_calls",
]

SCHEMA_VERSION = 5

# version -> the oldest schema version whose servers still use it correctly
# (3 reads and writes version 4 unchanged: 4 only adds two nullable columns;
# 4 reads and writes version 5's messages: 5 adds nullable columns and a table)
READABLE_BY: dict[int, int] = {4: 3, 5: 4}

metadata = MetaData()

schema_version = Table(
    "resumechat_schema",
    metadata,
    Column("version", Integer, nullable=False),
    Column("readable_by", Integer, nullable=True),  # NULL: only servers of ``version``
)

conversations = Table(
    "resumechat_conversations",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner", String(255), nullable=False, default=""),
    Column("key", String(1024), nullable=True),
    Column("title", Text, nullable=False, default=""),
    Column("always_tools", Text, nullable=True),  # JSON list: approved for good in this conversation
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_resumechat_conversations_owner_key", "owner", "key", unique=True),
    Index("ix_resumechat_conversations_owner_updated", "owner", "updated_at"),
)

_STREAMING = text("status = 'streaming'")

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
    Column("owner_instance", String(64), nullable=True),
    Column("context", Text, nullable=True),  # JSON list of Context, user messages
    Column("usage", Text, nullable=True),  # JSON Usage, assistant messages
    Column("context_window", Text, nullable=True),  # JSON Window, assistant messages
    Column("tools", Text, nullable=True),  # JSON: the tool names this reply may call; NULL: none
    Column("waiting", String(16), nullable=True),  # parked run: "approval" | "page"; NULL: not parked
    Column("parked_at", Float, nullable=True),  # when it parked, the database's clock (seconds)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_resumechat_messages_conversation", "conversation_id", "pk"),
    Index("ix_resumechat_messages_client", "conversation_id", "client_id", unique=True),
    Index("ix_resumechat_messages_status", "status"),
    Index("ix_resumechat_messages_stream", "stream_id"),
    Index(
        "ux_resumechat_messages_one_streaming",
        "conversation_id",
        unique=True,
        sqlite_where=_STREAMING,
        postgresql_where=_STREAMING,
    ),
)

instances = Table(
    "resumechat_instances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False, default=""),
    Column("pid", Integer, nullable=False, default=0),
    Column("started_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False),  # seconds since the epoch, the database's clock
    Column("version", Integer, nullable=True),  # the schema version it runs; NULL: 3 or older
)

tool_calls = Table(
    "resumechat_tool_calls",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "message_id",
        String(64),
        ForeignKey("resumechat_messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("conversation_id", String(64), nullable=False),
    Column("round", Integer, nullable=False),  # which model call of the run proposed it
    Column("text_offset", Integer, nullable=False),  # len(content) when it was proposed: its place
    Column("provider_id", String(255), nullable=False),  # the model's own id for it
    Column("name", String(255), nullable=False),
    Column("arguments", Text, nullable=False),  # JSON object (or the model's text when it was not one)
    Column("runs_on", String(8), nullable=False),
    Column("effect", String(8), nullable=False),
    Column("status", String(24), nullable=False),
    Column("decision", String(8), nullable=True),
    Column("decision_note", Text, nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("claimed_by", String(255), nullable=True),
    Column("claim_until", Float, nullable=True),  # the database's clock, seconds
    Column("executor", String(64), nullable=True),  # the instance that ran a server call
    Column("result", Text, nullable=True),
    Column("result_truncated", Integer, nullable=True),
    Column("error_type", String(64), nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_resumechat_tool_calls_message", "message_id", "pk"),
    Index("ix_resumechat_tool_calls_status", "status"),
)

# version -> statements that bring version - 1 up to it (version 1 is create_all).
# New tables come from create_all, which runs first; these change existing ones.
MIGRATIONS: dict[int, list[str]] = {
    2: [
        "ALTER TABLE resumechat_messages ADD COLUMN owner_instance VARCHAR(64)",
        "ALTER TABLE resumechat_messages ADD COLUMN context TEXT",
        "ALTER TABLE resumechat_messages ADD COLUMN usage TEXT",
        # replies of version-1 servers have no owner to wait for (upgrade with them stopped)
        "UPDATE resumechat_messages SET status = 'interrupted' WHERE status = 'streaming'",
        "CREATE UNIQUE INDEX IF NOT EXISTS ux_resumechat_messages_one_streaming "
        "ON resumechat_messages (conversation_id) WHERE status = 'streaming'",
    ],
    3: ["ALTER TABLE resumechat_messages ADD COLUMN context_window TEXT"],
    # nullable, no default: PostgreSQL and SQLite change only the catalogue, no rewrite
    4: [
        "ALTER TABLE resumechat_instances ADD COLUMN version INTEGER",
        "ALTER TABLE resumechat_schema ADD COLUMN readable_by INTEGER",
    ],
    5: [
        "ALTER TABLE resumechat_messages ADD COLUMN tools TEXT",
        "ALTER TABLE resumechat_messages ADD COLUMN waiting VARCHAR(16)",
        "ALTER TABLE resumechat_messages ADD COLUMN parked_at FLOAT",
        "ALTER TABLE resumechat_conversations ADD COLUMN always_tools TEXT",
    ],
}

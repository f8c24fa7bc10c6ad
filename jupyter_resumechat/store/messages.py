"""MessageStore: conversations and messages, durable, on SQLAlchemy 2 async.

Guarantees: every method that returns has committed its writes; messages of
a conversation come back oldest first in insertion order; ``owner=None``
means "do not filter by owner" (single-user servers).  Raises ``NotFound``
for unknown ids and for ids that belong to another owner, ``Unavailable``
when the database cannot be reached or refuses to write (down, disk full,
read-only), never a driver's own exception.

Every streaming reply records the server instance that runs it (leases and
recovery: ``instances.py``).  Writes of a reply's text are fenced by that
owner: a server that lost a reply writes nothing to it.

The store is one object made of five parts, one concept each:
``conversations.py`` (create, list, rename, delete), ``turns.py`` (a user
message and its reply, and the lookups), ``steps.py`` (what happens to a
reply afterwards: restart, checkpoints), ``endings.py`` (every write that
ends a reply: the final commit, the recovery of a lapsed one, the end of its
open calls), ``calls.py`` (the tool calls of agent runs; ``decisions.py``:
the steps people and pages take) and ``parking.py`` (runs that wait).
"""

from __future__ import annotations

from .calls import CallRow, NewCall, waiting_for
from .conversations import ConversationQueries
from .decisions import CallDecisions
from .endings import Commit, CommitResult, ReplyEndings
from .engine import guarded, make_engine
from .instances import Instances
from .parking import ParkedRun, ParkedRuns
from .rows import new_id
from .setup import prepare_schema
from .steps import ReplySteps, Restart
from .turns import NewTurn
from .versions import Versions

__all__ = [
    "CallRow",
    "Commit",
    "CommitResult",
    "MessageStore",
    "NewCall",
    "NewTurn",
    "ParkedRun",
    "Restart",
    "new_id",
    "waiting_for",
]


class MessageStore(ConversationQueries, CallDecisions, ReplyEndings, ParkedRuns, ReplySteps):
    """Conversations and messages in a SQL database (see module docstring)."""

    def __init__(self, url: str, echo: bool = False, *, instance_id: str | None = None) -> None:
        self.url = url
        self.instance_id = instance_id or new_id()
        self.engine = make_engine(url, echo)
        self.instances = Instances(self.engine, self.instance_id)
        self.versions = Versions(self.engine)

    @property
    def backend(self) -> str:
        """The database's dialect name (``sqlite``, ``postgresql``)."""
        return self.engine.dialect.name

    @guarded
    async def start(self, lease: float = 10.0) -> None:
        """Create or upgrade the schema (or refuse one too new) and register this
        instance with a lease."""
        await prepare_schema(self.engine)
        await self.versions.check()
        await self.instances.register(lease)

    async def close(self) -> None:
        await self.engine.dispose()

"""Starting generations, for the JobManager: send, regenerate, continue.

Each start opens the stream, stores the turn (a new one, or the latest reply
restarted) and spawns the job; the job's task is kept in the ``JobTable``.
Part of ``JobManager`` (``manager.py``); no HTTP and no SQL here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..errors import InvalidRequest, TooLarge, TooManyGenerations, Unavailable
from ..models import Context, Conversation, Message, ModelInfo, SendResult, utcnow
from ..providers import Provider
from ..store import NewTurn, Restart, new_id
from ..store.schema import SCHEMA_VERSION
from ..streams import StreamInfo
from ..tools import ToolBox
from .conversations import ConversationAccess
from .job import Job, JobState, RunState
from .runner import JobRunner
from .table import JobTable
from .text import title_from
from .window import budget_for

__all__ = ["TOOLS_VERSION", "Opening", "Starts"]

TOOLS_VERSION = 5  # the schema version from which every live server knows parked runs

log = logging.getLogger("jupyter_resumechat.jobs")


@dataclass(frozen=True)
class Opening:
    """What a start found under the conversation's lock: go on unless ``earlier``."""

    conversation: Conversation
    earlier: SendResult | None  # the answer a retried request already got


class Starts(ConversationAccess):
    """Starts replies: one job each, owned by this server."""

    provider: Provider
    runner: JobRunner
    toolbox: ToolBox
    jobs: JobTable
    _stopping: bool

    def models(self) -> list[ModelInfo]:
        """The provider's models, each with the token budget its conversations are fitted into."""
        budgets = self.settings.context_tokens
        return [
            dataclasses.replace(m, context_tokens=budget_for(m.id, budgets)) for m in self.provider.models()
        ]

    async def send(
        self,
        user: str,
        conversation_id: str,
        content: str,
        model: str | None = None,
        client_id: str | None = None,
        context: Sequence[Context] = (),
        tools: str | Sequence[str] | None = None,
    ) -> SendResult:
        """Store the user's message (with what is attached) and start the reply,
        which may call ``tools`` (``"all"`` or names; docs/protocol.md#agent-runs).

        The same ``client_id`` again returns the first answer and starts nothing.
        Raises NotFound, TooLarge, GenerationActive (409), TooManyGenerations or
        Unavailable.
        """
        limit = self.settings.context_item_chars
        context = [c.bounded(limit) for c in context]
        size = len(content) + sum(len(c.content) for c in context)
        if size > self.settings.max_message_chars:
            raise TooLarge(
                f"the message and its context have {size} characters; "
                f"the limit is {self.settings.max_message_chars}"
            )
        if not content.strip():
            raise InvalidRequest("'content' must not be empty")
        model = self._known_model(model)
        selection = await self.tool_selection(tools)
        async with self._opening(user, conversation_id, client_id) as opening:
            if opening.earlier is not None:
                return opening.earlier
            turn = NewTurn(
                conversation_id,
                content,
                model,
                client_id,
                stream_id=new_id(),
                user_message_id=new_id(),
                assistant_message_id=new_id(),
                context=tuple(context),
                title="" if opening.conversation.title else title_from(content),
                tools=selection,
            )
            return await self._begin(user, turn)

    async def tool_selection(self, tools: str | Sequence[str] | None) -> tuple[str, ...] | None:
        """A send's ``tools`` checked: None (a plain reply), every tool, or known names.

        A run with tools starts only once every live server knows parked runs
        (a server of schema 4 would take one for a lapsed reply): 503 before."""
        if tools is None or tools == "none" or (not isinstance(tools, str) and not tools):
            return None
        if tools == "all":
            selection: tuple[str, ...] = ("*",)
        elif isinstance(tools, str):
            raise InvalidRequest('\'tools\' must be "none", "all" or a list of tool names')
        else:
            known = await self.toolbox.names()
            unknown = sorted(set(tools) - known)
            if unknown:
                raise InvalidRequest(f"unknown tool(s): {', '.join(unknown)}; GET tools lists them")
            selection = tuple(dict.fromkeys(tools))
        oldest = await self.messages.versions.oldest_live()
        if oldest is not None and oldest < TOOLS_VERSION:
            raise Unavailable(
                f"a server of schema version {oldest} shares this database; runs with tools need every "
                f"server on version {TOOLS_VERSION} or newer ({SCHEMA_VERSION} here): finish the upgrade"
            )
        return selection

    async def regenerate(
        self,
        user: str,
        conversation_id: str,
        message_id: str,
        model: str | None = None,
        client_id: str | None = None,
        *,
        keep_text: bool = False,
    ) -> SendResult:
        """Generate the latest reply again in place: replaced, or with ``keep_text``
        continued from where it stopped.  No user turn is added (docs/protocol.md#send).

        Raises NotFound, InvalidRequest (not the latest reply), GenerationActive,
        TooManyGenerations or Unavailable.
        """
        async with self._opening(user, conversation_id, client_id) as opening:
            if opening.earlier is not None:
                return opening.earlier
            restart = Restart(
                conversation_id, message_id, self._known_model(model), client_id, new_id(), keep_text
            )
            return await self._begin_again(user, restart)

    @contextlib.asynccontextmanager
    async def _opening(
        self, user: str, conversation_id: str, client_id: str | None
    ) -> AsyncIterator[Opening]:
        """The prologue of every start, held until the job is spawned: the
        conversation's lock, the conversation (NotFound), the answer an earlier
        request with ``client_id`` got (then nothing starts), else the cap."""
        async with self._lock(conversation_id):
            conversation = await self.messages.get_conversation(self._owner(user), conversation_id)
            earlier = await self._earlier(conversation_id, client_id)
            if earlier is None:
                self._check_cap(user)
            yield Opening(conversation, earlier)

    def _known_model(self, model: str | None) -> str:
        model = model or self.provider.default_model
        if model not in {m.id for m in self.provider.models()}:
            raise InvalidRequest(f"unknown model {model!r}; GET models lists them")
        return model

    async def _earlier(self, conversation_id: str, client_id: str | None) -> SendResult | None:
        """The answer an earlier request with this ``client_id`` got (retries are safe)."""
        if client_id is None:
            return None
        earlier = await self.messages.find_turn(conversation_id, client_id)
        return None if earlier is None else SendResult(*earlier)

    def _check_cap(self, user: str) -> None:
        cap = self.settings.max_active_per_user
        if self._stopping:
            raise TooManyGenerations("the server is shutting down")
        if cap and self.jobs.count_for(user) >= cap:
            raise TooManyGenerations(f"{cap} generation(s) are already running for this user")

    async def _begin(self, user: str, turn: NewTurn) -> SendResult:
        info = StreamInfo(
            turn.stream_id, turn.conversation_id, turn.assistant_message_id, started_at=utcnow(), owner=user
        )
        return await self._start(info, functools.partial(self.messages.add_turn, turn), tools=turn.tools)

    async def _begin_again(self, user: str, restart: Restart) -> SendResult:
        info = StreamInfo(
            restart.stream_id, restart.conversation_id, restart.message_id, started_at=utcnow(), owner=user
        )
        tools = await self.messages.tools_of(restart.message_id)
        return await self._start(
            info,
            functools.partial(self.messages.restart_reply, restart),
            continued=restart.keep_text,
            tools=tools,
        )

    async def _start(
        self,
        info: StreamInfo,
        store: Callable[[], Awaitable[tuple[Message, Message]]],
        *,
        continued: bool = False,
        tools: Sequence[str] | None = None,
    ) -> SendResult:
        """Open the stream, store the turn, start the job; the stream is dropped
        again if the database refuses the turn."""
        await self.streams.open(info)
        try:
            user_message, reply = await store()
        except BaseException:
            with contextlib.suppress(Unavailable):
                await self.streams.expire(info.stream_id)
            raise
        job = Job(info, reply, last_progress=asyncio.get_running_loop().time())
        if tools is not None:
            job.run = RunState(list(tools))
        if continued:
            job.start_from(reply.content, reply.reasoning)
        self._spawn(job, self.runner.run(job))
        return SendResult(user_message, reply, info.stream_id)

    def _spawn(self, job: Job, work: object) -> None:
        self.jobs.add(job)
        job.task = asyncio.create_task(work, name=f"resumechat-job-{job.stream_id}")  # type: ignore[arg-type]
        job.task.add_done_callback(lambda _: self._forget(job))  # even if it never ran

    def _forget(self, job: Job) -> None:
        if job.task is not None and not job.task.cancelled() and job.task.exception() is not None:
            log.error("resumechat: job %s ended by an error", job.stream_id, exc_info=job.task.exception())
        self.jobs.remove(job)
        job.state = JobState.DONE
        job.done.set()

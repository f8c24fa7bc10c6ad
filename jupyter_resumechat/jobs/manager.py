"""JobManager: runs every generation as a job of its own, owned by no request.

A job streams the model's reply into the StreamStore (which numbers, keeps
and fans out the events) and into the MessageStore (checkpoints, then the
final message); ``JobRunner`` runs it.  Every ending, local or adopted from a
dead server, goes through ``Concluder.conclude``; who ends a job is drawn in
ARCHITECTURE.md.

No HTTP and no SQL here: handlers call this, this calls the stores and the
provider.  The manager owns every task: the jobs' (in its ``JobTable``) and
the long-lived loops of its parts (in its ``TaskGroup``), and awaits them in
``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Mapping

from ..errors import NotFound, Unavailable
from ..models import EventKind, Message, MessageStatus, StreamStatus
from ..providers import Provider
from ..store import MessageStore, Spool
from ..streams import StreamInfo, StreamStore
from ..tools import CallStatus, ToolBox
from .agent import Agent
from .conclusion import Concluder
from .fanout import FanOut
from .job import Ending, Job, JobSettings, JobState, RunState, Subscription
from .multiplex import Multiplex, multiplex
from .recovery import Recovery
from .runner import JobRunner
from .starts import Starts
from .supervisor import Supervisor
from .table import JobTable
from .tasks import TaskGroup
from .toolruns import ToolRuns

__all__ = ["JobManager"]

log = logging.getLogger("jupyter_resumechat.jobs")


class JobManager(Starts, ToolRuns):
    """Starts, feeds, aborts and concludes generation jobs.

    Its parts, one concept each: the conversations a user sees
    (``conversations.py``), the starts of replies (``starts.py``) and the
    tool side of runs: decisions, claims, results, parked runs (``toolruns.py``).
    """

    def __init__(
        self,
        streams: StreamStore,
        messages: MessageStore,
        provider: Provider,
        settings: JobSettings,
        on_activity: Callable[[], None] | None = None,
        toolbox: ToolBox | None = None,
    ) -> None:
        self.streams = streams
        self.messages = messages
        self.provider = provider
        self.settings = settings
        self.toolbox = toolbox or ToolBox()
        self.jobs = JobTable()
        self.spool = Spool(settings.spool_dir) if settings.spool_dir is not None else None
        self.concluder = Concluder(messages, streams, settings.stream_ttl, settings.redact)
        self.agent = Agent(self.toolbox, messages, streams, settings, self.concluder.pause)
        self.recovery = Recovery(messages, streams, self.spool)
        self.runner = JobRunner(
            streams, messages, provider, self.concluder, self.spool, self.agent, settings.context_tokens
        )
        self.supervisor = Supervisor(
            self.jobs,
            streams,
            messages,
            self.recovery,
            settings,
            adopt=self._adopt,
            on_activity=on_activity,
            sweep_parked=self.sweep_parked,
        )
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.fanout = FanOut(streams)
        self.tasks = TaskGroup()  # every long-lived task of this server: started, kept, awaited
        self._started: asyncio.Future[None] | None = None
        self._stopping = False

    # lifecycle

    async def start(self) -> None:
        """Prepare the database and recover what others left; idempotent, and
        retried by the next caller when the database was unreachable."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                await self.messages.start(self.settings.owner_lease)
                try:
                    await self.recovery.run()
                    await self.reopen_parked()
                except Unavailable as exc:  # Redis down: history still answers; the supervisor retries
                    log.warning("resumechat: recovery postponed: %s", exc.detail)
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started.exception()  # retrieved: later callers retry instead
                self._started = None
                raise
            self.streams.on_abort(self._abort_requested)
            mcp = [connection.loop() for connection in self.toolbox.mcp.values()]
            for loop in (self.supervisor.loop(), *self.streams.loops(), *mcp):
                self.tasks.start(loop)
            self._started.set_result(None)
        await asyncio.shield(self._started)

    async def stop(self) -> None:
        """Interrupt every job and commit it with all its text; what the database
        cannot take within ``stop_timeout`` goes to the spool.  Then close the stores."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.stop_timeout
        while len(self.jobs):  # again and again: a send or an adoption may add one meanwhile
            jobs = list(self.jobs)
            for job in jobs:
                job.stop(MessageStatus.INTERRUPTED)
            waits = [asyncio.ensure_future(job.done.wait()) for job in jobs]
            _, pending = await asyncio.wait(waits, timeout=max(0.1, deadline - loop.time()))
            if pending:
                self.concluder.give_up.set()  # the rest spool their finals and end
                _, pending = await asyncio.wait(pending, timeout=self.settings.stop_timeout)
                for wait in pending:
                    wait.cancel()
                if pending:
                    log.error("resumechat: %d job(s) did not end at stop", len(pending))
                    break
        # the supervisor's last checkpoint, the store's queued appends: then they end
        await self.tasks.stop(timeout=5 + 2 * self.settings.checkpoint_interval)
        if self._started is not None and self._started.done():
            with contextlib.suppress(Unavailable):
                await self.messages.instances.retire()
        await self.provider.close()
        await self.fanout.stop()
        await self.streams.close()
        await self.messages.close()

    @property
    def stopping(self) -> bool:
        """True once ``stop`` began: no new jobs."""
        return self._stopping

    @property
    def active_jobs(self) -> int:
        """How many generations run in this server now."""
        return len(self.jobs)

    @property
    def readers(self) -> int:
        """How many event-stream readers this server holds open now."""
        return self.fanout.total()

    def subscriber_count(self, stream_id: str) -> int:
        """How many readers hold ``stream_id`` open now."""
        return self.fanout.readers(stream_id)

    async def delete_conversation(self, user: str, conversation_id: str) -> None:
        """Abort the conversation's active generation, then delete it all.

        Under the conversation's lock, so a send racing this either starts
        first (and is aborted here) or finds the conversation gone.
        """
        async with self._lock(conversation_id):
            await self.messages.get_conversation(self._owner(user), conversation_id)
            active = await self.streams.active(conversation_id)
            if active is not None:
                await self.abort(user, active.stream_id)
                await self.streams.expire(active.stream_id)
            await self.messages.delete_conversation(self._owner(user), conversation_id)

    def _adopt(self, ending: Ending) -> None:
        """The supervisor found a dead server's reply: conclude it here, as a job; a call
        it was running ends ``unknown``, one not started ``cancelled`` (docs/protocol.md#agent-runs)."""
        job = Job(ending.info, ending.message, state=JobState.CONCLUDING)
        job.run = RunState([])

        async def conclude() -> None:
            with contextlib.suppress(Unavailable):
                await self.agent.load(job)
            # the database still names the dead server as the owner: not fenced by ownership
            await self.agent.end_calls(job, CallStatus.CANCELLED, CallStatus.UNKNOWN, fenced=False)
            message = ending.message
            if job.run is not None and job.run.calls:
                message = message.replace(parts=job.run.parts(message.content, message.reasoning))
            await self.runner.conclude(job, dataclasses.replace(ending, message=message))

        self._spawn(job, conclude())

    async def status(self, user: str, conversation_id: str) -> StreamStatus:
        """The conversation's active stream; inactive for unknown or others' ones."""
        info = await self.streams.active(conversation_id)
        if info is None or not self._visible(user, info):
            return StreamStatus(active=False)
        awaiting = None
        if self.jobs.get(info.stream_id) is None:  # a run with no job here may be parked
            parked = await self.messages.parked_runs(info.message_id)
            awaiting = parked[0].waiting if parked else None
        return StreamStatus(
            True, info.stream_id, info.message_id, info.last_event_id, info.started_at, awaiting
        )

    def _visible(self, user: str, info: StreamInfo) -> bool:
        return not self.settings.isolate_users or info.owner == user

    @contextlib.asynccontextmanager
    async def subscribe(self, user: str, stream_id: str) -> AsyncIterator[Subscription]:
        """A reader of ``stream_id``; raises NotFound before yielding."""
        info = await self.streams.info(stream_id)
        if not self._visible(user, info):
            raise NotFound(f"stream {stream_id!r} is unknown or has expired")
        feed = self.fanout.join(stream_id)
        try:
            yield Subscription(feed)
        finally:
            self.fanout.leave(feed)

    def subscribe_many(
        self, user: str, positions: Mapping[str, int | None], timeout: float
    ) -> contextlib.AbstractAsyncContextManager[Multiplex]:
        """Readers of several streams merged for one connection (``jobs/multiplex.py``),
        each read as ``subscribe`` reads it; a stream unknown to ``user`` ends alone."""
        return multiplex(functools.partial(self.subscribe, user), positions, timeout)

    async def abort(self, user: str, stream_id: str) -> Message:
        """Stop the generation, keep its partial text, return the committed message.

        The job may run on another server (shared stores): the abort is then
        sent to its owner, and this waits for the stream's final.
        """
        job = self.jobs.get(stream_id)
        if job is not None and self._visible(user, job.info):
            job.stop(MessageStatus.ABORTED)
            await asyncio.shield(job.done.wait())
            if job.final is not None:
                return job.final
        info = await self.streams.info(stream_id)
        if not self._visible(user, info):
            raise NotFound(f"stream {stream_id!r} is unknown or has expired")
        if not info.finished and self.jobs.get(stream_id) is None:
            parked = await self.messages.parked_runs(info.message_id)
            if parked:  # a run that waits has no job anywhere: end it here
                final = await self.end_parked(info.message_id, MessageStatus.ABORTED)
                if final is not None:
                    return final
            await self.streams.request_abort(stream_id)
        final = await self._final_of(stream_id)
        if final is not None:
            return final
        message = await self.messages.message_for_stream(stream_id)
        if message is None:
            raise NotFound(f"stream {stream_id!r} has no message")
        return message

    async def _final_of(self, stream_id: str) -> Message | None:
        """Read the stream to its final (bounded by the owner's lease)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.owner_lease + self.settings.provider_timeout
        feed = self.fanout.join(stream_id)
        try:
            async with contextlib.aclosing(Subscription(feed).follow(None, 1.0)) as batches:
                async for batch in batches:
                    if batch.events and batch.events[-1].kind is EventKind.FINAL:
                        return Message.from_json(batch.events[-1].data["message"])
                    if loop.time() >= deadline:
                        return None
                    if not batch.events and not batch.done and self.jobs.get(stream_id) is None:
                        # asked again: a run continued elsewhere after the first request (a parked
                        # run that another server's decision took) had no job to hear it then
                        await self.streams.request_abort(stream_id)
        except NotFound:
            pass
        finally:
            self.fanout.leave(feed)
        return None

    def _abort_requested(self, stream_id: str) -> None:
        """Another server asked for an abort: act if the job is ours."""
        job = self.jobs.get(stream_id)
        if job is not None:
            job.stop(MessageStatus.ABORTED)

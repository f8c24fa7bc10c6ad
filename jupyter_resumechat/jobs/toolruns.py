"""Runs with tools, for the JobManager: what a run may call, decisions, claims,
results, and the continuation of runs that wait.

A run that waits is parked in the database (``agent.py``, ``store/parking.py``):
no task, no lease.  A decision or a result, on any server, is committed first;
then that server adopts the run (one conditional UPDATE: one winner) and
continues it as a job, on the same stream when the stream store still has it,
else on a new one that the message names.  A stop or ``tool_wait_timeout``
concludes a parked run the same way, through ``Concluder``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..errors import GenerationActive, InvalidRequest, NotFound, ResumeChatError
from ..models import Message, MessageStatus, ToolCall, utcnow
from ..store import new_id
from ..streams import StreamInfo
from ..tools import CallStatus, ToolBox
from .agent import Agent
from .conversations import ConversationAccess
from .job import Job, JobState, RunState
from .runcalls import waiting_for
from .runner import JobRunner
from .table import JobTable
from .text import normalize

__all__ = ["ToolRuns"]

log = logging.getLogger("jupyter_resumechat.jobs")


class ToolRuns(ConversationAccess):
    """The tool side of the manager (docs/protocol.md#agent-runs)."""

    agent: Agent
    toolbox: ToolBox
    runner: JobRunner
    jobs: JobTable
    _stopping: bool

    def _spawn(self, job: Job, work: object) -> None:  # starts.py
        raise NotImplementedError

    # what a run may call

    async def list_tools(self, user: str, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """``GET tools``: every tool with its approval (a conversation's "always" included)."""
        always: set[str] = set()
        if conversation_id is not None:
            await self.messages.get_conversation(self._owner(user), conversation_id)
            always = await self.messages.always_tools(conversation_id)
        return await self.toolbox.listing(always)

    # decisions, claims, results (any server, after any restart)

    async def decide(self, user: str, call_id: str, approve: bool, note: str | None = None) -> ToolCall:
        """The first decision wins everywhere; then the run goes on (here, if it waited)."""
        always = note == "always" and approve
        row, changed = await self.messages.decide(call_id, self._owner(user), approve, note)
        if always:
            await self.messages.add_always(row.conversation_id, row.call.name)
        # also when the decision was already there: the server that committed it may have
        # died (or lost the database) before it could continue the run
        if not await self.resume(row.message_id) and changed:
            await self._tell(row.message_id, row)  # the run still waits: every view hears it
        return row.call

    async def claim(self, user: str, call_id: str, client_id: str) -> float:
        """A page call to its first claimant (again: the lease renewed); the lease's length."""
        if not client_id:
            raise InvalidRequest("'client_id' must be a non-empty string")
        row, started = await self.messages.claim(
            call_id, self._owner(user), client_id, self.settings.claim_lease
        )
        if started:  # running now, by that page: every view hears it (a renewal is no news)
            await self._tell(row.message_id, row)
        return self.settings.claim_lease

    async def submit_result(
        self, user: str, call_id: str, client_id: str, content: str | None, error: str | None
    ) -> ToolCall:
        """The claimant's result ends the call; then the run goes on."""
        content = normalize(content) if content is not None else None
        error = normalize(error) if error is not None else None
        row, changed = await self.messages.submit_result(
            call_id, self._owner(user), client_id, content, error, self.settings.tool_result_chars
        )
        # a no-op unless the run is parked and nothing waits; else every view hears the result
        if not await self.resume(row.message_id) and changed:
            await self._tell(row.message_id, row)
        return row.call

    async def _tell(self, message_id: str, row: Any) -> None:
        """A claim: tell the readers of the parked run's stream (best effort: the row holds it)."""
        with contextlib.suppress(ResumeChatError):
            for run in await self.messages.parked_runs(message_id):
                info = await self.streams.info(run.stream_id)
                await self.streams.append_tool(
                    run.stream_id, row.call.to_json(), row.text_offset, token=info.token
                )

    # continuing and ending parked runs

    async def resume(self, message_id: str) -> bool:
        """Continue a parked run here, if it is parked, nothing it waited for still
        waits, and nobody took it first."""
        if self._stopping:
            return False
        parked = await self.messages.parked_runs(message_id)
        if not parked or waiting_for(await self.messages.calls_of(message_id)) == parked[0].waiting:
            return False
        selection = list(await self.messages.tools_of(message_id) or [])  # read before taking it
        taken = await self._take(message_id)
        if taken is None:
            return False
        message, info, fresh = taken
        job = Job(info, message, last_progress=asyncio.get_running_loop().time())
        job.run = RunState(selection, resumed=True)
        if fresh:
            job.start_from(message.content, message.reasoning)  # the new stream starts with them
        else:
            job.keep_silently(message.content, message.reasoning)
        self._spawn(job, self.runner.run(job))
        return True

    async def _take(self, message_id: str) -> tuple[Message, StreamInfo, bool] | None:
        """Adopt a parked run and its stream (``fresh``: a new one); None if another server
        took it first.  A run adopted whose stream cannot be had is parked again: left
        adopted, no job would ever continue or end it."""
        adopted = await self.messages.adopt_parked(message_id)
        if adopted is None:
            return None
        message, stream_id = adopted
        try:
            info, fresh = await self._stream_for(message, stream_id)
        except BaseException:
            await self._repark(message)
            raise
        return message, info, fresh

    async def _stream_for(self, message: Message, stream_id: str) -> tuple[StreamInfo, bool]:
        """The parked stream taken back, or a new one the message then names."""
        reclaimed = await self.streams.reclaim(stream_id) if stream_id else None
        if reclaimed is not None:
            return reclaimed, False
        owner = await self.messages.conversation_owner(message.conversation_id)
        info = StreamInfo(new_id(), message.conversation_id, message.id, started_at=utcnow(), owner=owner)
        try:
            await self.streams.open(info)
        except GenerationActive as exc:  # the conversation's old stream is still open here: retire it
            await self.streams.expire(exc.stream_id)
            await self.streams.open(info)
        await self.messages.move_stream(message.id, stream_id, info.stream_id)
        return info, True

    async def _repark(self, message: Message) -> None:
        with contextlib.suppress(ResumeChatError):
            rows = await self.messages.calls_of(message.id)
            await self.messages.park(
                message.id, waiting_for(rows) or "approval", message.content, message.reasoning
            )

    async def end_parked(
        self, message_id: str, status: MessageStatus, error: dict[str, str] | None = None
    ) -> Message | None:
        """Conclude a parked run (a stop, a wait too long): its open calls cancelled."""
        taken = await self._take(message_id)
        if taken is None:
            return None
        message, info, fresh = taken
        job = Job(info, message, state=JobState.CONCLUDING)
        job.run = RunState([], resumed=True)
        job.keep_silently(message.content, message.reasoning)
        try:
            if fresh:
                await self.runner._replay_kept(job)
            await self.agent.load(job)
        except BaseException:
            await self._repark(message)  # taken but not ended: wait again rather than be lost
            raise
        await self.agent.end_calls(job, CallStatus.CANCELLED)
        done = asyncio.Event()

        async def conclude() -> None:
            try:
                await self.runner.conclude(job, job.ending(status, error))
            finally:
                done.set()

        self._spawn(job, conclude())
        await done.wait()
        return job.final

    async def sweep_parked(self) -> None:
        """The supervisor's round: page claims that lapsed end ``unknown`` and their run goes
        on; runs that waited past ``tool_wait_timeout`` end ``interrupted``; a waiting run
        whose stream is gone (Redis restarted empty) gets a new one."""
        await self.reopen_parked()
        await self.forget_moved()
        for row in await self.messages.lapsed_claims():
            with contextlib.suppress(ResumeChatError):
                await self.resume(row.message_id)
        limit = self.settings.tool_wait_timeout
        for run in await self.messages.parked_runs():
            if waiting_for(await self.messages.calls_of(run.message_id)) != run.waiting:
                # decided (or answered) by a server that died before it could continue it
                with contextlib.suppress(ResumeChatError):
                    await self.resume(run.message_id)
            elif run.waited > limit:
                with contextlib.suppress(ResumeChatError):
                    await self.end_parked(
                        run.message_id,
                        MessageStatus.INTERRUPTED,
                        {
                            "type": "tool_wait_timeout",
                            "detail": f"no decision or result came within {limit:g} s",
                        },
                    )

    async def forget_moved(self) -> None:
        """Streams this server parked whose run went on elsewhere (on a new stream) or ended
        there: expired here, so their readers reload and this conversation is free again."""
        for stream_id, message_id in list(self.agent.parked_here.items()):
            if self.jobs.get(stream_id) is not None:
                self.agent.parked_here.pop(stream_id, None)  # continued here, on this stream
                continue
            runs = await self.messages.parked_runs(message_id)
            if runs and runs[0].stream_id == stream_id:
                continue  # still waiting on it
            self.agent.parked_here.pop(stream_id, None)
            try:
                info = await self.streams.info(stream_id)
            except NotFound:
                continue
            if not info.finished and self.jobs.get(stream_id) is None:
                message = await self.messages.message_for_stream(stream_id)
                if message is None or message.status.value != "streaming":
                    await self.streams.expire(stream_id)

    async def reopen_parked(self) -> None:
        """A parked run whose stream is gone (a memory store after a restart, a Redis that
        restarted empty) gets a new stream, so readers attach and see it wait."""
        for run in await self.messages.parked_runs():
            if self.streams.backend == "memory" and run.parked_by_live:
                continue  # in the memory of the live server that parked it, not gone
            try:
                await self.streams.info(run.stream_id)
                continue
            except NotFound:
                pass
            with contextlib.suppress(ResumeChatError):
                owner = await self.messages.conversation_owner(run.conversation_id)
                info = StreamInfo(
                    new_id(), run.conversation_id, run.message_id, started_at=utcnow(), owner=owner
                )
                await self.streams.open(info)
                if not await self.messages.move_stream(run.message_id, run.stream_id, info.stream_id):
                    await self.streams.expire(info.stream_id)
                    continue
                message = await self.messages.message_for_stream(info.stream_id)
                if message is None:
                    continue
                job = Job(info, message)
                job.run = RunState([])
                job.keep_silently(message.content, message.reasoning)
                await self.runner._replay_kept(job)
                await self.agent.load(job)
                await self.agent.announce_all(job)
                await self.streams.park(info.stream_id, info.token)
                self.agent.parked_here[info.stream_id] = run.message_id

"""The tool steps of a run, for the job: propose, decide by policy, execute, wait.

A run with tools is one job and one stream (docs/protocol.md#agent-runs).  Each
round the model may propose calls; each call is committed with the status the
policy gives it (``approved``, ``awaiting_approval``, or ``error`` for a call
that cannot run: unknown tool, bad arguments) and only then announced as a
``tool`` event (persist before announce).  Approved server calls run here, one
at a time, each committed ``running`` before it starts and ended after; a run
that must wait for a person's decision or a page's result *parks*: the job
ends, the message keeps ``waiting``, and whoever gives the decision or result
continues it (``resume`` in ``toolruns.py``).

The model reads the run back from the rows alone (``turns``), so a run
continued on another server, after any restart, reads what this one did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..errors import LeaseLost, Unavailable
from ..providers import MadeCall, ToolOffer
from ..store import CallRow, MessageStore, NewCall
from ..streams import StreamStore
from ..tools import (
    Approval,
    BadArguments,
    CallStatus,
    OutcomeUnknown,
    ToolBox,
    ToolFailed,
    ToolSpec,
    bound_result,
    check_arguments,
    parse_arguments,
)
from .job import Job, JobSettings
from .runcalls import waiting_for
from .text import normalize, normalize_json

__all__ = ["Agent"]

log = logging.getLogger("jupyter_resumechat.jobs")


class Agent:
    """The tool steps of every job of one manager."""

    def __init__(
        self,
        toolbox: ToolBox,
        messages: MessageStore,
        streams: StreamStore,
        settings: JobSettings,
        pause: Callable[[float], Awaitable[bool]],
    ) -> None:
        self.toolbox = toolbox
        self.messages = messages
        self.streams = streams
        self.settings = settings
        self.pause = pause  # back off before a retry; True once the server gives up (a stop)
        self.parked_here: dict[str, str] = {}  # streams this server parked: stream id -> message id

    async def offers(self, job: Job) -> list[ToolOffer]:
        """What the model is offered in this run (and what the job may run)."""
        if job.run is None:
            return []
        if not job.run.specs:
            job.run.specs = {spec.name: spec for spec in await self.toolbox.offered(job.run.selection)}
        return [ToolOffer(s.name, s.description, s.input_schema) for s in job.run.specs.values()]

    async def load(self, job: Job) -> None:
        """A run continued here (adopted, or resumed after a park) reads its calls back."""
        if job.run is None:
            return
        rows = await self.messages.calls_of(job.message.id)
        job.run.calls = {row.call.id: row for row in rows}
        job.run.round = max((row.round for row in rows), default=0)
        if job.continued and not job.run.resumed:  # a person's Continue: max_tool_rounds more
            job.run.first_round = job.run.round

    async def announce(self, job: Job, row: CallRow) -> None:
        """A committed move of a call, told to the stream's readers."""
        await self.streams.append_tool(
            job.stream_id, row.call.to_json(), row.text_offset, token=job.info.token
        )

    async def announce_all(self, job: Job, *, latest_round: bool = False) -> None:
        """Every call as it stands (a run continued on a new stream), or with ``latest_round``
        those of the round it waited on (its own stream already told the earlier ones)."""
        assert job.run is not None
        for row in job.run.calls.values():
            if not latest_round or row.round == job.run.round:
                await self.announce(job, row)

    async def propose(self, job: Job, made: Sequence[tuple[str, MadeCall]]) -> None:
        """Commit the round's calls with the status the policy gives each, then announce them."""
        assert job.run is not None
        always = await self.messages.always_tools(job.info.conversation_id)
        content, reasoning = job.content()
        new = [self._judge(job, call_id, call, always) for call_id, call in made]
        rows = await self.messages.add_calls(
            job.message.id, job.info.conversation_id, job.run.round, len(content), new, (content, reasoning)
        )
        if not rows:
            raise LeaseLost(f"reply {job.message.id} is no longer this server's")
        for row in rows:
            job.run.calls[row.call.id] = row
            await self.announce(job, row)

    def _judge(self, job: Job, call_id: str, made: MadeCall, always: set[str]) -> NewCall:
        assert job.run is not None
        spec = job.run.specs.get(made.name)
        status, error, arguments = CallStatus.APPROVED, None, {}
        if spec is None:
            status = CallStatus.ERROR
            error = {"type": "unknown_tool", "detail": f"no tool named {made.name!r} is offered in this run"}
        else:
            try:
                # text a store cannot keep (NUL, a lone surrogate) is made keepable once, here
                arguments = normalize_json(parse_arguments(made.arguments))
                check_arguments(arguments, spec.input_schema)
            except BadArguments as exc:
                status, error = CallStatus.ERROR, {"type": "bad_arguments", "detail": str(exc)}
            else:
                approval = self.toolbox.approval(spec, always)
                if approval is Approval.ASK:
                    status = CallStatus.AWAITING_APPROVAL
                elif approval is Approval.NEVER:
                    status = CallStatus.ERROR
                    error = {"type": "not_allowed", "detail": f"{made.name} may not be called here"}
        return NewCall(
            call_id,
            made.provider_id,
            normalize(made.name) or "?",
            arguments,
            normalize(made.arguments),
            spec.runs_on.value if spec else "server",
            spec.effect.value if spec else "read",
            status,
            error,
        )

    async def refresh(self, job: Job) -> None:
        """Read the calls back: a decision or a result may have come in meanwhile (any server)."""
        assert job.run is not None
        for row in await self.messages.calls_of(job.message.id):
            known = job.run.calls.get(row.call.id)
            job.run.calls[row.call.id] = row
            if known is not None and known.call.status != row.call.status:
                await self.announce(job, row)

    async def settle(self, job: Job) -> str | None:
        """Run the approved server calls; then what the run waits for, or None to go on."""
        assert job.run is not None
        await self.refresh(job)
        for row in list(job.run.calls.values()):
            if row.status is CallStatus.APPROVED and row.call.runs_on == "server":
                await self.execute(job, row)
            elif row.status is CallStatus.RUNNING and row.call.runs_on == "server" and not job.run.executing:
                await self._lost(job, row)  # run by a server that is gone: never again by itself
        return waiting_for(list(job.run.calls.values()))

    async def _lost(self, job: Job, row: CallRow) -> None:
        moved = await self.messages.move_call(
            row.call.id,
            CallStatus.UNKNOWN,
            [CallStatus.RUNNING],
            error_type="unknown",
            error_detail="the server running this call stopped before it answered",
        )
        if moved is not None:
            assert job.run is not None
            job.run.calls[row.call.id] = moved
            await self.announce(job, moved)

    async def execute(self, job: Job, row: CallRow) -> None:
        """One server call: committed ``running`` (by us), run, committed with its end."""
        assert job.run is not None
        running = await self.messages.move_call(
            row.call.id, CallStatus.RUNNING, [CallStatus.APPROVED], executor=self.messages.instance_id
        )
        if running is None:  # a stop got there first
            await self.refresh(job)
            return
        job.run.calls[row.call.id] = running
        await self.announce(job, running)
        spec: ToolSpec | None = job.run.specs.get(row.call.name)
        job.run.executing = True
        ended: tuple[CallStatus, dict[str, Any]]
        try:
            if spec is None:
                raise ToolFailed("unknown_tool", f"{row.call.name} is no longer offered")
            text = await self.toolbox.run(spec, row.call.arguments)
        except OutcomeUnknown as exc:
            ended = CallStatus.UNKNOWN, {"error_type": "unknown", "error_detail": normalize(exc.detail)}
        except ToolFailed as exc:
            ended = (
                CallStatus.ERROR,
                {"error_type": normalize(exc.kind), "error_detail": normalize(exc.detail)},
            )
        except asyncio.CancelledError:
            raise  # a stop: the ending cancels every open call
        except Exception:
            log.exception("resumechat: tool %s failed inside the server", row.call.name)
            ended = (
                CallStatus.ERROR,
                {"error_type": "internal", "error_detail": "the tool failed inside the server"},
            )
        else:
            bounded = bound_result(normalize(text), self.settings.tool_result_chars)
            ended = CallStatus.DONE, {"result": bounded.content, "result_truncated": int(bounded.truncated)}
        try:
            done = await self._commit_end(row, ended)
        finally:
            job.run.executing = False
        if done is None:
            await self.refresh(job)
            return
        job.run.calls[row.call.id] = done
        await self.announce(job, done)
        job.last_progress = asyncio.get_running_loop().time()  # the model's silence starts again now

    async def _commit_end(self, row: CallRow, ended: tuple[CallStatus, dict[str, Any]]) -> CallRow | None:
        """The end of a call that ran, committed; None if it had moved (a stop).  Its
        outcome happened and cannot be had again, so a database that is down is waited
        for, as a final is, instead of failing the run; at a stop the call stays
        ``running`` and whoever ends the reply ends it ``unknown``."""
        delay = 0.1
        while True:
            try:
                return await self.messages.move_call(row.call.id, ended[0], [CallStatus.RUNNING], **ended[1])
            except Unavailable as exc:
                log.warning("resumechat: saving the end of call %s failed: %s", row.call.id, exc.detail)
            if await self.pause(delay):
                raise Unavailable(f"the server stopped before the end of call {row.call.id} was saved")
            delay = min(delay * 2, 5.0)

    async def end_calls(
        self, job: Job, status: CallStatus, running_to: CallStatus | None = None, *, fenced: bool = True
    ) -> None:
        """Every call not yet ended becomes ``status`` (a stop: cancelled; a failure: a
        server call caught running ``running_to``), committed, then announced."""
        if job.run is None or not job.run.calls:
            return
        if all(row.status.ended for row in job.run.calls.values()):
            return
        with contextlib.suppress(Unavailable):  # the database down: recovery ends them later
            for row in await self.messages.end_open_calls(job.message.id, status, running_to, fenced=fenced):
                job.run.calls[row.call.id] = row
                with contextlib.suppress(Exception):
                    await self.announce(job, row)

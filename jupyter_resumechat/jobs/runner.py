"""The life of one job: generate, then conclude exactly once with the status that won.

``JobRunner.run`` is what the manager's task for a job executes; ``conclude``
is also how an adopted reply ends.  Every ending goes through
``Concluder.conclude``; what the stop could not commit goes to the spool.

A little over 300 lines: generating, parking a run that waits and concluding
are the three halves of one lease's life (a park that loses the race with a
decision must go back to generating, a failure while parked must conclude),
and split apart they would hand the job's lease across modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from ..errors import LeaseLost, ProviderError, ResumeChatError, Unavailable
from ..models import MessageStatus
from ..providers import CONTINUE_PROMPT, ChatTurn, Delta, MadeCall, Provider, ToolOffer
from ..store import MessageStore, Spool
from ..streams import StreamStore
from ..tools import CallStatus
from .agent import Agent
from .conclusion import Concluder, Unsaved
from .job import Ending, Job, JobState, with_context
from .runcalls import CallCollector, run_turns, waiting_for
from .window import budget_for, calibration, fit

__all__ = ["JobRunner"]

log = logging.getLogger("jupyter_resumechat.jobs")

ARGUMENTS_EVERY = 0.1  # seconds between tool_arguments deltas of a call that is forming

Outcome = tuple[MessageStatus, "dict[str, str] | None"]


class JobRunner:
    """Runs jobs against the stores and the provider (one instance per manager)."""

    def __init__(
        self,
        streams: StreamStore,
        messages: MessageStore,
        provider: Provider,
        concluder: Concluder,
        spool: Spool | None,
        agent: Agent,
        budgets: Mapping[str, int] | None = None,
    ) -> None:
        self.streams = streams
        self.messages = messages
        self.provider = provider
        self.concluder = concluder
        self.spool = spool
        self.budgets = dict(budgets or {})
        self.agent = agent

    async def run(self, job: Job) -> None:
        """Generate, then conclude exactly once with the status that won; or park
        a run that waits for a decision or a page's result."""
        outcome: Outcome | None = (job.stop_status, job.stop_error) if job.stop_status else None
        if outcome is None:
            job.state = JobState.GENERATING
            outcome = await self._outcome(job)
        if outcome is None:  # the lease was lost: the adopter concludes
            return
        if outcome[0] is MessageStatus.STREAMING:  # parked: the run waits (docs/protocol.md#agent-runs)
            return
        job.state = JobState.CONCLUDING
        if job.run is not None:  # a stop cancels every call not yet done; a failure cannot know
            running_to = None if outcome[0] is MessageStatus.ABORTED else CallStatus.UNKNOWN
            await self.agent.end_calls(job, CallStatus.CANCELLED, running_to)
        await self.conclude(job, job.ending(*outcome))

    async def _park(self, job: Job) -> bool:
        """Leave the waiting run in the database (its text, ``waiting``) and give up the
        stream's lease; the stream stays open.  True when it stays parked; False when
        what it waits for came meanwhile and this job took the run back to go on.
        Raises LeaseLost when the run is not ours (any more)."""
        assert job.run is not None and job.run.waiting is not None
        content, reasoning = job.content()
        delay = 0.1
        while True:
            try:
                parked = await self.messages.park(job.message.id, job.run.waiting, content, reasoning)
                break
            except Unavailable as exc:
                log.warning("resumechat: parking stream %s failed: %s", job.stream_id, exc.detail)
            if await self.concluder.pause(delay):
                raise LeaseLost("stopping: the reply stays ours; after the lease, recovery interrupts it")
            delay = min(delay * 2, 5.0)
        if not parked:
            raise LeaseLost(f"reply {job.message.id} is no longer this server's")
        job.dirty = False
        with contextlib.suppress(ResumeChatError):
            await self.streams.park(job.stream_id, job.info.token)
        self.agent.parked_here[job.stream_id] = job.message.id
        # a decision given before the park committed found no parked run to continue: look again
        if waiting_for(await self.messages.calls_of(job.message.id)) == job.run.waiting:
            return True
        if await self.messages.adopt_parked(job.message.id) is None:
            raise LeaseLost(f"reply {job.message.id} was continued by another server")
        try:
            info = await self.streams.reclaim(job.stream_id)
        except ResumeChatError:
            info = None
        if info is None:  # its stream is gone: park again; the sweep gives it a new one
            await self.messages.park(job.message.id, job.run.waiting, content, reasoning)
            return True
        job.info, job.run.waiting = info, None
        return False

    async def _outcome(self, job: Job) -> Outcome | None:
        """How the generation ended; ``None`` when another server took it over;
        ``STREAMING`` when the run waits (it parks)."""
        try:
            await self._generate(job)
            if job.stop_status is not None:  # a stop whose cancel a driver swallowed
                return job.stop_status, job.stop_error
            if job.run is not None and job.run.waiting is not None:
                return MessageStatus.STREAMING, None
            return MessageStatus.COMPLETE, None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and hasattr(task, "uncancel"):  # Python >= 3.11
                task.uncancel()  # consume our own stop so the job can still commit
            return job.stop_status or MessageStatus.INTERRUPTED, job.stop_error
        except LeaseLost:
            log.warning(
                "resumechat: stream %s was adopted by another server; this one stops writing it",
                job.stream_id,
            )
            return None
        except ProviderError as exc:
            return MessageStatus.ERROR, {"type": exc.type, "detail": exc.detail}
        except Unavailable as exc:
            return MessageStatus.ERROR, {"type": "unavailable", "detail": exc.detail}
        except Exception:
            log.exception("resumechat: generation %s failed", job.stream_id)
            return MessageStatus.ERROR, {
                "type": "internal",
                "detail": "the generation failed inside the server",
            }
        finally:
            job.state = JobState.CONCLUDING  # from here on, nothing interrupts the commit

    async def _generate(self, job: Job) -> None:
        history = await self.messages.history(job.info.conversation_id, job.message.id)
        turns = [ChatTurn(m.role.value, with_context(m)) for m in history if m.content]
        keep = 1  # the current message, with its context
        if job.run is not None:
            await self.agent.load(job)
        if job.continued:  # a new stream starts with everything the reply had
            await self._replay_kept(job)
            if job.run is not None:
                await self.agent.announce_all(job)
        elif job.run is not None and job.run.resumed:  # the same stream: the calls as they stand now
            await self.agent.announce_all(job, latest_round=True)
        if job.continued and not (job.run is not None and job.run.calls):
            content, _ = job.content()
            if content:
                turns += [ChatTurn("assistant", content), ChatTurn("user", CONTINUE_PROMPT)]
                keep += 2
        model = job.message.model or self.provider.default_model
        budget, scale = budget_for(model, self.budgets), calibration(history)
        offers = await self.agent.offers(job)
        while True:
            if job.run is not None and job.run.calls:
                job.run.waiting = await self.agent.settle(job)
                if job.run.waiting is not None and await self._park(job):
                    return  # it waits in the database; whoever decides continues it
                if job.run.waiting is not None:
                    continue
                if job.run.round - job.run.first_round >= self.agent.settings.max_tool_rounds:
                    raise ProviderError(
                        f"the run reached max_tool_rounds ({self.agent.settings.max_tool_rounds} model "
                        "calls); Continue lets it go on",
                        type="max_tool_rounds",
                    )
            run = self._run_turns(job)  # the run so far is always sent, and counted
            fitted = fit(turns + run, keep + len(run), budget, scale)
            job.window = fitted.window
            made = await self._model_round(job, model, fitted.turns, offers)
            if job.run is None or job.stop_status is not None:
                return
            job.run.round += 1
            if not made:
                return
            await self.agent.propose(job, made)

    def _run_turns(self, job: Job) -> list[ChatTurn]:
        """The run so far (its rounds and results), and a continued reply's text after them."""
        if job.run is None or not job.run.calls:
            return []
        content, _ = job.content()
        found, start = run_turns(list(job.run.calls.values()), content)
        if job.continued and content[start:]:
            found += [ChatTurn("assistant", content[start:]), ChatTurn("user", CONTINUE_PROMPT)]
        return found

    async def _model_round(
        self, job: Job, model: str, turns: list[ChatTurn], offers: list[ToolOffer]
    ) -> list[tuple[str, MadeCall]]:
        """One model call: its text streamed and kept, its tool calls collected (their
        arguments streamed as ``tool_arguments`` deltas as they form)."""
        loop = asyncio.get_running_loop()
        job.last_progress = loop.time()  # the model's silence is timed from its request
        calls = CallCollector()
        told = loop.time()
        # a plain reply calls the provider as before tools existed (a provider may not take them)
        deltas = (
            self.provider.stream(job.message.model or "", turns, offers)
            if offers
            else self.provider.stream(job.message.model or "", turns)
        )
        async for delta in deltas:
            if delta.usage is not None:
                job.usage = delta.usage
            if delta.call is not None:
                calls.feed(delta.call)
                if loop.time() - told >= ARGUMENTS_EVERY:  # arguments as they form, a few per second
                    await self._tell_arguments(job, calls)
                    told = loop.time()
            else:
                await self._emit(job, job.receive(delta))
            job.last_progress = loop.time()
            if job.stop_status is not None:
                return []  # stopped, but the cancel landed in a driver that swallowed it (redis-py)
        await self._emit(job, job.flush())
        await self._tell_arguments(job, calls)
        return calls.made()

    async def _tell_arguments(self, job: Job, calls: CallCollector) -> None:
        """``tool_arguments`` deltas: what each call's arguments grew by since the last ones."""
        for call_id, text in calls.take_pending().items():
            await self.streams.append_arguments(job.stream_id, call_id, text, token=job.info.token)

    async def _replay_kept(self, job: Job) -> None:
        """A continued reply's stream starts with the text it had (so a reader's text is
        the whole reply)."""
        content, reasoning = job.content()
        for piece in (Delta(reasoning=reasoning), Delta(text=content)):
            if piece.text or piece.reasoning:
                await self.streams.append(
                    job.stream_id, text=piece.text, reasoning=piece.reasoning, token=job.info.token
                )

    async def _emit(self, job: Job, delta: Delta) -> None:
        """One event per kind of text, so every event is a plain text or reasoning delta."""
        if delta.reasoning:
            await self._append(job, Delta(reasoning=delta.reasoning))
        if delta.text:
            await self._append(job, Delta(text=delta.text))

    async def _append(self, job: Job, piece: Delta) -> None:
        """Append and keep, as one step: a stop that lands while the append runs waits
        for it, so a piece readers got is never missing from the committed text.  A piece
        the store takes without waiting (``append_nowait``) needs no task of its own."""
        if self.streams.append_nowait(
            job.stream_id, text=piece.text, reasoning=piece.reasoning, token=job.info.token
        ):
            job.keep(piece)  # it never waited, so nothing could interrupt it
            return
        append = asyncio.ensure_future(
            self.streams.append(
                job.stream_id, text=piece.text, reasoning=piece.reasoning, token=job.info.token
            )
        )
        try:
            await asyncio.shield(append)
        except asyncio.CancelledError:
            while not append.done():  # let it land (or fail), whatever else is cancelled
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.shield(append)
            if not append.cancelled() and append.exception() is None:
                job.keep(piece)
            raise
        job.keep(piece)

    async def conclude(self, job: Job, ending: Ending) -> None:
        """Commit and announce, shielded from cancellation; spool if the server gave up."""
        ending = self.concluder.redacted(ending)  # the spool keeps no secret either
        conclusion = asyncio.ensure_future(self.concluder.conclude(ending))
        while not conclusion.done():
            with contextlib.suppress(asyncio.CancelledError, Unsaved):
                await asyncio.shield(conclusion)
        try:
            job.final = conclusion.result()
        except Unsaved:
            if self.spool is None or ending.adopted:
                log.error(
                    "resumechat: stream %s stopped unsaved and no spool is set: the database "
                    "keeps its last checkpoint",
                    job.stream_id,
                )
                return
            # the stop ended it before the database could take it: interrupted (docs/protocol.md#clean-stops)
            message = ending.message
            if message.status is MessageStatus.COMPLETE:
                message = message.replace(status=MessageStatus.INTERRUPTED)
            try:
                await self.spool.put(message, self.messages.instance_id)
            except OSError as exc:
                log.error(
                    "resumechat: stream %s could not be kept in %s either (%s): the database "
                    "keeps its last checkpoint",
                    job.stream_id,
                    self.spool.directory,
                    exc,
                )
                return
            log.error(
                "resumechat: the database was down at stop: stream %s (%d characters) "
                "is kept in %s until it is back",
                job.stream_id,
                len(ending.message.content),
                self.spool.directory,
            )

"""The life of one job: generate, then conclude exactly once with the status that won.

``JobRunner.run`` is what the manager's task for a job executes; ``conclude``
is also how an adopted reply ends.  Every ending goes through
``Concluder.conclude``; what the stop could not commit goes to the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from ..errors import LeaseLost, ProviderError, Unavailable
from ..models import MessageStatus
from ..providers import CONTINUE_PROMPT, ChatTurn, Delta, Provider
from ..store import MessageStore, Spool
from ..streams import StreamStore
from .conclusion import Concluder, Unsaved
from .job import Ending, Job, JobState, with_context
from .window import budget_for, calibration, fit

__all__ = ["JobRunner"]

log = logging.getLogger("jupyter_resumechat.jobs")

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
        budgets: Mapping[str, int] | None = None,
    ) -> None:
        self.streams = streams
        self.messages = messages
        self.provider = provider
        self.concluder = concluder
        self.spool = spool
        self.budgets = dict(budgets or {})

    async def run(self, job: Job) -> None:
        """Generate, then conclude exactly once with the status that won."""
        outcome: Outcome | None = (job.stop_status, job.stop_error) if job.stop_status else None
        if outcome is None:
            job.state = JobState.GENERATING
            outcome = await self._outcome(job)
        if outcome is None:  # the lease was lost: the adopter concludes
            return
        job.state = JobState.CONCLUDING
        await self.conclude(job, job.ending(*outcome))

    async def _outcome(self, job: Job) -> Outcome | None:
        """How the generation ended; ``None`` when another server took it over."""
        try:
            await self._generate(job)
            if job.stop_status is not None:  # a stop whose cancel a driver swallowed
                return job.stop_status, job.stop_error
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
        if job.continued:
            resumed = await self._resume_text(job)
            turns += resumed
            keep += len(resumed)
        model = job.message.model or self.provider.default_model
        fitted = fit(turns, keep, budget_for(model, self.budgets), calibration(history))
        turns, job.window = fitted.turns, fitted.window
        loop = asyncio.get_running_loop()
        job.last_progress = loop.time()  # the model's silence is timed from its request
        async for delta in self.provider.stream(job.message.model or "", turns):
            if delta.usage is not None:
                job.usage = delta.usage
            await self._emit(job, job.receive(delta))
            job.last_progress = loop.time()
            if job.stop_status is not None:
                return  # stopped, but the cancel landed in a driver that swallowed it (redis-py)
        await self._emit(job, job.flush())

    async def _resume_text(self, job: Job) -> list[ChatTurn]:
        """A continued reply's stream starts with the text it had (so a reader's text is
        the whole reply); the model reads it, then the hidden request to go on."""
        content, reasoning = job.content()
        for piece in (Delta(reasoning=reasoning), Delta(text=content)):
            if piece.text or piece.reasoning:
                await self.streams.append(
                    job.stream_id, text=piece.text, reasoning=piece.reasoning, token=job.info.token
                )
        if not content:
            return []
        return [ChatTurn("assistant", content), ChatTurn("user", CONTINUE_PROMPT)]

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

"""JobManager: runs every generation as a job of its own, owned by no request.

A job streams the model's reply into the StreamStore (which numbers, keeps
and fans out the events) and into the MessageStore (checkpoints, then the
final message).  Who ends a job, and what the message becomes, is drawn in
ARCHITECTURE.md; ``_run`` is the one place that decides it.

No HTTP and no SQL here: handlers call this, this calls the stores and the
provider.  The manager owns every task it creates and awaits them in ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from datetime import datetime
from typing import AsyncIterator, Callable

from ..errors import InvalidRequest, NotFound, ProviderError, TooLarge, TooManyGenerations
from ..models import Conversation, EventKind, Message, MessageStatus, StreamStatus, utcnow
from ..providers import ChatTurn, ModelInfo, Provider
from ..store import MessageStore, NewTurn
from ..store.messages import new_id
from ..streams import StreamInfo, StreamStore
from .job import Job, JobSettings, SendResult, Subscription, uncancel
from .supervisor import Supervisor

__all__ = ["JobManager"]

log = logging.getLogger("jupyter_resumechat.jobs")


class JobManager:
    """Starts, feeds, aborts and concludes generation jobs."""

    def __init__(
        self,
        streams: StreamStore,
        messages: MessageStore,
        provider: Provider,
        settings: JobSettings,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.streams = streams
        self.on_activity = on_activity
        self.messages = messages
        self.provider = provider
        self.settings = settings
        self._jobs: dict[str, Job] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._subscribers: dict[str, int] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._stopping = False

    # lifecycle

    async def start(self) -> None:
        """Prepare the database and recover from a previous run; idempotent."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                recovered = await self.messages.start()
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started = None
                raise
            if recovered:
                log.warning("resumechat: %d message(s) left streaming by a previous run "
                            "are now 'interrupted'", recovered)
            self.streams.on_abort(self._abort_requested)
            self._supervisor = asyncio.create_task(Supervisor(self).run(), name="resumechat-supervisor")
            self._started.set_result(None)
        await asyncio.shield(self._started)

    async def stop(self) -> None:
        """Interrupt every job (its text is kept), then close the stores."""
        self._stopping = True
        jobs = list(self._jobs.values())
        for job in jobs:
            job.stop(MessageStatus.INTERRUPTED)
        for job in jobs:
            await job.done.wait()
        if self._supervisor is not None:
            # one last checkpoint happens on the way out; the loop ends by itself
            done, _ = await asyncio.wait({self._supervisor}, timeout=5 + 2 * self.settings.checkpoint_interval)
            if not done:
                log.warning("resumechat: the supervisor did not stop in time; abandoning it")
                self._supervisor.cancel()
        await self.provider.close()
        await self.streams.close()
        await self.messages.close()

    @property
    def stopping(self) -> bool:
        """True once ``stop`` began: no new jobs, the supervisor winds down."""
        return self._stopping

    @property
    def active_jobs(self) -> int:
        """How many generations run in this server now."""
        return len(self._jobs)

    def subscriber_count(self, stream_id: str) -> int:
        """How many readers hold ``stream_id`` open now."""
        return self._subscribers.get(stream_id, 0)

    # conversations

    def _owner(self, user: str) -> str | None:
        """Whose conversations ``user`` sees: their own, or all (``None``)."""
        return user if self.settings.isolate_users else None

    async def create_conversation(self, user: str, title: str, key: str | None) -> tuple[Conversation, bool]:
        """Get-or-create by ``key``, within the user's own space when isolated."""
        return await self.messages.create_conversation(self._owner(user) or "", title, key)

    async def list_conversations(self, user: str, limit: int, before: datetime | None) -> list[Conversation]:
        return await self.messages.list_conversations(self._owner(user), limit, before)

    async def get_conversation(self, user: str, conversation_id: str) -> Conversation:
        return await self.messages.get_conversation(self._owner(user), conversation_id)

    async def rename_conversation(self, user: str, conversation_id: str, title: str) -> Conversation:
        return await self.messages.rename_conversation(self._owner(user), conversation_id, title)

    async def delete_conversation(self, user: str, conversation_id: str) -> None:
        """Abort the conversation's active generation, then delete it all."""
        await self.messages.get_conversation(self._owner(user), conversation_id)
        active = await self.streams.active(conversation_id)
        if active is not None:
            await self.abort(user, active.stream_id)
            await self.streams.expire(active.stream_id)
        await self.messages.delete_conversation(self._owner(user), conversation_id)

    async def list_messages(self, user: str, conversation_id: str) -> list[Message]:
        """Oldest first; a streaming message carries its live content."""
        found = await self.messages.list_messages(self._owner(user), conversation_id)
        live = await self.streams.active(conversation_id)
        if live is None:
            return found
        for index, message in enumerate(found):
            if message.id == live.message_id and message.status is MessageStatus.STREAMING:
                found[index] = await self._live(live.stream_id, message)
        return found

    async def _live(self, stream_id: str, message: Message) -> Message:
        with contextlib.suppress(NotFound):
            batch = await self.streams.read_after(stream_id, None, 0)
            if batch.events and "content" in batch.events[0].data:
                data = batch.events[0].data
                return message.replace(content=data["content"], reasoning=data["reasoning"])
        return message

    # generations

    def models(self) -> list[ModelInfo]:
        return self.provider.models()

    async def send(
        self, user: str, conversation_id: str, content: str,
        model: str | None = None, client_id: str | None = None,
    ) -> SendResult:
        """Store the user's message and start the reply's generation.

        The same ``client_id`` again returns the first answer and starts nothing.
        Raises NotFound, TooLarge, GenerationActive (409) or TooManyGenerations.
        """
        if len(content) > self.settings.max_message_chars:
            raise TooLarge(f"the message has {len(content)} characters; the limit is "
                           f"{self.settings.max_message_chars}")
        if not content.strip():
            raise InvalidRequest("'content' must not be empty")
        model = model or self.provider.default_model
        if model not in {m.id for m in self.provider.models()}:
            raise InvalidRequest(f"unknown model {model!r}; GET models lists them")
        await self.messages.get_conversation(self._owner(user), conversation_id)
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        async with lock:
            if client_id is not None:
                earlier = await self.messages.find_turn(conversation_id, client_id)
                if earlier is not None:
                    return SendResult(*earlier)
            self._check_cap(user)
            return await self._begin(user, conversation_id, content, model, client_id)

    def _check_cap(self, user: str) -> None:
        cap = self.settings.max_active_per_user
        if self._stopping:
            raise TooManyGenerations("the server is shutting down")
        if cap and sum(1 for j in self._jobs.values() if j.info.owner == user) >= cap:
            raise TooManyGenerations(f"{cap} generation(s) are already running for this user")

    async def _begin(self, user: str, conversation_id: str, content: str,
                     model: str, client_id: str | None) -> SendResult:
        turn = NewTurn(conversation_id, content, model, client_id, stream_id=new_id(),
                       user_message_id=new_id(), assistant_message_id=new_id())
        info = StreamInfo(turn.stream_id, conversation_id, turn.assistant_message_id,
                          started_at=utcnow(), owner=user)
        await self.streams.open(info)
        try:
            user_message, reply = await self.messages.add_turn(turn)
        except BaseException:
            await self.streams.expire(info.stream_id)
            raise
        job = Job(info, reply, last_progress=asyncio.get_running_loop().time())
        self._jobs[info.stream_id] = job
        job.task = asyncio.create_task(self._run(job), name=f"resumechat-job-{info.stream_id}")
        job.task.add_done_callback(lambda _: job.done.set())  # even if _run never ran
        return SendResult(user_message, reply, info.stream_id)

    async def status(self, user: str, conversation_id: str) -> StreamStatus:
        """The conversation's active stream; inactive for unknown or others' ones."""
        info = await self.streams.active(conversation_id)
        if info is None or not self._visible(user, info):
            return StreamStatus(active=False)
        return StreamStatus(True, info.stream_id, info.message_id, info.last_event_id, info.started_at)

    def _visible(self, user: str, info: StreamInfo) -> bool:
        return not self.settings.isolate_users or info.owner == user

    @contextlib.asynccontextmanager
    async def subscribe(self, user: str, stream_id: str) -> AsyncIterator[Subscription]:
        """A reader of ``stream_id``; raises NotFound before yielding."""
        info = await self.streams.info(stream_id)
        if not self._visible(user, info):
            raise NotFound(f"stream {stream_id!r} is unknown or has expired")
        self._subscribers[stream_id] = self._subscribers.get(stream_id, 0) + 1
        try:
            yield Subscription(self.streams, stream_id)
        finally:
            left = self._subscribers[stream_id] - 1
            if left:
                self._subscribers[stream_id] = left
            else:
                del self._subscribers[stream_id]

    async def abort(self, user: str, stream_id: str) -> Message:
        """Stop the generation, keep its partial text, return the committed message.

        The job may run on another server (shared stores): the abort is then
        sent to its owner, and this waits for the stream's final.
        """
        job = self._jobs.get(stream_id)
        if job is not None and self._visible(user, job.info):
            job.stop(MessageStatus.ABORTED)
            await asyncio.shield(job.done.wait())
            if job.final is not None:
                return job.final
        info = await self.streams.info(stream_id)
        if not self._visible(user, info):
            raise NotFound(f"stream {stream_id!r} is unknown or has expired")
        if not info.finished and stream_id not in self._jobs:
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
        last: int | None = None
        with contextlib.suppress(NotFound):
            while loop.time() < deadline:
                batch = await self.streams.read_after(stream_id, last, 1.0)
                if batch.events:
                    last = batch.events[-1].id
                    if batch.events[-1].kind is EventKind.FINAL:
                        return Message.from_json(batch.events[-1].data["message"])
                if batch.done:
                    return None
        return None

    def _abort_requested(self, stream_id: str) -> None:
        """Another server asked for an abort: act if the job is ours."""
        job = self._jobs.get(stream_id)
        if job is not None:
            job.stop(MessageStatus.ABORTED)

    # the job itself

    async def _run(self, job: Job) -> None:
        """Generate, then conclude exactly once with the status that won."""
        job.running = True
        status, error = MessageStatus.COMPLETE, None
        try:
            if job.stop_status is not None:
                raise asyncio.CancelledError
            await self._generate(job)
        except asyncio.CancelledError:
            uncancel()
            status, error = job.stop_status or MessageStatus.INTERRUPTED, job.stop_error
        except ProviderError as exc:
            status, error = MessageStatus.ERROR, {"type": exc.type, "detail": exc.detail}
        except Exception:
            log.exception("resumechat: generation %s failed", job.info.stream_id)
            status = MessageStatus.ERROR
            error = {"type": "internal", "detail": "the generation failed inside the server"}
        job.concluding = True
        conclusion = asyncio.ensure_future(self._conclude(job, status, error))
        try:
            while not conclusion.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(conclusion)
            conclusion.result()
        finally:
            self._jobs.pop(job.info.stream_id, None)
            job.done.set()

    async def _generate(self, job: Job) -> None:
        history = await self.messages.history(job.info.conversation_id, job.message.id)
        turns = [ChatTurn(m.role.value, m.content) for m in history if m.content]
        loop = asyncio.get_running_loop()
        stream_id = job.info.stream_id
        job.last_progress = loop.time()  # the model's silence is timed from its request
        async for delta in self.provider.stream(job.message.model or "", turns):
            if not (delta.text or delta.reasoning):
                continue
            await self.streams.append(stream_id, text=delta.text, reasoning=delta.reasoning)
            if delta.text:
                job.text.append(delta.text)
            if delta.reasoning:
                job.reasoning.append(delta.reasoning)
            job.dirty = True
            job.last_progress = loop.time()

    async def _conclude(self, job: Job, status: MessageStatus, error: dict[str, str] | None) -> None:
        """Commit the final message, then announce it (DESIGN §2.2)."""
        content, reasoning = job.content()
        final = job.message.replace(content=content, reasoning=reasoning, status=status, error=error)
        for attempt in range(3):
            try:
                final = await self.messages.finish_message(final)
                break
            except Exception:
                log.exception("resumechat: committing stream %s failed (attempt %d)",
                              job.info.stream_id, attempt + 1)
                await asyncio.sleep(0.2 * 2**attempt)
        job.final = final
        await self.streams.finish(job.info.stream_id, final.to_json(), self.settings.stream_ttl)

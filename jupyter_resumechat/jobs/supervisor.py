"""The supervisor: one task per server that keeps every job honest.

Every ``checkpoint_interval`` it writes the partial text of the jobs that
grew (one transaction, or one per reply when that fails), renews this
server's leases (the streams' and the database heartbeat), hands the replies
of dead servers to ``adopt``, stops models that went silent, and now and then
recovers replies whose owner's lease lapsed.  It sees the running jobs
through a ``JobTable`` only.  A failing step is logged once per streak and
retried next tick; the loop never dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ..background import Loop
from ..errors import NotFound, ResumeChatError
from ..models import MessageStatus
from ..store import MessageStore
from ..streams import StreamInfo, StreamStore
from .job import Ending, JobSettings, JobState
from .recovery import Recovery
from .table import JobTable

__all__ = ["Supervisor"]

log = logging.getLogger("jupyter_resumechat.jobs")


class Supervisor:
    """Runs the periodic duties over one server's table of jobs."""

    def __init__(
        self,
        table: JobTable,
        streams: StreamStore,
        messages: MessageStore,
        recovery: Recovery,
        settings: JobSettings,
        *,
        adopt: Callable[[Ending], None],
        on_activity: Callable[[], None] | None = None,
        sweep_parked: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.table = table
        self.streams = streams
        self.messages = messages
        self.recovery = recovery
        self.settings = settings
        self.adopt = adopt
        self.on_activity = on_activity
        self.sweep_parked = sweep_parked  # runs that wait: lapsed claims, tool_wait_timeout
        self.interval = max(0.05, settings.checkpoint_interval)
        self._failing: set[str] = set()
        self._stopping = asyncio.Event()
        self._next_heartbeat = 0.0
        self._next_sweep = 0.0
        self._next_parked = 0.0

    def loop(self) -> Loop:
        """The supervisor's loop, for the manager's task group."""
        return Loop("resumechat-supervisor", self.run, self.stop)

    def stop(self) -> None:
        """End the loop after its current tick (cooperative: a cancel landing inside
        a Redis call can be swallowed by redis-py, and the loop would outlive us)."""
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            self._forgive_freeze(loop.time() - last - self.interval)
            await self.tick()
            last = loop.time()  # a slow tick is not a pause of the process
        await self._step(self.checkpoint)  # one last checkpoint on the way out

    async def tick(self) -> None:
        for step in (
            self.checkpoint,
            self.heartbeat,
            self.keep_leases,
            self.stop_stalled,
            self.recover,
            self.parked,
        ):
            await self._step(step)

    async def _step(self, step: Callable[[], Awaitable[None]]) -> None:
        name = step.__name__
        try:
            await step()
        except Exception as exc:
            if name not in self._failing:
                self._failing.add(name)
                if isinstance(exc, ResumeChatError):
                    log.warning(
                        "resumechat: supervisor step %s failed (%s); retrying every tick", name, exc.detail
                    )
                else:
                    log.exception("resumechat: supervisor step %s failed; retrying every tick", name)
            return
        if name in self._failing:
            self._failing.discard(name)
            log.warning("resumechat: supervisor step %s works again", name)

    def _forgive_freeze(self, frozen: float) -> None:
        """The process was paused (laptop sleep, VM pause): that was not the model's
        silence, so it does not count towards ``provider_timeout`` (§ issue 9)."""
        if frozen > max(2.0, 5 * self.interval):  # not a slow turn of a busy loop
            log.warning("resumechat: the server was paused for %.1f s", frozen)
            for job in self.table:
                job.last_progress += frozen

    async def checkpoint(self) -> None:
        """Partial text of every grown job; a reply that fails stays due."""
        dirty = [job for job in self.table if job.dirty and job.state is JobState.GENERATING]
        partials = []
        for job in dirty:
            job.dirty = False
            partials.append((job.message.id, *job.content()))
        failed = await self.messages.checkpoint(partials)
        for job in dirty:
            if job.message.id in failed:
                job.dirty = True
        if failed:
            raise ResumeChatError(f"{len(failed)} of {len(partials)} checkpoint(s) failed")

    async def keep_leases(self) -> None:
        """The streams' leases (shared stores) and the adoption of dead servers' streams."""
        if len(self.table) and self.on_activity is not None:
            self.on_activity()
        await self.streams.renew(self.table.tokens(), self.settings.owner_lease)
        for orphan in await self.streams.claim_orphans():
            await self._adopt(orphan)

    async def heartbeat(self) -> None:
        """This instance's lease in the database, every third of a lease; a step of
        its own, so Redis being down does not also let the database lease lapse.
        The schema version is checked again with it: a database a newer server
        moved past this one makes every endpoint refuse (docs/protocol.md#upgrades)."""
        now = asyncio.get_running_loop().time()
        if now >= self._next_heartbeat:
            await self.messages.instances.heartbeat(self.settings.owner_lease)
            await self.messages.versions.check()
            await self._give_up_taken()
            self._next_heartbeat = now + self.settings.owner_lease / 3

    async def _give_up_taken(self) -> None:
        """Jobs whose reply another server recovered while our lease had lapsed
        stop; their final is refused (``Commit.TAKEN``) and the recoverer's ending
        is announced to their readers instead: one generation per conversation."""
        running = {job.message.id: job for job in self.table if job.state is JobState.GENERATING}
        for message_id in await self.messages.instances.taken(list(running)):
            log.warning(
                "resumechat: stream %s was recovered by another server while this one's lease "
                "had lapsed; stopping it",
                running[message_id].info.stream_id,
            )
            running[message_id].stop(MessageStatus.INTERRUPTED)

    async def _adopt(self, info: StreamInfo) -> None:
        """A reply whose server died: keep every word the stream holds, as interrupted.
        A parked run's stream whose lease was left behind is only parked again."""
        message = await self.messages.message_for_stream(info.stream_id)
        if message is None:
            await self.streams.expire(info.stream_id)
            return
        if await self.messages.parked_runs(message.id):  # a run that waits: not dead, no owner
            await self.streams.park(info.stream_id, info.token)
            return
        content, reasoning = message.content, message.reasoning
        with contextlib.suppress(NotFound):
            snapshot = (await self.streams.read_after(info.stream_id, None, 0)).events[0].data
            if len(snapshot["content"]) >= len(content):
                content, reasoning = snapshot["content"], snapshot.get("reasoning", "")
        # its server died after the run's calls were committed but before it parked: it waits on
        if await self.messages.park_lapsed(message.id, None, (content, reasoning), any_owner=True):
            await self.streams.park(info.stream_id, info.token)
            return
        log.warning("resumechat: the server running stream %s is gone; concluding it here", info.stream_id)
        self.adopt(
            Ending(
                info,
                message.replace(content=content, reasoning=reasoning, status=MessageStatus.INTERRUPTED),
                adopted=True,
            )
        )

    async def parked(self) -> None:
        """Runs that wait, every half lease: a page claim that lapsed, a wait too long."""
        if self.sweep_parked is not None and asyncio.get_running_loop().time() >= self._next_parked:
            self._next_parked = asyncio.get_running_loop().time() + max(
                self.interval, self.settings.owner_lease / 2
            )
            await self.sweep_parked()

    async def stop_stalled(self) -> None:
        now = asyncio.get_running_loop().time()
        limit = self.settings.provider_timeout
        for job in self.table:
            if job.run is not None and job.run.executing:
                continue  # a tool runs: the model is not being silent
            if job.state is JobState.GENERATING and now - job.last_progress > limit:
                job.stop(
                    MessageStatus.ERROR,
                    {"type": "timeout", "detail": f"the model sent nothing for {limit:g} s"},
                )

    async def recover(self) -> None:
        """Now and then: settle replies of servers whose lease lapsed, and the spool."""
        now = asyncio.get_running_loop().time()
        if now >= self._next_sweep:
            self._next_sweep = now + max(self.interval, self.settings.owner_lease / 2)
            await self.recovery.run()

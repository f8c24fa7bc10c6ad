"""The supervisor: one task per server that keeps every job honest.

Every ``checkpoint_interval`` it writes the partial text of all jobs that
grew (one transaction), renews this server's leases and adopts the jobs of
servers that died (shared stores), and stops models that went silent. A
failing step is logged and retried next tick; the loop never dies.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..models import MessageStatus
from ..streams import StreamInfo

if TYPE_CHECKING:
    from .manager import JobManager

__all__ = ["Supervisor"]

log = logging.getLogger("jupyter_resumechat.jobs")


class Supervisor:
    """Runs the periodic duties of one JobManager."""

    def __init__(self, manager: JobManager) -> None:
        self.manager = manager

    async def run(self) -> None:
        """Tick until the manager stops. Stopping is cooperative, not by
        cancellation: a cancel that lands inside a Redis call can be swallowed
        by redis-py, and the loop would then outlive the server."""
        interval = max(0.05, self.manager.settings.checkpoint_interval)
        while not self.manager.stopping:
            await asyncio.sleep(interval)
            for step in (self.checkpoint, self.keep_leases, self.stop_stalled):
                try:
                    await step()
                except Exception:
                    log.exception("resumechat: supervisor step %s failed; will retry", step.__name__)

    async def keep_leases(self) -> None:
        if self.manager._jobs and self.manager.on_activity is not None:
            self.manager.on_activity()
        await self.manager.streams.renew(list(self.manager._jobs), self.manager.settings.owner_lease)
        for orphan in await self.manager.streams.claim_orphans():
            await self.conclude_orphan(orphan)

    async def stop_stalled(self) -> None:
        now = asyncio.get_running_loop().time()
        for job in list(self.manager._jobs.values()):
            if now - job.last_progress > self.manager.settings.provider_timeout:
                job.stop(MessageStatus.ERROR, {
                    "type": "timeout",
                    "detail": f"the model sent nothing for {self.manager.settings.provider_timeout:g} s",
                })

    async def conclude_orphan(self, info: StreamInfo) -> None:
        """A job whose server died: keep every word the stream holds, mark it interrupted."""
        log.warning("resumechat: the server running stream %s is gone; marking it interrupted",
                    info.stream_id)
        message = await self.manager.messages.message_for_stream(info.stream_id)
        if message is None:
            return
        snapshot = (await self.manager.streams.read_after(info.stream_id, None, 0)).events[0].data
        content = snapshot["content"] if len(snapshot["content"]) >= len(message.content) else message.content
        final = await self.manager.messages.finish_message(message.replace(
            content=content, reasoning=snapshot.get("reasoning", ""), status=MessageStatus.INTERRUPTED))
        await self.manager.streams.finish(info.stream_id, final.to_json(), self.manager.settings.stream_ttl)

    async def checkpoint(self) -> None:
        """One transaction for all the jobs whose text grew since the last tick."""
        dirty = [job for job in self.manager._jobs.values() if job.dirty]
        partials = []
        for job in dirty:
            job.dirty = False
            partials.append((job.message.id, *job.content()))
        try:
            await self.manager.messages.checkpoint(partials)
        except BaseException:
            for job in dirty:
                job.dirty = True
            raise

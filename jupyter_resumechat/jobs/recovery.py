"""Recovery of replies whose server is gone, and of finals that waited in the spool.

Run at start and then periodically by the supervisor, on every server:

* a ``streaming`` reply whose owner's lease lapsed (docs/protocol.md#bounded-loss) becomes
  ``interrupted`` with its checkpointed text (or, if its run only waited for a
  decision or a page, is parked: it died before its park committed), unless its stream is still open
  in a shared StreamStore: then the stream's lease decides, and whoever claims
  it concludes it with the stream's (fuller) text;
* finals spooled at a stop with the database down are committed.
"""

from __future__ import annotations

import logging

from ..errors import NotFound, Unavailable
from ..store import Commit, MessageStore, Spool
from ..streams import StreamStore

__all__ = ["Recovery"]

log = logging.getLogger("jupyter_resumechat.jobs")


class Recovery:
    """Finds and settles what a dead server or a failed stop left behind."""

    def __init__(self, messages: MessageStore, streams: StreamStore, spool: Spool | None) -> None:
        self.messages = messages
        self.streams = streams
        self.spool = spool

    async def run(self) -> int:
        """Replay the spool, then recover lapsed replies; returns how many were recovered."""
        await self.replay_spool()
        return await self.sweep()

    async def replay_spool(self) -> None:
        if self.spool is None:
            return
        for spooled in await self.spool.pending():
            result = await self.messages.finish_message(spooled.message, owner=spooled.owner)
            if result.outcome is Commit.DONE:
                log.warning(
                    "resumechat: saved message %s, unsaved at the last stop (%d characters)",
                    spooled.message.id,
                    len(spooled.message.content),
                )
            else:
                log.warning(
                    "resumechat: dropped the unsaved copy of message %s: the database moved on (%s)",
                    spooled.message.id,
                    result.outcome.value,
                )
            await self.spool.remove(spooled)

    async def sweep(self) -> int:
        recovered = 0
        for reply in await self.messages.instances.lapsed_replies():
            if await self._stream_open(reply.stream_id):
                continue  # its lease in the StreamStore decides (claim_orphans)
            waiting = await self.messages.park_lapsed(reply.message_id, reply.owner_instance)
            if waiting is not None:  # it died before its park committed: it waits on
                log.warning(
                    "resumechat: message %s, left by a server that stopped, waits for %s",
                    reply.message_id,
                    waiting,
                )
            elif await self.messages.recover_lapsed(reply):
                recovered += 1
        if recovered:
            log.warning(
                "resumechat: %d message(s) left streaming by a previous run "
                "(a server that stopped or whose lease lapsed) are now 'interrupted'",
                recovered,
            )
        return recovered

    async def _stream_open(self, stream_id: str) -> bool:
        """Open, or unknown for now (its store is down): either way not ours to settle yet."""
        try:
            return not (await self.streams.info(stream_id)).finished
        except NotFound:
            return False
        except Unavailable:
            return True

"""The one way a reply ends: commit the final message, then announce it.

Persist before announce (docs/protocol.md#persist-before-announce): the ``final`` event goes out only
after the database holds the message.  A commit that fails (database down,
disk full, read-only) is retried with backoff until it succeeds or the
server gives up at stop; readers meanwhile get keepalives, and the stream
stays open, so it cannot expire.  Every ending passes here, so this is where
an error's detail loses any secret an upstream echoed (``Redactor``) before
it is stored or sent.  Commits are fenced by the reply's owner:
a server that lost its reply to another writes nothing (docs/protocol.md#bounded-loss).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from ..errors import InvalidRequest, LeaseLost, NotFound, ResumeChatError, Unavailable
from ..models import Message
from ..redaction import Redactor
from ..store import Commit, CommitResult, MessageStore
from ..streams import StreamStore
from .job import Ending

__all__ = ["Concluder", "Unsaved"]

log = logging.getLogger("jupyter_resumechat.jobs")

FIRST_DELAY = 0.1
MAX_DELAY = 5.0


class Unsaved(ResumeChatError):
    """The server stopped before the database took the final; spool it."""


class Concluder:
    """Commits and announces the final message of local and adopted replies alike."""

    def __init__(
        self,
        messages: MessageStore,
        streams: StreamStore,
        stream_ttl: float,
        redact: Redactor | None = None,
    ) -> None:
        self.messages = messages
        self.streams = streams
        self.stream_ttl = stream_ttl
        self.redact = redact or Redactor()
        self.give_up = asyncio.Event()  # set at stop, once waiting longer is pointless

    async def conclude(self, ending: Ending) -> Message | None:
        """The committed final, announced; ``None`` if another server owns the reply.

        Raises ``Unsaved`` when ``give_up`` is set before the commit succeeded.
        """
        ending = self.redacted(ending)
        result = await self._commit(ending)
        final = result.message or ending.message  # GONE: the readers still need a final
        if result.outcome is Commit.TAKEN and not ending.adopted:
            log.warning(
                "resumechat: stream %s was concluded by another server (%s); this one writes nothing more",
                ending.info.stream_id,
                final.status.value,
            )
        await self._announce(ending, final)
        return None if result.outcome is Commit.TAKEN and not ending.adopted else final

    def redacted(self, ending: Ending) -> Ending:
        """The ending with no secret in its error (a gateway may echo the key)."""
        error = ending.message.error
        if not error:
            return ending
        clean = {key: self.redact(str(value)) for key, value in error.items()}
        return dataclasses.replace(ending, message=ending.message.replace(error=clean))

    async def _commit(self, ending: Ending) -> CommitResult:
        delay, attempt = FIRST_DELAY, 0
        while True:
            try:
                return await self.messages.finish_message(ending.message, adopt=ending.adopted)
            except (Unavailable, InvalidRequest) as exc:
                attempt += 1
                if attempt == 1 or attempt % 10 == 0:
                    log.warning(
                        "resumechat: committing stream %s failed (attempt %d, retrying "
                        "every %g s at most): %s",
                        ending.info.stream_id,
                        attempt,
                        MAX_DELAY,
                        exc.detail,
                    )
            if await self._wait(delay):
                raise Unsaved(f"stream {ending.info.stream_id} was not saved before the stop")
            delay = min(delay * 2, MAX_DELAY)

    async def _announce(self, ending: Ending, final: Message) -> None:
        """The stream's final; a stream adopted by another server is theirs to end."""
        delay = FIRST_DELAY
        while True:
            try:
                await self.streams.finish(
                    ending.info.stream_id, final.to_json(), self.stream_ttl, token=ending.info.token
                )
                return
            except (LeaseLost, NotFound):
                return
            except Unavailable as exc:
                log.warning(
                    "resumechat: announcing the final of stream %s failed: %s",
                    ending.info.stream_id,
                    exc.detail,
                )
            if await self._wait(delay):
                return  # the database has it: readers reload when the stream lapses
            delay = min(delay * 2, MAX_DELAY)

    async def pause(self, delay: float) -> bool:
        """Back off ``delay`` s before a retry; True if the server gave up meanwhile."""
        return await self._wait(delay)

    async def _wait(self, delay: float) -> bool:
        """Sleep ``delay`` s; True if the server gave up meanwhile."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.give_up.wait(), delay)
        return self.give_up.is_set()

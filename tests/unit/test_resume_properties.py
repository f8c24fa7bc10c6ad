"""Hypothesis properties of the event log and of resuming (docs/protocol.md#exactly-once, #slow-readers)."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_resumechat.eventstream import Reply, decode_event, encode_event
from jupyter_resumechat.models import EventKind, utcnow
from jupyter_resumechat.streams import MemoryStreamStore, StreamInfo

pieces = st.text(min_size=1, max_size=8)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("text"), pieces),
        st.tuples(st.just("reasoning"), pieces),
        st.tuples(st.just("read"), st.integers(min_value=-3, max_value=400) | st.none()),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(steps=steps, window=st.integers(min_value=1, max_value=40))
def test_any_resume_point_rebuilds_the_exact_text(steps, window) -> None:
    async def main():
        store = MemoryStreamStore(replay_window=window)
        await store.open(StreamInfo("s", "c", "m", utcnow()))
        truth, reasoning = "", ""
        for kind, value in steps:
            if kind == "text":
                await store.append("s", text=value)
                truth += value
            elif kind == "reasoning":
                await store.append("s", reasoning=value)
                reasoning += value
            else:
                # a client that held the text up to `value` (or nothing) resumes from there
                batch = await store.read_after("s", value, 0)
                ids = [e.id for e in batch.events]
                assert ids == sorted(set(ids))
                if batch.events and batch.events[0].kind is EventKind.DELTA:
                    assert value is not None and ids[0] == value + 1
                    continue  # a delta-only answer presumes the client's own prefix
                assert batch.events == [] or batch.events[0].kind is EventKind.SNAPSHOT
                if batch.events:
                    reply = Reply()
                    for event in batch.events:  # through the wire format and the client decoder
                        sse = encode_event(event).decode().split("\n")
                        reply.apply(decode_event(sse[1][7:], sse[2][6:], sse[0][4:]))
                    assert (reply.content, reply.reasoning) == (truth, reasoning)
        await store.finish("s", {"status": "complete"}, ttl=1)
        batch = await store.read_after("s", None, 0)
        assert batch.events[0].data["content"] == truth and batch.done

    asyncio.run(main())


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(pieces, min_size=1, max_size=60), cuts=st.lists(st.integers(0, 60), max_size=8))
def test_resuming_after_every_cut_gives_each_delta_once(chunks, cuts) -> None:
    async def main():
        store = MemoryStreamStore(replay_window=1000)
        await store.open(StreamInfo("s", "c", "m", utcnow()))
        for chunk in chunks:
            await store.append("s", text=chunk)
        await store.finish("s", {"status": "complete"}, ttl=1)
        seen, text, last = [], "", 0
        for cut in [*sorted(set(cuts)), len(chunks) + 1]:
            batch = await store.read_after("s", last, 0)
            taken = [e for e in batch.events if e.id <= max(cut, last + 1)] or batch.events
            for event in taken:
                seen.append(event.id)
                text += event.data.get("text", "")
            last = taken[-1].id if taken else last
            if taken and taken[-1].kind is EventKind.FINAL:
                break
        assert text == "".join(chunks)
        assert seen == list(range(1, len(chunks) + 2))

    asyncio.run(main())

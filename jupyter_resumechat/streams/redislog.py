"""What the Redis event log holds, and the scripts that write it (no I/O here).

An entry of ``{p}{sid}:events`` carries a batch of deltas or the final.  Its
entry id is ``"<seq>-0"`` with ``seq`` the id of its *last* event, so
``XRANGE min=<last_id + 1>`` and ``XREAD`` from ``<last_id>`` find the entry
holding the next event.  Fields::

    p   JSON array of the batch's pieces (each the text, or the reasoning)
    k   one letter per piece, "t" text or "r" reasoning; absent: all text
    f   the final message (JSON); the entry is the final event
    c   a tool call (JSON); the entry is a ``tool`` event (``redistools.py``)
    a   more of a call's arguments, ``{call_id, text}``; the entry is a ``tool_arguments`` delta

(Entries written before batching, fields ``t``/``r`` with one piece each,
still read.)  An entry with a field or a piece kind not listed here was
written by a newer format (``logformat.py``): reading it raises
``Unavailable`` naming the field, never a guess.  The log is trimmed by id (``MINID``, exact: batched entries
are few) to the entries holding the last ``replay_window`` events; a batch
holds at most ``replay_window`` pieces.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import Unavailable
from ..models import Event, EventKind
from .batcher import Batch

__all__ = ["APPEND", "batch_args", "batch_events", "entry_events", "placed_calls"]

# KEYS: events, text, reason, meta.  ARGV: gen, window, first, last, pieces, kinds, text, reasoning.
# Applies the whole batch or none; a batch already applied (a retry) is skipped.
APPEND = """
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
if redis.call('HGET', KEYS[4], 'gen') ~= ARGV[1] then return -2 end
if redis.call('HEXISTS', KEYS[4], 'final') == 1 then return -1 end
local current = tonumber(redis.call('HGET', KEYS[4], 'seq'))
local first, last = tonumber(ARGV[3]), tonumber(ARGV[4])
if current >= last then return last end
if current ~= first - 1 then return -3 end
redis.call('HSET', KEYS[4], 'seq', last)
if ARGV[7] ~= '' then redis.call('APPEND', KEYS[2], ARGV[7]) end
if ARGV[8] ~= '' then redis.call('APPEND', KEYS[3], ARGV[8]) end
local floor = last - tonumber(ARGV[2])
if floor < 1 then floor = 1 end
if ARGV[6] == '' then
  redis.call('XADD', KEYS[1], 'MINID', floor, last .. '-0', 'p', ARGV[5])
else
  redis.call('XADD', KEYS[1], 'MINID', floor, last .. '-0', 'p', ARGV[5], 'k', ARGV[6])
end
return last
"""


def batch_args(batch: Batch, window: int) -> list[str | int]:
    """The script's ARGV for ``batch``; a piece is its text, or its reasoning if it has no text."""
    pieces = [t or r for t, r in zip(batch.texts, batch.reasons, strict=True)]
    reasoning = "".join(batch.reasons)
    kinds = (
        ""
        if not reasoning
        else "".join("r" if r and not t else "t" for t, r in zip(batch.texts, batch.reasons, strict=True))
    )
    return [
        batch.token,
        window,
        batch.first,
        batch.last,
        json.dumps(pieces, ensure_ascii=False, separators=(",", ":")),
        kinds,
        "".join(batch.texts),
        reasoning,
    ]


def entry_events(entry: tuple[bytes, dict[bytes, Any]]) -> list[Event]:
    """The events of one log entry, in order."""
    raw_id, fields = entry
    last = int(raw_id.split(b"-")[0])
    _refuse_unknown(fields)
    if b"f" in fields:
        return [Event(last, EventKind.FINAL, {"message": json.loads(fields[b"f"])})]
    if b"c" in fields:
        return [Event(last, EventKind.TOOL, {"call": json.loads(fields[b"c"])})]
    if b"a" in fields:
        return [Event(last, EventKind.DELTA, {"tool_arguments": json.loads(fields[b"a"])})]
    if b"p" in fields:
        pieces = json.loads(fields[b"p"])
        kinds = fields.get(b"k", b"")
        first = last - len(pieces) + 1
        if not kinds:
            return [Event(first + i, EventKind.DELTA, {"text": piece}) for i, piece in enumerate(pieces)]
        return [
            Event(first + i, EventKind.DELTA, {"reasoning" if kinds[i] == 114 else "text": piece})
            for i, piece in enumerate(pieces)
        ]
    text = fields.get(b"t", b"")  # one piece per entry, as written before batching
    if text:
        return [Event(last, EventKind.DELTA, {"text": text.decode()})]
    return [Event(last, EventKind.DELTA, {"reasoning": fields.get(b"r", b"").decode()})]


_FIELDS = {b"f", b"c", b"a", b"p", b"k", b"t", b"r"}


def _refuse_unknown(fields: dict[bytes, Any]) -> None:
    unknown = sorted(set(fields) - _FIELDS) or (
        sorted({bytes([k]) for k in fields.get(b"k", b"")} - {b"t", b"r"}) if b"p" in fields else []
    )
    if unknown or not set(fields) & {b"f", b"c", b"a", b"p", b"t", b"r"}:
        shown = ", ".join(u.decode(errors="replace") for u in unknown) or "none known"
        raise Unavailable(
            f"the Redis event log holds an entry this server cannot read (fields or kinds: {shown}); "
            "a newer jupyter-resumechat wrote it: upgrade this server"
        )


def batch_events(batch: Batch) -> list[Event]:
    """The delta events of ``batch``, as readers of its entry would get them."""
    return [
        Event(batch.first + i, EventKind.DELTA, {"text": t} if t or not r else {"reasoning": r})
        for i, (t, r) in enumerate(zip(batch.texts, batch.reasons, strict=True))
    ]


def placed_calls(meta: dict[bytes, bytes]) -> list[tuple[int, dict[str, Any]]]:
    """Each call's text offset and latest JSON, in the order the calls appeared."""
    found = []
    for key, value in meta.items():
        if key.startswith(b"at:"):
            call_id = key[3:]
            seq, offset = value.split(b":")
            raw = meta.get(b"call:" + call_id)
            if raw is not None:
                found.append((int(seq), int(offset), json.loads(raw)))
    return [(offset, call) for _, offset, call in sorted(found, key=lambda item: item[0])]

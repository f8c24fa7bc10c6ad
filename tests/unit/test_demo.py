"""The demo model: its directives, and a continue that sends the rest of the same reply."""

from __future__ import annotations

from datetime import datetime, timezone

from jupyter_resumechat.providers import CONTINUE_PROMPT, ChatTurn
from jupyter_resumechat.providers.demo import DemoProvider, _Plan


async def reply(turns: list[ChatTurn]) -> list[str]:
    return [d.text async for d in DemoProvider(delay=0).stream("demo", turns) if d.text]


async def test_clock_sends_one_piece_per_tick():
    pieces = await reply([ChatTurn("user", "/clock 5")])
    assert len(pieces) == 5 and all(float(p) > 0 for p in pieces)


async def test_at_starts_replies_sent_apart_together():
    """``/at T``: replies sent one after another start at wall-clock T, not each its wait
    after its own send (B3's 1,000 concurrent replies)."""
    import time

    start = time.time() + 0.3
    pieces = await reply([ChatTurn("user", f"/at {start:.6f} /clock 2")])
    assert len(pieces) == 2 and float(pieces[0]) >= start
    assert _Plan(f"/at {time.time() - 60:.6f} hi", 0).wait == 0  # already past: at once


async def test_continue_sends_the_rest_of_the_same_reply():
    prompt = "/repeat 10 ab "
    whole = "".join(await reply([ChatTurn("user", prompt)]))
    for cut in (0, 1, 7, 8, len(whole) - 1):
        turns = [
            ChatTurn("user", prompt),
            ChatTurn("assistant", whole[:cut]),
            ChatTurn("user", CONTINUE_PROMPT),
        ]
        rest = "".join(await reply(turns)) if cut else "".join(await reply([ChatTurn("user", prompt)]))
        assert whole[:cut] + rest == whole, cut


async def test_the_demo_lists_what_was_attached() -> None:
    from jupyter_resumechat.jobs.job import with_context
    from jupyter_resumechat.models import Context, Message, MessageStatus, Role

    now = datetime.now(timezone.utc)
    message = Message(
        "u",
        "c",
        Role.USER,
        "Which region earns most?",
        MessageStatus.COMPLETE,
        now,
        now,
        context=[
            Context("variable", "sales", "pandas.DataFrame: 3 rows × 2 columns\ncolumns: …"),
            Context("cell", "In [2]", "\n\nx = `1`"),
        ],
    )
    text = "".join(
        [d.text async for d in DemoProvider(0).stream("demo", [ChatTurn("user", with_context(message))])]
    )
    assert "> Which region earns most?\n\n" in text and "<context" not in text
    assert (
        "You attached, and I read:\n\n- **sales** (variable): `pandas.DataFrame: 3 rows × 2 columns`\n- **In [2]** (cell): `x = '1'`\n\n"
        in text
    )

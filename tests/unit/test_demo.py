"""The demo model: its directives, and a continue that sends the rest of the same reply."""

from __future__ import annotations

from jupyter_resumechat.providers import CONTINUE_PROMPT, ChatTurn
from jupyter_resumechat.providers.demo import DemoProvider


async def reply(turns: list[ChatTurn]) -> list[str]:
    return [d.text async for d in DemoProvider(delay=0).stream("demo", turns) if d.text]


async def test_clock_sends_one_piece_per_tick():
    pieces = await reply([ChatTurn("user", "/clock 5")])
    assert len(pieces) == 5 and all(float(p) > 0 for p in pieces)


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

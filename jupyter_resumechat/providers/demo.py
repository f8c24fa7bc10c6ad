"""The demo provider: an offline, deterministic model for trying and testing.

It needs no key and no network, so ``pip install`` + ``jupyter lab`` works at
once.  The reply is a pure function of the prompt.  A prompt may start with
directives, which tests and benchmarks use to shape a stream:

* ``/pace SECONDS`` — the delay between pieces for this reply;
* ``/repeat N TEXT`` — the reply is TEXT sent N times, one piece each;
* ``/think TEXT`` — TEXT is streamed as reasoning before the reply;
* ``/fail N`` — send N pieces, then fail like a broken endpoint;
* ``/wait SECONDS`` — stay silent that long before the first piece;
* ``/at TIME`` — stay silent until that wall-clock time (Unix seconds): many
  replies sent one after another start together (benchmarks);
* ``/clock N`` — N pieces, each the wall-clock time it was sent (benchmarks);
* ``/tool NAME {JSON}`` (a line of its own, when tools are offered) — call the
  tool with those arguments; ``/then`` starts the next round's calls. Once
  every round is done it answers with what each call returned: an offline
  agent, so a run with tools can be shown and tested with no key.

Asked to continue a reply (docs/protocol.md#send ``continue``), it sends the rest of the
same reply, so a stopped and continued reply ends as the uninterrupted one.
What was attached to the message (docs/protocol.md#send ``Context``) it lists, each item
by the first line a model would read, so the offline demo shows what reached
the model.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

from ..errors import ProviderError
from ..models import ModelInfo, Usage
from .base import CONTINUE_PROMPT, CallDelta, ChatTurn, Delta, ToolOffer
from .tokens import PER_MESSAGE, estimate

__all__ = ["DemoProvider"]

_BURST = 64  # pieces per event-loop turn when the pace is 0
_CONTEXT = re.compile(r'<context kind="([^"]*)" name="([^"]*)">\n(.*?)\n</context>\n\n', re.S)
_TOOL = re.compile(r"^/tool\s+([A-Za-z0-9_-]+)\s*(.*?)\s*$", re.M)
_ARGUMENT_PIECE = 16  # a call's arguments stream in pieces this long, as a real model's do
_DIRECTIVE = re.compile(r"^/(pace|repeat|think|fail|wait|at|clock)\s+(\S+)(?:\s+(.*))?$", re.S)


class DemoProvider:
    """Streams a canned, deterministic reply word by word."""

    name = "demo"
    default_model = "demo"

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay

    def models(self) -> list[ModelInfo]:
        return [ModelInfo("demo", "demo", "Demo model (offline)")]

    async def stream(
        self, model: str, turns: list[ChatTurn], tools: Sequence[ToolOffer] = ()
    ) -> AsyncIterator[Delta]:
        if tools and (agent := _agent_round(turns)) is not None:
            async for delta in self._agent(agent, turns):
                yield delta
            return
        done = ""  # a continue: the reply so far, then the request to go on
        if len(turns) >= 3 and turns[-1].content == CONTINUE_PROMPT and turns[-2].role == "assistant":
            done, turns = turns[-2].content, turns[:-2]
        prompt = turns[-1].content if turns else ""
        plan = _Plan(prompt, self.delay)
        if plan.wait:
            await asyncio.sleep(plan.wait)
        for piece in [] if done else plan.reasoning:
            yield Delta(reasoning=piece)
            await asyncio.sleep(plan.delay)
        sent = 0
        for count, piece in enumerate(_after(plan.pieces(len(turns)), len(done))):
            if plan.fail_after is not None and count == plan.fail_after:
                raise ProviderError("the demo model failed as asked", type="demo_failure")
            yield Delta(text=f"{time.time():.6f} " if plan.clock else piece)
            sent = count + 1
            if plan.delay or count % _BURST == 0:
                # At full speed pieces come in bursts, as they do from a socket read.
                await asyncio.sleep(plan.delay)
        # usage as a real endpoint reports it: the prompt by the documented estimate, a piece a token
        yield Delta(
            usage=Usage(sum(estimate(t.content) + PER_MESSAGE for t in turns), sent + len(plan.reasoning))
        )

    async def _agent(self, calls: list[tuple[str, str]], turns: list[ChatTurn]) -> AsyncIterator[Delta]:
        """One round of the offline agent: its calls, or (none left) what the calls returned."""
        if not calls:
            for piece in _words(_agent_answer(turns)):
                yield Delta(text=piece)
                await asyncio.sleep(self.delay)
            return
        rounds = sum(1 for t in turns if t.calls)
        for index, (name, arguments) in enumerate(calls):
            call_id = f"demo_{rounds}_{index}"
            yield Delta(call=CallDelta(call_id, name, "", started=True))
            for start in range(0, len(arguments), _ARGUMENT_PIECE):
                yield Delta(call=CallDelta(call_id, name, arguments[start : start + _ARGUMENT_PIECE]))
                await asyncio.sleep(self.delay)

    async def close(self) -> None:
        return None


def _agent_round(turns: list[ChatTurn]) -> list[tuple[str, str]] | None:
    """The calls of this round when the user's prompt scripts an agent (None when it does not)."""
    asked = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "user"), None)
    if asked is None or not _TOOL.search(turns[asked].content):
        return None
    rounds = [_TOOL.findall(block) for block in re.split(r"^/then\s*$", turns[asked].content, flags=re.M)]
    done = sum(1 for t in turns[asked + 1 :] if t.calls)
    return [(name, arguments or "{}") for name, arguments in rounds[done]] if done < len(rounds) else []


def _agent_answer(turns: list[ChatTurn]) -> str:
    called = {c.provider_id: c.name for t in turns for c in t.calls}
    lines = [
        f"- `{called.get(t.call_id or '', '?')}` {'failed' if t.is_error else 'answered'}: {_first_line(t.content)}"
        for t in turns
        if t.role == "tool"
    ]
    return "The **demo agent** called its tools:\n\n" + "\n".join(lines) + "\n\nDone."


class _Plan:
    """What one prompt asks the demo model to do."""

    def __init__(self, prompt: str, delay: float) -> None:
        self.delay = delay
        self.repeat: tuple[int, str] | None = None
        self.reasoning: list[str] = []
        self.fail_after: int | None = None
        self.wait = 0.0
        self.clock = False
        self.prompt = prompt
        self._parse(prompt.lstrip())

    def _parse(self, text: str) -> None:
        while (match := _DIRECTIVE.match(text)) is not None:
            name, arg, rest = match.group(1), match.group(2), match.group(3) or ""
            if name in {"pace", "wait"} and _is_number(arg):
                setattr(self, "delay" if name == "pace" else "wait", min(max(0.0, float(arg)), 3600.0))
            elif name == "at" and _is_number(arg):
                self.wait = min(max(0.0, float(arg) - time.time()), 3600.0)
            elif name == "clock" and arg.isdigit():
                self.clock, self.repeat = True, (min(int(arg), 10_000_000), "")
            elif name == "fail":
                self.fail_after = int(arg) if arg.isdigit() else 0
            elif name == "repeat" and arg.isdigit():
                self.repeat = (min(int(arg), 10_000_000), rest)
                rest = ""
            elif name == "think":
                line, _, rest = f"{arg} {rest}".partition("\n")
                self.reasoning = _words(line)
            self.prompt = text = rest.lstrip()

    def pieces(self, turn_count: int) -> Iterable[str]:
        if self.repeat is not None:
            return itertools.repeat(self.repeat[1], self.repeat[0])
        if self.fail_after is not None and not self.prompt:
            return itertools.repeat("word ", self.fail_after + 1)
        return _words(_reply(self.prompt, turn_count))


def _after(pieces: Iterable[str], skip: int) -> Iterator[str]:
    """The pieces past the first ``skip`` characters: the same reply, continued."""
    for piece in pieces:
        if skip and skip >= len(piece):
            skip -= len(piece)
            continue
        yield piece[skip:]
        skip = 0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _words(text: str) -> list[str]:
    """Split into pieces that join back to ``text`` exactly."""
    return re.findall(r"\S+\s*|\s+", text)


def _attached(prompt: str) -> tuple[str, str]:
    """The question, and a list of what was attached to it (empty when nothing was)."""
    items = _CONTEXT.findall(prompt)
    if not items:
        return prompt, ""
    question = _CONTEXT.sub("", prompt)
    lines = [f"- **{name}** ({kind}): `{_first_line(content)}`" for kind, name, content in items]
    return question, "You attached, and I read:\n\n" + "\n".join(lines) + "\n\n"


def _first_line(text: str) -> str:
    line = next((line for line in text.splitlines() if line.strip()), "").strip().replace("`", "'")
    return line if len(line) <= 80 else line[:80] + "…"


def _reply(prompt: str, turn_count: int) -> str:
    prompt, attached = _attached(prompt)
    quoted = prompt if len(prompt) <= 200 else prompt[:200] + "…"
    return (
        f"This is the **demo model** (turn {turn_count}), answering offline.\n\n"
        f"> {quoted}\n\n"
        f"{attached}"
        "Every piece of this reply is numbered and kept by the Jupyter server, "
        "so you can reload the tab, restart the kernel or close the laptop and "
        "come back to the whole reply:\n\n"
        "1. the server runs the generation as a job of its own;\n"
        "2. each piece is sequenced and kept in a replay log;\n"
        "3. the text is checkpointed to the database every second.\n\n"
        "```python\nfrom jupyter_resumechat import ChatPanel\nChatPanel()\n```\n\n"
        "Configure a real model with `ResumeChat.provider` (OpenAI-compatible or Anthropic)."
    )

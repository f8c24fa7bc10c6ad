"""Fitting a conversation into a model's token budget (jobs/window.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from jupyter_resumechat.jobs.window import DEFAULT_BUDGET, PER_MESSAGE, budget_for, calibration, estimate, fit
from jupyter_resumechat.models import Context, Message, MessageStatus, Role, Usage, Window
from jupyter_resumechat.providers import ChatTurn

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def turns(count: int, size: int = 40) -> list[ChatTurn]:
    """Alternating user / assistant turns of ``size`` ASCII characters (10 tokens + framing)."""
    return [
        ChatTurn("user" if i % 2 == 0 else "assistant", f"{i:02d}".ljust(size, ".")) for i in range(count)
    ]


def test_estimate_counts_utf8_bytes_by_four() -> None:
    assert estimate("") == 0
    assert estimate("abcd") == 1 and estimate("abcde") == 2
    assert estimate("é" * 2) == 1  # 4 bytes
    assert estimate("日本") == 2  # 6 bytes


def test_everything_fits_a_large_budget() -> None:
    history = turns(7)
    fitted = fit(history, keep=1, budget=10_000)
    assert fitted.turns == history
    assert fitted.window == Window(10_000, 7 * (10 + PER_MESSAGE), 0)


def test_the_oldest_turns_go_first_and_what_is_sent_starts_with_the_user() -> None:
    history = turns(9)  # 14 tokens each
    fitted = fit(history, keep=1, budget=4 * 14 + 5)
    # four turns fit, but the fourth from the end is the model's: it goes too
    assert fitted.turns == history[-3:]
    assert fitted.turns[0].role == "user"
    assert fitted.window.omitted == 6 and fitted.window.tokens == 3 * 14


def test_the_current_message_is_sent_even_over_budget() -> None:
    history = [*turns(4), ChatTurn("user", "x" * 4000)]
    fitted = fit(history, keep=1, budget=100)
    assert fitted.turns == history[-1:]
    assert fitted.window.tokens > 100 and fitted.window.omitted == 4


def test_a_continued_reply_keeps_its_last_three_turns() -> None:
    history = [
        *turns(6),
        ChatTurn("user", "q"),
        ChatTurn("assistant", "partial " * 50),
        ChatTurn("user", "go on"),
    ]
    fitted = fit(history, keep=3, budget=10)
    assert fitted.turns == history[-3:]


def test_a_calibrated_scale_sends_fewer_turns() -> None:
    history = turns(9)
    assert len(fit(history, 1, 14 * 5, scale=2.0).turns) < len(fit(history, 1, 14 * 5).turns)


def test_budgets_by_model_and_glob() -> None:
    table = {"gpt-4o*": 128_000, "gpt-4o-mini*": 64_000, "llama3": 8_192, "*": 4_096}
    assert budget_for("llama3", table) == 8_192
    assert budget_for("gpt-4o-2024", table) == 128_000
    assert budget_for("gpt-4o-mini-2024", table) == 64_000  # the most specific glob
    assert budget_for("other", table) == 4_096
    assert budget_for("other", {}) == DEFAULT_BUDGET


def reply(tokens: int, reported: int | None) -> Message:
    usage = Usage(reported, 1) if reported is not None else None
    return Message(
        "a",
        "c",
        Role.ASSISTANT,
        "x",
        MessageStatus.COMPLETE,
        NOW,
        NOW,
        usage=usage,
        window=Window(1000, tokens),
    )


def test_calibration_follows_the_models_own_count_and_converges() -> None:
    assert calibration([]) == 1.0
    assert calibration([reply(100, None)]) == 1.0  # no count reported
    assert calibration([reply(100, 150)]) == 1.5
    # the next window was made with scale 1.5 (150 estimated tokens): the same truth keeps 1.5
    assert calibration([reply(100, 150), reply(150, 150)]) == 1.5
    assert calibration([reply(100, 100_000)]) == 3.0  # a miscount is bounded
    # a count below the estimate (a truncated prompt, cached tokens) never makes it send more
    assert calibration([reply(100, 1)]) == 1.0
    assert calibration([reply(100, 150), reply(150, 75)]) == 1.0


def test_cut_bounds_an_item_and_says_how_much_went() -> None:
    short = Context("text", "t", "short")
    assert short.bounded(100) is short
    bounded = Context("text", "t", "a" * 10_000).bounded(1000).content
    assert len(bounded) == 1000 and bounded.startswith("aaa")
    assert bounded.endswith(f"({10_000 - 1000} more characters left out)")

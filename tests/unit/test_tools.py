"""Tools without a server: a call's life, the approval policy, arguments, results, declarations."""

from __future__ import annotations

import json

import pytest

from jupyter_resumechat.tools import (
    ENDED,
    PAGE_TOOLS,
    Approval,
    BadArguments,
    CallStatus,
    Effect,
    IllegalMove,
    RunsOn,
    ToolSpec,
    advance,
    approval_for,
    bound_result,
    can_move,
    check_arguments,
    parse_arguments,
    parse_rules,
)

# --- a call's life -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ["proposed", "approved", "running", "done"],
        ["proposed", "awaiting_approval", "approved", "running", "error"],
        ["proposed", "awaiting_approval", "denied"],
        ["proposed", "awaiting_approval", "cancelled"],
        ["proposed", "approved", "running", "unknown"],
        ["proposed", "approved", "running", "cancelled"],
        ["proposed", "error"],
    ],
)
def test_a_call_moves_along_its_life(path: list[str]) -> None:
    status = CallStatus(path[0])
    for step in path[1:]:
        status = advance(status, CallStatus(step))
    assert status.ended


@pytest.mark.parametrize("ended", sorted(ENDED, key=lambda s: s.value))
def test_an_ended_call_never_moves_again(ended: CallStatus) -> None:
    for wanted in CallStatus:
        assert not can_move(ended, wanted)
    with pytest.raises(IllegalMove, match=f"a {ended.value} call cannot become running"):
        advance(ended, CallStatus.RUNNING)


def test_an_unknown_call_is_never_run_again_and_a_denied_one_never_runs() -> None:
    assert not can_move(CallStatus.UNKNOWN, CallStatus.RUNNING)
    assert not can_move(CallStatus.AWAITING_APPROVAL, CallStatus.RUNNING)  # only after an approval
    assert not can_move(CallStatus.DENIED, CallStatus.APPROVED)  # the first decision wins


# --- approval policy --------------------------------------------------------------------------


def test_reads_run_at_once_and_writes_and_executions_ask_by_default() -> None:
    assert approval_for("file_read", Effect.READ, {}) is Approval.AUTO
    assert approval_for("file_write", Effect.WRITE, {}) is Approval.ASK
    assert approval_for("notebook_run_cell", Effect.EXECUTE, {}) is Approval.ASK


def test_the_most_specific_rule_wins() -> None:
    rules = parse_rules({"*": "ask", "notebook_*": "never", "notebook_read": "auto", "file_*": "auto"})
    assert approval_for("notebook_read", Effect.READ, rules) is Approval.AUTO  # exact beats glob
    assert approval_for("notebook_edit_cell", Effect.WRITE, rules) is Approval.NEVER  # longer glob
    assert approval_for("file_write", Effect.WRITE, rules) is Approval.AUTO
    assert approval_for("kernel_variables", Effect.READ, rules) is Approval.ASK  # "*"


def test_always_for_this_conversation_lifts_ask_but_never_never() -> None:
    rules = parse_rules({"notebook_delete_cell": "never"})
    always = {"file_write", "notebook_delete_cell"}
    assert approval_for("file_write", Effect.WRITE, rules, always) is Approval.AUTO
    assert approval_for("notebook_delete_cell", Effect.WRITE, rules, always) is Approval.NEVER
    assert approval_for("notebook_run_cell", Effect.EXECUTE, rules, always) is Approval.ASK


@pytest.mark.parametrize(
    ("rules", "says"), [({"x": "yes"}, "'auto', 'ask' or 'never'"), ({" ": "ask"}, "tool name")]
)
def test_a_bad_policy_is_refused_by_name(rules: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_rules(rules)


# --- arguments ------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string"}, "lines": {"type": "integer", "minimum": 1}},
    "required": ["path"],
    "additionalProperties": False,
}


def test_arguments_parse_and_fit() -> None:
    arguments = parse_arguments('{"path": "a.txt", "lines": 3}')
    check_arguments(arguments, SCHEMA)
    assert arguments == {"path": "a.txt", "lines": 3}
    assert parse_arguments("") == {} == parse_arguments("  ")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"path": "a.txt"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not list"),
        ('"a.txt"', "must be a JSON object, not str"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|not valid JSON"),
        ('{"p": "' + "x" * 1_000_001 + '"}', "over the limit"),
    ],
)
def test_unusable_arguments_say_why(text: str, says: str) -> None:
    with pytest.raises(BadArguments, match=says):
        parse_arguments(text)


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({}, "'path' is a required property"),
        ({"path": 3}, r"at\['path'\]: 3 is not of type 'string'"),
        ({"path": "a", "lines": 0}, r"at\['lines'\]"),
        ({"path": "a", "rm": True}, "Additional properties"),
    ],
)
def test_arguments_that_break_the_schema_are_named_for_the_model(
    arguments: dict[str, object], says: str
) -> None:
    with pytest.raises(BadArguments, match=says) as caught:
        check_arguments(arguments, SCHEMA)
    assert len(str(caught.value)) < 400


def test_a_tool_with_a_broken_schema_is_refused_not_run() -> None:
    with pytest.raises(BadArguments, match="the tool's own schema is invalid"):
        check_arguments({}, {"type": "object", "properties": {"x": {"type": 12}}})


# --- results --------------------------------------------------------------------------------


def test_a_result_is_cut_to_the_limit_saying_how_much_it_kept() -> None:
    whole = "é" * 50_000
    result = bound_result(whole, 20_000)
    assert result.truncated and len(result.content) <= 20_000
    kept = result.content.split("\n[… cut")[0]
    assert whole.startswith(kept) and f"the first {len(kept):,} of 50,000 characters" in result.content
    assert bound_result("short", 20_000).content == "short" and not bound_result("short", 20_000).truncated
    assert bound_result(whole, 0).content == whole  # 0: no limit


# --- declarations ---------------------------------------------------------------------------


def test_page_tools_are_declared_as_the_protocol_names_them() -> None:
    names = {spec.name: spec for spec in PAGE_TOOLS}
    assert list(names) == [
        "notebook_read",
        "notebook_insert_cell",
        "notebook_edit_cell",
        "notebook_delete_cell",
        "notebook_run_cell",
        "kernel_variables",
    ]
    assert all(spec.runs_on is RunsOn.PAGE for spec in PAGE_TOOLS)
    effects = {name: spec.effect.value for name, spec in names.items()}
    assert effects == {
        "notebook_read": "read",
        "notebook_insert_cell": "write",
        "notebook_edit_cell": "write",
        "notebook_delete_cell": "write",
        "notebook_run_cell": "execute",
        "kernel_variables": "read",
    }
    wire = names["notebook_edit_cell"].to_json(Approval.ASK)
    assert wire["approval"] == "ask" and wire["source"] == "builtin" and wire["runs_on"] == "page"
    json.dumps(wire)  # plain JSON
    with pytest.raises(BadArguments, match="'cell_id' is a required property"):
        check_arguments({"source": "x"}, names["notebook_edit_cell"].input_schema)


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dots.are.not.allowed", "ünï"])
def test_a_tool_name_every_model_api_accepts(name: str) -> None:
    with pytest.raises(ValueError, match="tool name must match"):
        ToolSpec(name, "d", {"type": "object"}, Effect.READ)

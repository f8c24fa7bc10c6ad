"""Tools a run may call: their declarations, approval policy, arguments, results and life.

Leaf of the core: imports nothing of jobs, stores or providers; the run loop
(``jobs/``) uses it.
"""

from __future__ import annotations

from .arguments import BadArguments, check_arguments, parse_arguments
from .base import OutcomeUnknown, RunsOn, ServerTool, ToolFailed, ToolSpec
from .files import file_tools
from .lifecycle import ENDED, CallStatus, IllegalMove, advance, can_move
from .page import PAGE_TOOLS
from .policy import Approval, Effect, approval_for, parse_rules
from .results import ToolResult, bound_result
from .toolbox import ToolBox

__all__ = [
    "ENDED",
    "PAGE_TOOLS",
    "Approval",
    "BadArguments",
    "CallStatus",
    "Effect",
    "IllegalMove",
    "OutcomeUnknown",
    "RunsOn",
    "ServerTool",
    "ToolBox",
    "ToolFailed",
    "ToolResult",
    "ToolSpec",
    "advance",
    "approval_for",
    "bound_result",
    "can_move",
    "check_arguments",
    "file_tools",
    "parse_arguments",
    "parse_rules",
]

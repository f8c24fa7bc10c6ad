"""Model providers behind one small interface, and the choice among them."""

from .base import CONTINUE_PROMPT, CallDelta, ChatTurn, Delta, MadeCall, Provider, ToolOffer
from .choice import ProviderSettings, choose_provider, make_provider

__all__ = [
    "CONTINUE_PROMPT",
    "CallDelta",
    "ChatTurn",
    "Delta",
    "MadeCall",
    "Provider",
    "ProviderSettings",
    "ToolOffer",
    "choose_provider",
    "make_provider",
]

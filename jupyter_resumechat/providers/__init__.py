"""Model providers behind one small interface, and the choice among them."""

from .base import CONTINUE_PROMPT, ChatTurn, Delta, Provider
from .choice import ProviderSettings, choose_provider, make_provider

__all__ = [
    "CONTINUE_PROMPT",
    "ChatTurn",
    "Delta",
    "Provider",
    "ProviderSettings",
    "choose_provider",
    "make_provider",
]

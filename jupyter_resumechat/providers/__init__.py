"""Model providers behind one small interface, and the choice among them."""

from .base import ChatTurn, Delta, Provider
from .choice import ProviderSettings, choose_provider, make_provider

__all__ = [
    "ChatTurn",
    "Delta",
    "Provider",
    "ProviderSettings",
    "choose_provider",
    "make_provider",
]

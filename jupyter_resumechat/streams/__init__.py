"""Event logs of generations: the StreamStore protocol and its implementations."""

from .base import ReadResult, StreamInfo, StreamStore
from .memory import MemoryStreamStore

__all__ = ["MemoryStreamStore", "ReadResult", "StreamInfo", "StreamStore"]

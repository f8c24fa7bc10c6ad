"""Durable conversations and messages on SQLAlchemy (SQLite or PostgreSQL)."""

from .messages import MessageStore, NewTurn

__all__ = ["MessageStore", "NewTurn"]

"""Discussions: models that answer each other in rounds, every word visible to the user."""

from .engine import DiscussionEngine, DiscussionError, Limits, participants_of, window
from .events import EVENTS, DiscussionEvent
from .model import USER, Digest, Discussion, Kind, Round, Said, Status

__all__ = ["EVENTS", "USER", "Digest", "Discussion", "DiscussionEngine", "DiscussionError", "DiscussionEvent",
           "Kind", "Limits", "Round", "Said", "Status", "participants_of", "window"]

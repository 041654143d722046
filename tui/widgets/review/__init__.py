"""The diff review: changed files, hunks, the reviewer's findings."""

from .choices import Choices, FileChoice, Mark
from .files import FileList
from .hunkview import HunkView
from .reviewer import ReviewerPanel

__all__ = ["Choices", "FileChoice", "FileList", "HunkView", "Mark", "ReviewerPanel"]

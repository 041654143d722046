"""Policy: where a run stops to ask the user (``[checkpoints]``), what makes moot suggest a stop
(``[thresholds]``) and how hard models are asked to think in each kind of phase (``[effort_policy]``).

All of it is opt-in: with nothing configured, runs behave as they did before policy existed (the task list is
confirmed before it is carried out, nothing else stops).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CheckpointValue = Literal["ask", "auto", "off"]
EffortValue = Literal["low", "medium", "high"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CheckpointsConfig(_Strict):
    """``ask``: suggest a stop, with the reason, and wait for the user; ``auto``: go on unless a threshold
    suggests a stop; ``off``: go on. Unset: as before policy (only ``execute`` asks)."""

    plan_review: CheckpointValue | None = None
    """After a plan is made, before anything is carried out."""
    execute: CheckpointValue | None = None
    """Before a task list is carried out (the tasks are shown)."""
    pr_cross_review: CheckpointValue | None = None
    """After a change is made: whether a second model should review it."""
    debug_escalation: CheckpointValue | None = None
    """Before a failing task is handed to the escalation model."""


#: Words in a changed file's path or lines that suggest a second reviewer.
SECURITY_WORDS = ["auth", "crypto", "token", "password", "secret", "credential", "session", "permission",
                  "private_key", "api_key"]


class ThresholdsConfig(_Strict):
    files_changed_suggest_review: int = Field(default=10, ge=1)
    """A change touching this many files or more suggests a review before going on."""
    security_sensitive_patterns: list[str] = Field(default_factory=lambda: list(SECURITY_WORDS))
    """Case-insensitive words; a diff whose paths or lines hold one suggests a cross-review by a second model."""
    debug_escalation_after_cycles: int = Field(default=2, ge=1, le=10)
    """Failed debug cycles (each with its failing output as evidence) before escalation is suggested."""
    large_context_tokens: int = Field(default=32_000, ge=1)
    """A phase whose input passes this suggests a model with a larger window."""


class EffortPolicyConfig(_Strict):
    """Reasoning effort per kind of phase, passed to models that take one (others note it as ignored)."""

    planning: EffortValue | None = None
    discussion: EffortValue | None = None
    implementation: EffortValue | None = None
    review: EffortValue | None = None
    debugging: EffortValue | None = None
    debugging_escalated: EffortValue | None = None

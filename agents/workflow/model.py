"""A workflow as data: a name, a description and its phases, validated as they are read.

    name: plan
    description: Several models plan; a judge writes the synthesis.
    phases:
      - name: plan
        type: ensemble
        output: .moot/plans/{feature}.md

A phase is one of five types: ``ensemble`` (several models answer, a judge synthesises), ``discussion`` (the
models answer each other in rounds), ``single`` (one model, one answer; ``format: tasks`` makes it a task
list), ``routed`` (the tasks of a plan carried out on a branch, each by its role's model) and ``parallel``
(several phases at once). ``input`` names what earlier phases produced: ``plan.output`` (its answer) or
``execute.outputs`` (every task's or sub-phase's result).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from moot.context.scope import ContextStrategy

Checkpoint = Literal["ask", "auto", "off"]
Effort = Literal["low", "medium", "high"]

#: A reference to what an earlier phase produced.
REF = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\.(output|outputs)$")
#: The fields an output path may use.
PATH_FIELDS = ("feature", "date", "run")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Phase(_Strict):
    name: str
    """How later phases refer to this one (``NAME.output``) and what its files are called."""
    input: list[str] = Field(default_factory=list)
    """Earlier phases' results handed to this one: ``plan.output``, ``execute.outputs``; one or a list."""
    output: str | None = None
    """Where the result is written, relative to the repository: ``{feature}`` (the task's slug), ``{date}``,
    ``{run}``. Beside it go ``NAME.prompt.txt`` and ``NAME.meta.json``."""
    instructions: str | None = None
    """What this phase asks of its models, on top of the task and its input."""
    context_strategy: ContextStrategy | None = None
    """What of the repository the models see: full, scoped, distilled or fresh (``[context] strategy``)."""
    checkpoint: Checkpoint | None = None
    """``ask`` shows the result and waits for the user, ``auto`` goes on unless a threshold suggests a stop,
    ``off`` goes on; a routed phase asks before it carries out its tasks, any other after it. Unset: the
    ``[checkpoints]`` policy."""
    effort: Effort | None = None
    """Reasoning effort asked of models that take one (others note it as ignored)."""
    seed: int | None = Field(default=None, ge=0)
    """A sampling seed for this phase's calls (where the engine honours one); written in its meta."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("a phase name starts with a letter and holds only letters, digits, '-' and '_'")
        return v

    @field_validator("checkpoint", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        """YAML reads a bare ``off`` as false (and ``on``/``yes`` as true)."""
        return {False: "off", True: "ask"}.get(v, v) if isinstance(v, bool) else v

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("input")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not REF.match(ref):
                raise ValueError(f"{ref!r} is not PHASE.output or PHASE.outputs")
        return v

    @field_validator("output")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if v.startswith(("/", "~")) or "\\" in v or ".." in v.replace("\\", "/").split("/"):
            raise ValueError("an output path stays inside the repository: relative, without '..'")
        for name in re.findall(r"{([^}]*)}", v):
            if name not in PATH_FIELDS:
                raise ValueError(f"unknown field {{{name}}} (known: {', '.join(PATH_FIELDS)})")
        return v

    def inputs(self) -> list[tuple[str, str]]:
        """(phase, ``output`` or ``outputs``) for each input."""
        return [(m.group(1), m.group(2)) for ref in self.input if (m := REF.match(ref))]


class EnsemblePhase(_Phase):
    type: Literal["ensemble"]
    models: list[str] | None = None
    """Model aliases that propose (default: the strategy's)."""
    strategy: str | None = None
    variants: list[str] | None = None
    judge: str | None = None
    mode: Literal["parallel", "sequential"] = "parallel"
    """``sequential``: each proposer sees the proposals before it."""


class DiscussionPhase(_Phase):
    type: Literal["discussion"]
    participants: list[str] | None = None
    """Model aliases (or ``alias:variant``); default: the strategy's models."""
    rounds: int = Field(default=1, ge=0, le=10)
    """Rounds after the first answers."""
    sequential: bool = False
    conclude: bool = True
    """The judge writes the outcome, which is the phase's output (else the last round)."""
    judge: str | None = None


class SinglePhase(_Phase):
    type: Literal["single"]
    model: str | None = None
    """A model alias; default: the model of ``role``."""
    role: str = "planner"
    format: Literal["text", "tasks"] = "text"
    """``tasks``: the answer is a task list (for a ``routed`` phase), asked for under its schema."""


class RoutedPhase(_Phase):
    type: Literal["routed"]
    routing: dict[str, str] = Field(default_factory=dict)
    """Role to model alias, over ``[roles]``."""
    candidates: int = Field(default=1, ge=1, le=4)


class ParallelPhase(_Phase):
    type: Literal["parallel"]
    phases: list[Annotated[EnsemblePhase | DiscussionPhase | SinglePhase, Field(discriminator="type")]]
    """Run at once; each sees this phase's input. ``NAME.outputs`` is every sub-phase's output."""

    @field_validator("phases")
    @classmethod
    def _some(cls, v: list[object]) -> list[object]:
        if len(v) < 2:
            raise ValueError("a parallel phase runs two or more phases")
        return v


Phase = Annotated[EnsemblePhase | DiscussionPhase | SinglePhase | RoutedPhase | ParallelPhase,
                  Field(discriminator="type")]
#: The types a phase may be.
PHASE_TYPES = ("ensemble", "discussion", "single", "routed", "parallel")


class Workflow(_Strict):
    name: str
    description: str = ""
    phases: list[Phase] = Field(min_length=1)

    @model_validator(mode="after")
    def _order(self) -> Workflow:
        """Names are unique (sub-phases too) and every input names a phase before it; a routed phase's input is
        a plan or a task list."""
        seen: dict[str, _Phase] = {}
        for index, phase in enumerate(self.phases):
            subs = phase.phases if isinstance(phase, ParallelPhase) else []
            for ref_phase, which in [ref for p in [phase, *subs] for ref in p.inputs()]:
                if ref_phase not in seen:
                    later = any(p.name == ref_phase for p in self.phases[index:])
                    raise ValueError(f"phases[{index}].input: {ref_phase}.{which} names "
                                     f"{'a later phase' if later else 'no phase'}; a phase sees only the phases "
                                     "before it")
            for name in [phase.name, *(p.name for p in subs)]:
                if name in seen:
                    raise ValueError(f"phases[{index}].name: two phases are named {name!r}")
                seen[name] = phase
            if isinstance(phase, RoutedPhase) and len(phase.input) != 1:
                raise ValueError(f"phases[{index}].input: a routed phase takes one input, the plan or the task "
                                 "list it carries out")
        return self

    def phase(self, name: str) -> _Phase | None:
        for p in self.phases:
            if p.name == name:
                return p
            if isinstance(p, ParallelPhase):
                for sub in p.phases:
                    if sub.name == name:
                        return sub
        return None

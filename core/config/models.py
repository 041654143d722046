"""The configuration schema: what a ``config.toml`` may say, field by field.

Unknown keys are errors (``extra="forbid"``), so a typo is reported instead of silently ignored.
API keys never appear here: a model names the environment variable that holds its key.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..providers.kinds import KEY_ENV, KindName, ProviderKind, kind_of, provider_of
from .policy import CheckpointsConfig, EffortPolicyConfig, ThresholdsConfig

#: The roles that carry out the tasks of a plan.
TASK_ROLES = ("frontend", "backend", "tests", "docs", "reviewer")
#: Every role a model may be given in ``[roles]``: the planner, the judge and the task roles.
ROLE_NAMES = ("planner", "judge", *TASK_ROLES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Strict):
    """One model moot may call, under an alias."""

    name: str
    """The alias used everywhere: on the command line, in roles and strategies."""
    model: str
    """Which model: a litellm string (``openai/gpt-4o``), ``ollama/<tag>`` for Ollama, ``local/<name>`` for the
    embedded engine (``local/smollm2`` is the shipped model)."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server, or the Ollama host for an ``ollama/`` model. A list of them makes
    a pool of hosts serving the same model (each call goes to the one predicted fastest; see ``pool``)."""
    hosts: str | None = None
    """The name of a ``[hosts]`` group: the hosts that serve this model, as a pool."""
    pool: list[str] = Field(default_factory=list)
    """The hosts serving this model when there are several (from a list ``api_base`` or ``hosts``): each call
    goes to the one with the best predicted latency and load, and to the next when one is down."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; the key itself never goes in a file."""
    max_tokens: int = Field(default=4096, gt=0)
    """Most tokens the model may write in one answer."""
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    """Sampling temperature."""
    seed: int | None = Field(default=None, ge=0)
    """A fixed sampling seed, for answers that repeat where the engine honours one (unset: none is sent)."""
    timeout_s: float = Field(default=300.0, gt=0)
    """Per-call time limit in seconds; a call that runs longer fails alone."""
    retries: int = Field(default=3, ge=0, le=10)
    """How many times a retryable failure (429, 5xx, connection refused) is tried again."""
    path: str | None = None
    """For ``local/`` models: path of a GGUF file (the shipped model needs none)."""
    num_ctx: int | None = Field(default=None, gt=0)
    """Context window for local models; kept stable per model so Ollama never reloads it because of moot."""

    @field_validator("name")
    @classmethod
    def _alias(cls, v: str) -> str:
        if not v or any(c in v for c in " ,@/"):
            raise ValueError("an alias must be non-empty and contain no spaces, commas, '@' or '/'")
        return v

    @model_validator(mode="before")
    @classmethod
    def _api_bases(cls, data: Any) -> Any:
        """``api_base = ["http://a:11434", "http://b:11434"]``: a pool, the first host its ``api_base``."""
        if isinstance(data, dict) and isinstance(data.get("api_base"), list):
            bases = [str(b) for b in data["api_base"]]
            if not bases:
                raise ValueError("api_base: an empty list names no host")
            data = {**data, "api_base": bases[0], "pool": list(dict.fromkeys(bases))}
        return data

    def on_host(self, host: str) -> ModelConfig:
        """This model served by one host of its pool: ``host`` its ``api_base``, no pool."""
        return self.model_copy(update={"api_base": host, "pool": []})

    @property
    def provider_kind(self) -> ProviderKind:
        """The kind of server that serves this model, with its facts (``providers.kinds``)."""
        return kind_of(self.model)

    @property
    def kind(self) -> KindName:
        """``hosted``, ``ollama`` or ``local`` (the embedded engine)."""
        return kind_of(self.model).name

    @property
    def is_local(self) -> bool:
        """Whether the model runs on a local engine (Ollama or the embedded one): no key, no cost, measured speed."""
        return kind_of(self.model).local

    @property
    def provider(self) -> str:
        """The part before the first slash (``openai``, ``ollama``, ``local``…)."""
        return provider_of(self.model)

    @property
    def short_name(self) -> str:
        """The model string without its kind's prefix (``ollama/qwen2.5:7b`` -> ``qwen2.5:7b``)."""
        return kind_of(self.model).strip(self.model)

    @property
    def key_env(self) -> str | None:
        """The variable that should hold this model's key, or None when it needs none."""
        if self.is_local:
            return None
        if self.api_key_env:
            return self.api_key_env
        if self.api_base:  # a self-hosted OpenAI-compatible server usually needs no key
            return None
        return KEY_ENV.get(self.provider)

    def api_key(self) -> SecretStr | None:
        """The key, read from the environment at the moment of use; None when not set or not needed."""
        env = self.key_env
        value = os.environ.get(env) if env else None
        return SecretStr(value) if value else None


class OllamaConfig(_Strict):
    """Where the Ollama server is."""

    host: str | None = None
    """Base URL; when unset, ``OLLAMA_HOST``, else ``http://127.0.0.1:11434``."""


class StrategyMember(_Strict):
    """One proposer in a strategy."""

    model: str
    """A model alias."""
    variant: str = "default"
    """The prompt perspective: a shipped variant or one from ``[variants]``."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    """Overrides the model's temperature for this proposer."""


class StrategyConfig(_Strict):
    """Who proposes. Give ``members`` explicitly, or ``model`` with ``samples`` (self-moa) / ``variants``."""

    members: list[StrategyMember] = Field(default_factory=list)
    """The proposers, each a model alias and a prompt variant."""
    model: str | None = None
    """For one-model strategies (role-based, self-moa): the alias to use."""
    variants: list[str] | None = None
    """For role-based: the prompt variants, one proposer each."""
    samples: int | None = Field(default=None, ge=1, le=6)
    """For self-moa: how many samples of the one model, at spread temperatures."""
    judge: str | None = None
    """The judge for this strategy (else ``[roles] judge``)."""
    sequential: bool = False
    """In a discussion, the speakers of a round answer one after another, each seeing the earlier ones."""


class VariantConfig(_Strict):
    """A prompt variant of the user's own."""

    prompt: str | None = None
    """The perspective text, inline."""
    file: str | None = None
    """Or a file holding it, relative to the config file."""


class EnsembleConfig(_Strict):
    """How planning runs."""

    default_strategy: str | None = None
    """The strategy used when none is named; when unset, ``diverse`` with several usable models, else
    ``role-based``."""
    max_proposers: int = Field(default=6, ge=1, le=6)
    """At most this many proposers in one run."""
    max_usd: float | None = Field(default=None, gt=0)
    """Cost limit for one run in US dollars; a call that could exceed it is not started."""
    rank: bool = False
    """Peer-rank the proposals (Borda count) before the judge."""
    context_budget: int = Field(default=4000, ge=0)
    """Tokens of repository context given to each proposer."""
    embedded_target_s: float = Field(default=45.0, ge=0)
    """When every proposer and the judge run on the embedded engine, the run is shaped to be done in about this
    many seconds (fewer proposers, shorter answers, less context, from the engine's measured speed); 0 leaves
    the run as configured."""


class ContextConfig(_Strict):
    """How much repository context each phase and role gets."""

    budgets: dict[str, int] = Field(default_factory=dict)
    """Tokens of context per role (planner, judge, frontend, backend, tests, docs, reviewer, or ``proposer``),
    e.g. ``{ judge = 0, backend = 6000 }``. A role not named here gets ``default_budget``; proposers default
    to ``[ensemble] context_budget`` and the judge to 0, since it needs the proposals, not the code."""
    default_budget: int = Field(default=4000, ge=0)
    """Tokens of context for a role without its own budget."""
    strategy: Literal["full", "scoped", "distilled", "fresh"] = "scoped"
    """What later phases see of earlier ones: ``full`` (everything), ``scoped`` (chosen files within the
    budget), ``distilled`` (a model-written digest of the earlier phase, stored with the run), ``fresh`` (only
    explicit inputs)."""


class ProjectConfig(_Strict):
    """Facts about the project being worked on."""

    test_command: str | None = None
    """A shell command that runs the project's tests, e.g. ``"pytest -q"``; run in the agents' worktree."""
    test_timeout_s: float = Field(default=600.0, gt=0)
    """How long the test command may run before it counts as failed."""


class AgentsConfig(_Strict):
    """How plans are carried out."""

    debug_limit: int = Field(default=2, ge=0, le=10)
    """After failing tests, how many times the task's model gets the failure output to fix it."""
    escalation: str | None = None
    """A model alias that gets one last try when the debug cycle did not make the tests pass."""
    edit_retries: int = Field(default=2, ge=0, le=5)
    """How many times an edit whose SEARCH text does not match is sent back to the model."""
    accept: Literal["commit", "uncommitted"] = "commit"
    """Accepted hunks land on the user's branch as one commit, or as uncommitted changes."""
    candidates: int = Field(default=1, ge=1, le=4)
    """How many models carry out the same plan, each in its own worktree (the tests pick the winner)."""
    workflow: str | None = None
    """The workflow ``moot run TASK`` runs; unset: ``feature-build`` (workshop, plan, task list, the tasks on a
    branch, a summary and an audit); ``build`` is the plan, the task list and the tasks alone."""
    test_env_allow: list[str] = Field(default_factory=list)
    """Variables holding a secret (``*_API_KEY``, ``*_TOKEN``, a model's ``api_key_env``…) that the test command
    may see all the same; every other one is left out of its environment, since it runs code a model wrote."""


class RouterConfig(_Strict):
    """Routing between a local model and a hosted one, on measured speed."""

    local_max_latency_s: float = Field(default=30.0, gt=0)
    """A local model is used when its predicted latency for the request fits within this many seconds."""
    hosted: dict[str, str] = Field(default_factory=dict)
    """Role to the hosted model alias used when the role's local model is too slow or down."""
    learn_shapes: bool = True
    """Shape each local task's query (context, output cap, prompt, file by file, constrained) from what came of
    earlier ones, and send a task to ``hosted`` when no shape is likely to succeed."""


class Config(_Strict):
    """The whole configuration, after the layers are merged."""

    models: list[ModelConfig] = Field(default_factory=list)
    """The configured models."""
    ollama: OllamaConfig = Field(default_factory=OllamaConfig)
    """The Ollama server."""
    roles: dict[str, str] = Field(default_factory=dict)
    """Role name to model alias (planner, judge, frontend, backend, tests, docs, reviewer)."""
    strategies: dict[str, StrategyConfig] = Field(default_factory=dict)
    """Named strategies; the built-in names are diverse, role-based, consensus and self-moa."""
    variants: dict[str, VariantConfig] = Field(default_factory=dict)
    """Prompt variants of the user's own, by name."""
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    """Planning settings."""
    context: ContextConfig = Field(default_factory=ContextConfig)
    """Context budgets per role and the context strategy."""
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    """The project's test command."""
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    """How plans are carried out on a branch."""
    router: RouterConfig = Field(default_factory=RouterConfig)
    """Local-or-hosted routing on measured speed."""
    checkpoints: CheckpointsConfig = Field(default_factory=CheckpointsConfig)
    """Where runs stop to ask (``policy``)."""
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig)
    """What makes moot suggest a stop."""
    effort_policy: EffortPolicyConfig = Field(default_factory=EffortPolicyConfig)
    """Reasoning effort per kind of phase."""
    hosts: dict[str, list[str]] = Field(default_factory=dict)
    """Groups of hosts by name (``gpu = ["http://box1:11434", "http://box2:11434"]``), for models' ``hosts``."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Workbench key remapping: a binding id (see the help screen, F1) to keys, e.g. ``"proposal.maximise" =
    "z"`` or ``"screen.history" = "f3,ctrl+o"``."""

    @model_validator(mode="after")
    def _host_groups(self) -> Config:
        for m in self.models:
            if m.hosts is None:
                continue
            group = self.hosts.get(m.hosts)
            if not group:
                known = ", ".join(sorted(self.hosts)) or "none"
                raise ValueError(f"model {m.name!r}: hosts = {m.hosts!r} names no [hosts] group (known: {known})")
            bases = list(dict.fromkeys(group))
            if m.pool != bases:
                m.pool = bases
                m.api_base = bases[0]
        return self

    def budget_for(self, role: str) -> int:
        """Tokens of repository context for ``role`` (``proposer``, ``planner``, ``backend``, ...)."""
        if role in self.context.budgets:
            return self.context.budgets[role]
        if role == "proposer":
            return self.ensemble.context_budget
        return 0 if role == "judge" else self.context.default_budget

    def model(self, alias: str) -> ModelConfig | None:
        for m in self.models:
            if m.name == alias:
                return m
        return None

    @property
    def aliases(self) -> list[str]:
        return [m.name for m in self.models]

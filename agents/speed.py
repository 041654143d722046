"""Routing a task on measured speed: the task's local model when its predicted latency fits ``[router]
local_max_latency_s``, else the hosted model ``[router] hosted`` names for the role (see
:mod:`moot.core.perf.router` for the rules).

It applies to tasks whose model came from ``[roles]`` for their role; a model the user chose for a task, and
the models of competing candidates, are kept as they are. Each decision is stored with the run and task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from moot.core.config.models import Config, ModelConfig
from moot.core.perf.analyse import Analyser
from moot.core.perf.hosts import HostsSnapshot, HostStatus, embedded_status, ollama_status
from moot.core.perf.router import Decision, choose, record_decision
from moot.core.perf.store import host_of, perf_store
from moot.core.providers.base import Message
from moot.core.storage import Store
from moot.core.tokens import count_tokens

from .routing import MODEL_OVERRIDE

#: How long a host may take to say whether it is up before the router counts it as down.
PROBE_TIMEOUT_S = 2.0
#: Tokens each message adds beyond its text (role markers and separators), as chat templates do.
PER_MESSAGE_TOKENS = 4
#: What a task's answer is expected to take (a few SEARCH/REPLACE blocks), capped by the model's
#: ``max_tokens``; the router predicts with it, and a shrunk request caps the output below it.
EXPECTED_OUTPUT_TOKENS = 1024


@dataclass(frozen=True)
class SpeedRoute:
    """The model for one task's request, and the context budget to rebuild with when it was shrunk."""

    model: ModelConfig
    decision: Decision
    context_budget: int | None = None
    """A smaller context budget (None: keep the context as built)."""


def prompt_tokens(messages: Sequence[Message], model: str) -> int:
    """The tokens a request's messages take, counted exactly for ``model``'s encoding."""
    return sum(count_tokens(str(m.get("content") or ""), model) + PER_MESSAGE_TOKENS for m in messages)


class SpeedRouter:
    """Chooses, task by task, between a role's local model and its hosted alternative.

    Args:
        config: the merged config (``[roles]``, ``[router]``).
        store: where the measured figures are read and the decisions written.
    """

    def __init__(self, config: Config, store: Store):
        self.config, self.store = config, store
        self.analyser = Analyser(store)
        self._hosts: dict[str, HostStatus] = {}
        self._probing = asyncio.Lock()

    def applies(self, role: str, alias: str | None, reason: str | None, pinned: bool) -> bool:
        """Whether a task of ``role`` carried out by ``alias`` is the router's to decide: its model came from
        ``[roles] <role>`` (not an override, not a candidate's), and the role has a local model or a hosted
        alternative."""
        if pinned or alias is None or MODEL_OVERRIDE in (reason or ""):
            return False
        if self.config.roles.get(role) != alias:
            return False
        model = self.config.model(alias)
        local = model is not None and model.is_local
        return local or self.config.model(self.config.router.hosted.get(role, "")) is not None

    async def _local_up(self, model: ModelConfig) -> bool:
        """Whether the local model's host answers (asked once per host for the run)."""
        host = host_of(model)
        async with self._probing:
            if host not in self._hosts:
                if model.provider_kind.in_process:  # what it holds is read from the perf store
                    self._hosts[host] = embedded_status(self.config, perf=perf_store(self.store))
                else:
                    self._hosts[host] = await ollama_status(host, timeout_s=PROBE_TIMEOUT_S)
                self.analyser.observe(HostsSnapshot(tuple(self._hosts.values()), time.time()))
        return self._hosts[host].reachable

    async def route(self, role: str, model: ModelConfig, messages: Sequence[Message], context_tokens: int,
                    *, run_id: str, task_id: str) -> SpeedRoute:
        """Choose the model for a task's request as built, record the decision and say how to shrink it.

        Args:
            role: the task's role.
            model: the model ``[roles]`` gave the task.
            messages: the request as built for ``model``.
            context_tokens: how many of its tokens are repository context (what a smaller budget can cut).
            run_id: the run, for the stored decision.
            task_id: the task, for the stored decision.
        """
        local = model if model.is_local else None
        up = await self._local_up(local) if local is not None else None
        asked = prompt_tokens(messages, model.model)
        decision = choose(role, self.config, self.analyser, prompt_tokens=asked,
                          output_tokens=min(model.max_tokens, EXPECTED_OUTPUT_TOKENS), local_up=up)
        await asyncio.to_thread(record_decision, self.store, decision, run_id, task_id)
        chosen = self.config.model(decision.chosen_alias) or model
        budget = None
        adj = decision.adjustments
        if adj is not None and decision.local:
            if adj.output_tokens < decision.output_tokens:
                chosen = chosen.model_copy(update={"max_tokens": adj.output_tokens})
            if adj.context_cut and context_tokens:
                budget = max(0, context_tokens - adj.context_cut)
        return SpeedRoute(chosen, decision, budget)

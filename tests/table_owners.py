"""Every schema moot declares, in the order a database first meets them (the core's on open)."""

from __future__ import annotations

from moot.agents.tables import SCHEMA as AGENTS
from moot.agents.workflow.store import SCHEMA as WORKFLOWS
from moot.context.distill import SCHEMA as DISTILLATIONS
from moot.core.discussion.store import SCHEMA as DISCUSSIONS
from moot.core.perf.pool import SCHEMA as POOL
from moot.core.perf.shapes import SCHEMA as SHAPES
from moot.core.perf.tables import SCHEMA as PERF
from moot.core.storage.migrations import CORE

SCHEMAS = (CORE, PERF, AGENTS, DISTILLATIONS, DISCUSSIONS, WORKFLOWS, POOL, SHAPES)

"""``moot perf bench MODEL``: measure a local model on a fixed set of prompts, so routing has figures before
real work produces them.

Six cases: prompts of about 50, 500 and 2,000 tokens, each with a short (32) and a longer (256) output cap.
Each case runs through the normal call path (``run_call``, phase ``bench``), so its figures land in the perf
store with source ``bench``. The first case usually pays the load; its load time becomes the model's cold-load
figure. Each prompt starts with its own case line, so no case reuses another's cached prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .analyse import Analyser, ModelStats
from .store import host_of

if TYPE_CHECKING:
    from ..config.models import ModelConfig
    from ..providers.base import Message
    from ..storage import Store


@dataclass(frozen=True, slots=True)
class BenchCase:
    name: str
    prompt_tokens: int
    """The prompt's approximate size in tokens."""
    max_tokens: int
    """The output cap."""


CASES: tuple[BenchCase, ...] = (
    BenchCase("small-short", 50, 32),
    BenchCase("small-long", 50, 256),
    BenchCase("medium-short", 500, 32),
    BenchCase("medium-long", 500, 256),
    BenchCase("large-short", 2000, 32),
    BenchCase("large-long", 2000, 256),
)

_SHORT = "In one sentence, say what this code does."
_LONG = "Explain this code function by function, in detail, then suggest improvements."


def _code(tokens: int) -> str:
    """Deterministic Python of about ``tokens`` tokens (about four characters a token)."""
    lines: list[str] = []
    i = 0
    while sum(len(x) + 1 for x in lines) < tokens * 4:
        lines.append(f"def step_{i}(values):")
        lines.append(f"    return [v * {i % 9 + 2} + {i % 7} for v in values if v > {i % 5}]")
        i += 1
    return "\n".join(lines)


def bench_messages(case: BenchCase, index: int = 0) -> list[Message]:
    """The messages of one case: a fixed prompt of about ``case.prompt_tokens`` tokens."""
    ask = _SHORT if case.max_tokens <= 64 else _LONG
    head = f"Benchmark case {index + 1} ({case.name}). {ask}\n\n"
    body = _code(max(0, case.prompt_tokens - 30))
    return [
        {"role": "system", "content": "You are a careful Python reviewer."},
        {"role": "user", "content": f"{head}```python\n{body}\n```"},
    ]


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One case's outcome."""

    case: BenchCase
    ok: bool
    error: str | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0
    prompt_eval_rate: float | None = None
    eval_rate: float | None = None
    load_s: float | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return round(x, 3) if x is not None else None

        return {
            "case": self.case.name,
            "ok": self.ok,
            "error": self.error,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "prompt_eval_rate": r(self.prompt_eval_rate),
            "eval_rate": r(self.eval_rate),
            "load_s": r(self.load_s),
            "seconds": r(self.seconds),
        }


@dataclass
class BenchResult:
    """A bench run: one row per case, and the model's profile (its stats over bench samples) afterwards."""

    alias: str
    model: str
    host: str
    rows: list[BenchRow] = field(default_factory=list)
    profile: ModelStats | None = None

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "model": self.model,
            "host": self.host,
            "ok": self.ok,
            "cases": [r.to_json() for r in self.rows],
            "profile": self.profile.to_json() if self.profile else None,
        }


async def run_bench(
    model: ModelConfig,
    store: Store,
    *,
    cases: tuple[BenchCase, ...] = CASES,
    on_row: Callable[[BenchRow], None] | None = None,
) -> BenchResult:
    """Run every case on ``model`` one after another, stopping at the first failure."""
    from ..calls import CallContext, run_call
    from ..providers.base import Params

    host = host_of(model)
    result = BenchResult(model.name, model.model, host)
    for i, case in enumerate(cases):
        ctx = CallContext(store=store, phase="bench", label=case.name)
        params = Params(max_tokens=case.max_tokens, temperature=0.0, retries=0)
        call = await run_call(model, bench_messages(case, i), params, ctx=ctx)
        perf = call.perf
        if not call.ok or perf is None:
            error = f"{call.error.kind}: {call.error.message}" if call.error else "no figures reported"
            row = BenchRow(case, False, error, seconds=call.latency_s)
        else:
            row = BenchRow(
                case, True, None, call.usage.prompt_tokens, call.usage.completion_tokens,
                perf.prompt_eval_rate or None, perf.eval_rate or None, perf.load_duration / 1e9, call.latency_s,
            )
        result.rows.append(row)
        if on_row is not None:
            on_row(row)
        if not row.ok:
            break
    result.profile = Analyser(store).stats(model.model, host, source="bench")
    return result

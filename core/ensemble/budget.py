"""The per-run cost limit: a call whose worst case could exceed what is left is not started."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.models import ModelConfig
from ..events import ProviderError, Usage
from ..providers.base import Message, backend_for
from ..tokens import count_messages


def worst_case_usd(model: ModelConfig, messages: list[Message], max_tokens: int) -> float:
    """The most a call can cost: its backend's price for the whole prompt plus ``max_tokens`` of answer.
    Local backends cost nothing; a model whose price is unknown counts as free."""
    backend = backend_for(model)
    if backend.local or model.backend in ("ollama", "local"):  # (also when served by a worker process)
        return 0.0
    return backend.cost(model, Usage(count_messages(messages, model.model), max_tokens))


@dataclass
class Budget:
    """Reserves each call's worst case before it starts and settles the real cost after."""

    max_usd: float | None
    spent: float = 0.0
    reserved: float = 0.0
    refused: list[str] = field(default_factory=list)

    def reserve(self, label: str, estimate: float) -> float:
        """Claim ``estimate`` dollars, or raise ProviderError("budget") when the limit could be passed."""
        if self.max_usd is not None and self.spent + self.reserved + estimate > self.max_usd:
            self.refused.append(label)
            left = self.max_usd - self.spent - self.reserved
            raise ProviderError(
                "budget",
                f"not started: it could cost up to ${estimate:.4f} and ${max(left, 0):.4f} of the run's "
                f"${self.max_usd:.2f} is left (max_usd)",
            )
        self.reserved += estimate
        return estimate

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved = max(0.0, self.reserved - reserved)
        self.spent += actual

"""The per-run cost limit: a call whose worst case could exceed what is left is not started."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..config.models import ModelConfig
from ..events import ProviderError, Usage
from ..providers.base import Message, backend_for
from ..tokens import count_messages


def usd(amount: float) -> str:
    """Dollars with enough digits to mean something: cents from a cent up, two significant digits below
    ("$0.0005", "$0.00049"), "$0.00" for nothing."""
    if amount == 0 or abs(amount) >= 0.01:
        return f"${amount:.2f}"
    decimals = min(8, 1 - math.floor(math.log10(abs(amount))))
    return f"${amount:.{decimals}f}".rstrip("0")


def worst_case_usd(model: ModelConfig, messages: list[Message], max_tokens: int) -> float:
    """The most a call can cost: its backend's price for the whole prompt plus ``max_tokens`` of answer.
    Local backends cost nothing; a model whose price is unknown counts as free."""
    backend = backend_for(model)
    if backend.local:  # a worker process's proxy carries the facts of the kind it stands for
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
                f"not started: it could cost up to {usd(estimate)} and {usd(max(left, 0))} of the run's "
                f"{usd(self.max_usd)} is left (max_usd)",
            )
        self.reserved += estimate
        return estimate

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved = max(0.0, self.reserved - reserved)
        self.spent += actual

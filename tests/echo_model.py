"""A stand-in discussion participant: it answers with a digest of what it was sent, so a test can read from the
answer which round it was asked in and whose words (by round) its prompt held.

    backend = EchoBackend.install(); backend.echoing |= {"alpha", "beta"}
    # alpha's answer in round 2: "alpha r2 heard alpha@1 beta@1"
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from moot.core.config.models import ModelConfig
from moot.core.events import Event, Perf
from moot.core.providers.base import Message, Params
from scripted import ScriptedBackend

_ROUND = re.compile(r"^## Round (\d+)", re.M)
_SPEAKER = re.compile(r"^\[([\w.:-]+)(?:, to [^\]]*)?\]:", re.M)
_TURN = re.compile(r"Round (\d+): (?:your turn|give your first answer)")


def heard(text: str) -> list[str]:
    """``speaker@round`` for every labelled message in ``text``, in order."""
    found, current = [], 0
    for line in text.splitlines():
        r = _ROUND.match(line)
        if r:
            current = int(r.group(1))
        s = _SPEAKER.match(line)
        if s:
            found.append(f"{s.group(1)}@{current}")
    return found


def answer(name: str, messages: list[Message]) -> str:
    system = str(messages[0]["content"]) if messages else ""
    user = str(messages[-1]["content"]) if messages else ""
    if system.startswith("Condense"):
        return "digest: " + " ".join(heard(user))
    if system.startswith("You are the judge"):
        return "## Agreed\n\nconcluded over " + " ".join(heard(user))
    turn = _TURN.search(user)
    label = f"r{turn.group(1)}" if turn else "mention"
    digest = " digest" if "## Digest of rounds" in user else ""
    context = " context" if "## Repository context" in user else ""
    return f"{name} {label} heard {' '.join(heard(user)) or 'nothing'}{digest}{context}"


@dataclass
class EchoBackend(ScriptedBackend):
    echoing: set[str] = field(default_factory=set)

    async def stream(self, model: ModelConfig, messages: list[Message], params: Params) -> AsyncIterator[Event]:
        name = model.model.split("/", 1)[1]
        if name in self.echoing and not self.scripts[name]:
            text = answer(name, messages)  # at a steady 20 tokens a second, so figures on screen are fixed
            words = len(text.split(" "))
            self.enqueue(name, text, perf=Perf(eval_count=words, eval_duration=words * 50_000_000))
        async for event in super().stream(model, messages, params):
            yield event

"""The workbench prompt's commands: a line starting with ``/`` or ``@`` talks to the discussion; anything else is
a task for planning, as before.

    /open QUESTION        every model of the current strategy answers, side by side
    /discuss [N] [seq]    N more rounds (default 3), in parallel or one speaker after another
    /next                 one more round
    /stop                 end the round in flight (finished answers are kept)
    @name [@other] TEXT   only the named models answer; everyone sees it next round
    /conclude             the judge writes the outcome
    /plan                 a planning run on the topic, handed the outcome
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Each command, with what it takes and what it does (the help and Tab completion read this).
COMMANDS: dict[str, tuple[str, str]] = {
    "/open": ("QUESTION", "every model of the strategy answers the question, side by side"),
    "/discuss": ("[N] [seq]", "N more rounds (default 3); seq: each speaker sees the earlier ones"),
    "/next": ("", "one more round"),
    "/stop": ("", "end the round in flight; finished answers are kept"),
    "/conclude": ("", "the judge writes what is agreed, disputed and recommended"),
    "/plan": ("", "a planning run on the topic, handed the discussion's outcome"),
}
DEFAULT_ROUNDS = 3


@dataclass(frozen=True)
class Command:
    name: str
    """``open``, ``discuss``, ``next``, ``stop``, ``mention``, ``conclude``, ``plan``."""
    text: str = ""
    rounds: int = 1
    sequential: bool = False
    names: tuple[str, ...] = field(default_factory=tuple)


class CommandError(ValueError):
    """A line that is not a valid command; its message says why and what would be."""


def is_command(line: str) -> bool:
    return line.lstrip().startswith(("/", "@"))


def parse(line: str, models: Sequence[str]) -> Command:
    """The command ``line`` says. ``models`` are the configured aliases (``@name`` must be one of them).

    Raises:
        CommandError: an unknown command, a missing argument, an unknown model.
    """
    line = line.strip()
    if line.startswith("@"):
        names: list[str] = []
        rest = line
        while rest.startswith("@"):
            word, _, rest = rest.partition(" ")
            names.append(word[1:].rstrip(",:"))
            rest = rest.lstrip()
        unknown = [n for n in names if n not in models]
        if unknown or not all(names):
            raise CommandError(f"unknown model {', '.join('@' + n for n in unknown) or '@'} "
                               f"(known: {', '.join('@' + m for m in models)})")
        if not rest:
            raise CommandError(f"say something to {', '.join('@' + n for n in names)}")
        return Command("mention", text=rest, names=tuple(dict.fromkeys(names)))
    word, _, rest = line.partition(" ")
    rest = rest.strip()
    if word not in COMMANDS:
        raise CommandError(f"unknown command {word} (commands: {', '.join(COMMANDS)}, or @model)")
    name = word[1:]
    if name == "open":
        if not rest:
            raise CommandError("/open needs a question: /open QUESTION")
        return Command("open", text=rest)
    if name == "discuss":
        parts = rest.split()
        rounds, sequential = DEFAULT_ROUNDS, False
        for part in parts:
            if re.fullmatch(r"\d+", part) and 1 <= int(part) <= 20:
                rounds = int(part)
            elif part in ("seq", "sequential"):
                sequential = True
            else:
                raise CommandError(f"/discuss takes a number of rounds (1-20) and 'seq', not {part!r}")
        return Command("discuss", rounds=rounds, sequential=sequential)
    if rest:
        raise CommandError(f"{word} takes nothing more")
    return Command(name)


def complete(line: str, models: Sequence[str]) -> str | None:
    """What Tab makes of ``line``: the one command or ``@model`` its last word starts, completed; None when
    there is not exactly one."""
    head, _, last = line.rpartition(" ")
    if last.startswith("@"):
        found = [f"@{m}" for m in models if m.startswith(last[1:])]
    elif not head and last.startswith("/"):
        found = [c for c in COMMANDS if c.startswith(last)]
    else:
        return None
    if len(found) != 1:
        return None
    return f"{head} {found[0]} ".lstrip() if head else f"{found[0]} "

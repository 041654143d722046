"""The prompts of planning: proposers (one per prompt variant), peer rankers and the judge.

Variants ship as Markdown files in ``variants/``; users add their own under ``[variants]`` in config.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from ..config.models import Config
from ..providers.base import Message

JUDGE_SECTIONS = ("Plan", "Consensus", "Divergent approaches", "Resolution rationale", "Unique insights")


class UnknownVariant(ValueError):
    pass


def builtin_variants() -> list[str]:
    folder = resources.files("moot.core.ensemble") / "variants"
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".md"))


def variant_names(config: Config) -> list[str]:
    return sorted(set(builtin_variants()) | set(config.variants))


def variant_text(name: str, config: Config, config_dir: Path | None = None) -> str:
    """The system prompt of a variant: the user's own first, then the shipped one."""
    if (own := config.variants.get(name)) is not None:
        if own.prompt:
            return own.prompt.strip()
        if own.file:
            path = Path(own.file).expanduser()
            if not path.is_absolute() and config_dir is not None:
                path = config_dir / path
            return path.read_text(encoding="utf-8").strip()
    file = resources.files("moot.core.ensemble") / "variants" / f"{name}.md"
    if not file.is_file():
        raise UnknownVariant(f"unknown prompt variant {name!r} (known: {', '.join(variant_names(config))})")
    return file.read_text(encoding="utf-8").strip()


def proposer_messages(task: str, system: str, context: str | None = None) -> list[Message]:
    user = f"Task:\n{task.strip()}"
    if context:
        user += f"\n\nRelevant parts of the repository:\n{context.strip()}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _plans_block(plans: Sequence[tuple[str, str]]) -> str:
    return "\n\n".join(f"=== Plan {label} ===\n{text.strip()}" for label, text in plans)


def rank_messages(task: str, plans: Sequence[tuple[str, str]], as_json: bool = False) -> list[Message]:
    """The ranking prompt. ``as_json`` asks for the JSON ballot of ``ranking.ranking_schema`` (for a model that
    decodes under it), else for a last line ``RANKING: B > A > C``."""
    labels = " > ".join(label for label, _ in plans)
    if as_json:
        comments = ", ".join(f'"{label}": "…"' for label, _ in plans)
        form = (f'Answer with a JSON object: {{"ranking": "{labels}", "comments": {{{comments}}}}}\n'
                "where ranking orders every plan, the best first, and comments holds one short sentence per plan.")
    else:
        form = f"Give one sentence per plan, then a last line of the form\nRANKING: {labels}\nwith the best plan first."
    return [
        {
            "role": "system",
            "content": "You review implementation plans written by others and rank them by how well they "
            "would solve the task: correctness first, then completeness, then simplicity.",
        },
        {"role": "user", "content": f"Task:\n{task.strip()}\n\n{_plans_block(plans)}\n\n{form}"},
    ]


def judge_messages(
    task: str, plans: Sequence[tuple[str, str]], ranking_note: str | None = None, as_json: bool = False
) -> list[Message]:
    """The judge's prompt. ``as_json`` asks for the JSON sections of ``judge.judge_schema`` (for a model that
    decodes under it), else for Markdown under the ``JUDGE_SECTIONS`` headings."""
    user = f"Task:\n{task.strip()}\n\n{_plans_block(plans)}\n\n"
    if ranking_note:
        user += f"Peer ranking of these plans (Borda count, best first): {ranking_note}\n\n"
    user += "Write the single best plan for the task, taking the strongest parts of each proposal. "
    if as_json:
        user += (
            "Answer with a JSON object with these fields, in this order:\n"
            '"plan": the plan, as Markdown text of numbered steps;\n'
            '"consensus": a list of points the plans agree on;\n'
            '"divergent_approaches": a list of points where the plans differ;\n'
            '"resolution_rationale": how you settled each divergence;\n'
            '"unique_insights": a list of good points only one plan made.\n'
            "Refer to plans by their letter."
        )
    else:
        sections = "\n".join(f"## {s}" for s in JUDGE_SECTIONS)
        user += (
            f"Answer in Markdown with exactly these sections:\n{sections}\n"
            "Under Consensus, Divergent approaches and Unique insights use bullet points and refer to plans by "
            "their letter; under Resolution rationale explain how you settled each divergence."
        )
    return [
        {
            "role": "system",
            "content": "You are the judge of a panel of engineers. You receive anonymous implementation plans "
            "for one task, compare them on their merits alone, and write one synthesised plan.",
        },
        {"role": "user", "content": user},
    ]

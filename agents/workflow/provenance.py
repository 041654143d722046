"""A phase's output written where the workflow says, with how it was made beside it.

``output: .moot/workflows/out/{feature}/plan.md`` writes the output there, and in the same folder
``NAME.prompt.txt`` (the exact messages of every call the phase made, as logged: secrets masked) and
``NAME.meta.json`` (model, parameters, timestamp, tokens, cost, latency, run, phase, and the SHA-256 of each input
and of the output). A file moot wrote is replaced only while it is as moot wrote it: an output edited since (its
hash no longer the one in its meta file) is kept, and the new one gets the next free name (``plan.2.md``).
Paths stay inside the repository and pass through no symlink.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from moot.core.exports import text_sha256 as sha256
from moot.core.storage import Store, redact
from moot.core.text import clean
from moot.core.words import slug


class OutputRefused(Exception):
    """The output path is not one moot writes (outside the repository, through a symlink, into .git)."""


def output_path(template: str, *, task: str, run_id: str, now: float | None = None) -> str:
    """The template with ``{feature}``, ``{date}`` and ``{run}`` filled in (a repository-relative path)."""
    return template.format(feature=slug(task) or "task", date=time.strftime("%Y-%m-%d", time.localtime(now)),
                           run=run_id)


def prompt_text(store: Store, run_id: str, label: str | None) -> str:
    """Every logged call of ``run_id`` (only those labelled ``label`` when given), its messages in full."""
    out = []
    for n, call in enumerate(store.calls(run_id), start=1):
        if label is not None and call.get("label") != label:
            continue
        out.append(f"### call {n} · {call['phase']} · {call['model_alias']} ({call['model']})")
        for m in call["messages"]:
            out.append(f"[{m.get('role')}]\n{m.get('content')}")
    return "\n\n".join(out) + "\n"


def _refusal(repo: Path, rel: str) -> str | None:
    from moot.agents.accept import unsafe_target

    top = Path(os.path.realpath(repo))
    if why := unsafe_target(top, rel):
        return why
    if os.path.islink(top / rel):
        return f"{rel}: is a symlink; moot writes regular files only"
    return None


def _ours(path: Path, meta: Path) -> bool:
    """Whether ``path`` is missing, or still as moot wrote it (its hash is the one its meta file records)."""
    if not path.exists():
        return True
    try:
        recorded = json.loads(meta.read_text(encoding="utf-8")).get("output_sha256")
        return bool(recorded) and recorded == sha256(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def free_name(repo: Path, rel: str, phase: str) -> tuple[str, str]:
    """``rel``, or the next ``stem.N.suffix`` when the file there was edited since moot wrote it; and the tag
    its prompt and meta files carry (``""``, ``".2"``…)."""
    base, n = Path(rel), 1
    while True:
        tag = "" if n == 1 else f".{n}"
        candidate = rel if n == 1 else str(base.with_name(f"{base.stem}{tag}{base.suffix}"))
        target = repo / candidate
        if _ours(target, target.parent / f"{phase}{tag}.meta.json"):
            return candidate, tag
        n += 1


def write(repo: Path, rel: str, phase: str, output: str, prompt: str, meta: dict[str, Any]) -> list[str]:
    """Write the output at ``rel`` (or the next free name) with its prompt and meta files; the paths written,
    relative to ``repo``. ``OutputRefused`` when the path is not one moot writes."""
    if why := _refusal(repo, rel):
        raise OutputRefused(why)
    rel, tag = free_name(repo, rel, phase)
    target = repo / rel
    folder = target.parent
    text = clean(redact(output)).rstrip("\n") + "\n"
    meta = {**meta, "output": rel, "output_sha256": sha256(text), "written_at": time.time()}
    folder.mkdir(parents=True, exist_ok=True)
    if why := _refusal(repo, rel):  # the folders as they are now, made or not
        raise OutputRefused(why)
    target.write_text(text, encoding="utf-8")
    prompt_file, meta_file = folder / f"{phase}{tag}.prompt.txt", folder / f"{phase}{tag}.meta.json"
    prompt_file.write_text(clean(redact(prompt)), encoding="utf-8")
    meta_file.write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    return [str(p.relative_to(repo)) for p in (target, prompt_file, meta_file)]

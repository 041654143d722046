"""The other repository map, for bench/context_quality.py's side-by-side column. Runs under a Python that has
the ``aider-chat`` package installed in an environment of its own (never a dependency of moot):

    python3 -m venv /tmp/aider-venv && /tmp/aider-venv/bin/pip install aider-chat
    .venv/bin/python bench/context_quality.py REPO --aider /tmp/aider-venv/bin/python

Reads ``{"root", "task", "budgets"}`` as JSON on stdin and prints, per budget, the files the map shows with
lines of their own (``shown``), every file it names (``named``) and its tokens. The task's words are handed
over the way that tool's chat does it: every word as a mentioned identifier, and file names among them (or
identifiers of five letters or more that are a file's stem) as mentioned files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path


def main() -> None:
    request = json.loads(sys.stdin.read())
    root, task, budgets = Path(request["root"]), request["task"], request["budgets"]
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: the bundled price map
    import litellm

    tokenizers = Path(litellm.__file__).parent / "litellm_core_utils" / "tokenizers"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tokenizers))
    from aider.io import InputOutput
    from aider.models import Model
    from aider.repomap import RepoMap

    files = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    idents = {w for w in re.split(r"\W+", task) if w}
    words = {w.strip(".,;:!?'\"()`") for w in task.split()}
    by_stem: dict[str, set[str]] = {}
    for rel in files:
        stem = Path(rel).stem.lower()
        if len(stem) >= 5:
            by_stem.setdefault(stem, set()).add(rel)
    mentioned = {rel for rel in files if rel in words or Path(rel).name in words}
    for ident in idents:
        if len(ident) >= 5:
            mentioned |= by_stem.get(ident.lower(), set())
    io = InputOutput(pretty=False, yes=True, fancy_input=False)
    model = Model("gpt-4o")
    out = {}
    for budget in budgets:
        repo_map = RepoMap(map_tokens=budget, root=str(root), main_model=model, io=io, refresh="always")
        text = repo_map.get_repo_map(set(), {str(root / rel) for rel in files}, mentioned_fnames=mentioned,
                                     mentioned_idents=idents) or ""
        headers = {line[:-1] for line in text.splitlines() if line.endswith(":") and not line.startswith((" ", "│", "⋮"))}
        named = {rel for rel in files if re.search(rf"(^|\s){re.escape(rel)}(:|$)", text, re.M)}
        out[str(budget)] = {"shown": sorted(headers & set(files)), "named": sorted(named | (headers & set(files))),
                            "tokens": model.token_count(text)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

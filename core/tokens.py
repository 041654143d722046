"""Exact token counts with tiktoken, offline.

tiktoken downloads its encoding files on first use; litellm ships them. ``TIKTOKEN_CACHE_DIR`` is pointed at
litellm's copy (found without importing litellm, which is slow) before the first encoding is loaded.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

FALLBACK = "cl100k_base"


def _bundled_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


def encoding_for(model: str) -> str:
    """The encoding that matches a model family; cl100k for everything else."""
    name = model.split("/")[-1].lower()
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")):
        return "o200k_base"
    return FALLBACK


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    if "TIKTOKEN_CACHE_DIR" not in os.environ and (folder := _bundled_dir()) is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, model: str = "") -> int:
    """How many tokens ``text`` is for ``model``'s encoding."""
    if not text:
        return 0
    return len(_encoding(encoding_for(model)).encode(text, disallowed_special=()))


def count_messages(messages: list[dict[str, Any]], model: str = "") -> int:
    """Tokens of a chat, with the few tokens each message's framing costs."""
    return sum(count_tokens(str(m.get("content", "")), model) + 4 for m in messages) + 2

"""Exact token counts with tiktoken, offline.

tiktoken downloads its encoding files on first use; litellm ships them. An encoding is loaded from the user's
``TIKTOKEN_CACHE_DIR`` when it holds that encoding's file, else from litellm's copy (found without importing
litellm, which is slow); never from the network. The user's setting is left as it was for everything else.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

FALLBACK = "cl100k_base"
_SOURCE = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
"""Where tiktoken would fetch an encoding; its cache names the file by the SHA-1 of this address."""
_LOADING = threading.Lock()


class TokenizerUnavailable(RuntimeError):
    """No copy of an encoding's file on this machine: ``str()`` is the one line a user sees."""


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


def _cached_file(name: str) -> str:
    return hashlib.sha1(_SOURCE.format(name).encode()).hexdigest()


def encoding_folder(name: str) -> Path:
    """The folder holding ``name``'s file: the user's ``TIKTOKEN_CACHE_DIR`` when it has it, else the copy that
    ships with the installed packages. Raises ``TokenizerUnavailable`` when neither has it."""
    file = _cached_file(name)
    if (own := os.environ.get("TIKTOKEN_CACHE_DIR")) and (Path(own) / file).is_file():
        return Path(own)
    if (bundled := _bundled_dir()) is not None and (bundled / file).is_file():
        return bundled
    where = f"TIKTOKEN_CACHE_DIR ({own}) lacks it and " if own else ""
    raise TokenizerUnavailable(f"no tokenizer file for {name} on this machine: {where}none ships with the installed "
                               "packages (reinstall moot, or put the file in TIKTOKEN_CACHE_DIR)")


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    folder = encoding_folder(name)
    import tiktoken

    with _LOADING:  # the variable is tiktoken's only way in: set it for this load, then put the user's back
        before = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
        try:
            return tiktoken.get_encoding(name)
        finally:
            if before is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = before


def count_tokens(text: str, model: str = "") -> int:
    """How many tokens ``text`` is for ``model``'s encoding."""
    if not text:
        return 0
    return len(_encoding(encoding_for(model)).encode(text, disallowed_special=()))


def count_messages(messages: list[dict[str, Any]], model: str = "") -> int:
    """Tokens of a chat, with the few tokens each message's framing costs."""
    return sum(count_tokens(str(m.get("content", "")), model) + 4 for m in messages) + 2

"""How well each file's words match a task's: BM25 over every file's path, the names it defines and the names it
uses, all split into words (``camelCase``, ``snake_case``, ``kebab-case``, dots and folders) and lightly
stemmed, so that "Add a --verbose flag to the CLI" meets ``cli/main.py`` and ``verbose_output``.

The scores personalise the ranking's random walk (``rank.personalization``): a file whose own words are the
task's words is a place to start from, whatever the graph of references says.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from moot.context.index import RepoIndex
from moot.context.mentions import STOP_WORDS

_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def stem(word: str) -> str:
    """A light stem: plural and verb endings off (``flags`` -> ``flag``, ``classes`` -> ``class``,
    ``policies`` -> ``policy``, ``called`` -> ``call``, ``parsing`` -> ``pars``)."""
    if len(word) <= 4:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """``text`` as lower-case stemmed words: identifiers and paths split at case changes, ``_``, ``-``, ``.``
    and ``/``; stop words and one-letter words left out."""
    out = []
    for part in _PARTS.findall(text):
        w = part.lower()
        if len(w) > 1 and w not in STOP_WORDS:
            out.append(stem(w))
    return out


@functools.lru_cache(maxsize=262_144)
def name_words(name: str) -> tuple[str, ...]:
    """``words(name)``, kept: a repository uses the same names in file after file."""
    return tuple(words(name))


def document(index: RepoIndex, rel: str) -> list[str]:
    """What a file says about itself: its path (twice: names matter most), the names it defines, then the
    names it uses."""
    info = index.files[rel]
    defined = [t.name for t in info.tags if t.kind == "def"]
    used = [t.name for t in info.tags if t.kind == "ref"]
    outlined = [item.name for item in info.outline]
    path = words(rel)
    return [*path, *path, *(w for name in (*defined, *outlined, *used) for w in name_words(name))]


def lexical_scores(index: RepoIndex, task: str) -> dict[str, float]:
    """Each file's BM25 score against ``task`` (files without a shared word are left out)."""
    query = sorted(set(words(task)))
    if not query or not index.files:
        return {}
    files, retriever = index.derived("bm25", _fitted)
    scores = retriever.get_scores(query)
    return {rel: float(s) for rel, s in zip(files, scores, strict=True) if s > 0}


def _fitted(index: RepoIndex) -> tuple[list[str], Any]:
    """The BM25 index of every file's words (the same for every task: kept with the index)."""
    import bm25s

    files = sorted(index.files)
    retriever = bm25s.BM25()
    retriever.index([document(index, rel) or ["-"] for rel in files], show_progress=False)
    return files, retriever

"""What a task's text mentions: identifiers and the repository's files.

Identifiers are CamelCase, snake_case and dotted names, words in backticks, and other words that are long
enough and not English stop words (ranking only counts those some file defines). Files are
the tokens with a slash or a known extension, and dotted module names (``moot.context.rank``), matched
against the index's paths by exact path, path suffix, basename or stem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from moot.context.languages import EXTENSIONS

#: Extensions of text files worth naming besides the source languages.
TEXT_EXTENSIONS = frozenset({
    "md", "rst", "txt", "toml", "yaml", "yml", "json", "cfg", "ini", "scm", "tcss", "css", "html", "sql",
    "sh", "lock", "xml", "csv",
})
KNOWN_EXTENSIONS = frozenset(EXTENSIONS) | TEXT_EXTENSIONS

#: Words never taken for identifiers: English function words and the verbs tasks usually start with.
_STOP = """
a about above after again against all also an and any are as at be because been before being below
between both but by can could did do does doing done down during each else few for from further had has
have having he her here hers him his how if in into is it its itself just let like make may me more most
must my need no nor not now of off on once only or other our out over own same see should so some such
than that the their them then there these they this those through to too under until up use used using
very via was we were what when where which while who whom why will with would you your add fix get set
new file files code please want should instead into make sure way work works"""
STOP_WORDS = frozenset(_STOP.split())

_BACKTICKED = re.compile(r"`([^`\n]+)`")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PATHLIKE = re.compile(r"[\w.\-/]+")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")
MIN_WORD = 3


@dataclass(frozen=True)
class Mentions:
    """What a task names: ``identifiers`` (as written, plus the parts of dotted names), ``explicit`` (those
    that are code-like or backticked), ``files`` (paths in the index it names), ``dirs`` (folders it names,
    without the trailing slash)."""

    identifiers: frozenset[str] = frozenset()
    explicit: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()
    dirs: frozenset[str] = frozenset()
    related: frozenset[str] = frozenset()
    """Files whose name or folder is a plain word of the task ("the worker process" -> ``worker.py``,
    "perf store" -> ``perf/store.py``): a weaker hint than naming a file."""


def is_strong(name: str) -> bool:
    """A name that looks like code rather than prose: snake_case, CamelCase or dotted."""
    return "_" in name.strip("_") or "." in name or _CAMEL.search(name) is not None


def identifiers(task: str) -> set[str]:
    """Candidate identifiers in ``task``: code-like names, backticked words and plain long words."""
    found: set[str] = set()
    for quoted in _BACKTICKED.findall(task):
        for word in _WORD.findall(quoted):
            _add_name(found, word, quoted=True)
    for word in _WORD.findall(task):
        _add_name(found, word, quoted=False)
    return found


def _add_name(found: set[str], word: str, *, quoted: bool) -> None:
    word = word.strip(".")
    if not word:
        return
    parts = [p for p in word.split(".") if p]
    names = [word, *parts] if len(parts) > 1 else [word]
    for name in names:
        if len(name) < (2 if quoted else MIN_WORD):
            continue
        if not quoted and not is_strong(name) and name.lower() in STOP_WORDS:
            continue
        if name.lower() in KNOWN_EXTENSIONS and name != word:
            continue  # the "py" of "scope.py"
        found.add(name)


def path_candidates(task: str) -> set[str]:
    """Tokens that look like paths: with a slash, or ending in a known extension."""
    out: set[str] = set()
    for raw in _PATHLIKE.findall(task.replace("\\", "/")):
        token = raw.strip(".-").removeprefix("./")
        if not token or token == "/":
            continue
        suffix = PurePosixPath(token.rstrip("/")).suffix.lower().removeprefix(".")
        if "/" in token or suffix in KNOWN_EXTENSIONS:
            out.add(token)
    return out


def find_mentions(task: str, paths: Iterable[str]) -> Mentions:
    """The identifiers, files and folders ``task`` mentions, files and folders matched against ``paths``."""
    all_paths = sorted(set(paths))
    by_base: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    by_noext: dict[str, str] = {}
    dirs_known: set[str] = set()
    for rel in all_paths:
        pure = PurePosixPath(rel)
        by_base.setdefault(pure.name, []).append(rel)
        by_stem.setdefault(pure.stem, []).append(rel)
        by_noext[str(pure.with_suffix(""))] = rel
        dirs_known.update(str(p) for p in pure.parents if str(p) != ".")
    idents = identifiers(task)
    quoted = {w for q in _BACKTICKED.findall(task) for w in _WORD.findall(q)}
    files: set[str] = set()
    dirs: set[str] = set()
    known = set(all_paths)
    for token in path_candidates(task):
        bare = token.rstrip("/")
        if bare in known:
            files.add(bare)
        elif bare in dirs_known:
            dirs.add(bare)
        elif "/" in bare:
            files.update(p for p in all_paths if p.endswith("/" + bare) or by_stem_match(p, bare))
            dirs.update(d for d in dirs_known if d.endswith("/" + bare))
        else:
            files.update(by_base.get(bare, ()))
    for name in idents:
        if "." in name:  # a module path: moot.context.rank -> context/rank.py or moot/context/rank.py
            parts = name.split(".")
            for start in range(len(parts) - 1):
                hit = by_noext.get("/".join(parts[start:]))
                if hit:
                    files.add(hit)
                    break
        elif (is_strong(name) or name in quoted) and name in by_stem:
            files.update(by_stem[name])
    explicit = {name for name in idents if is_strong(name) or name in quoted}
    related = related_files(task, all_paths) - files
    return Mentions(frozenset(idents), frozenset(explicit), frozenset(files), frozenset(dirs), frozenset(related))


def _word_key(word: str) -> str:
    """A plain word folded for matching names: lower case, a plural's ``s`` dropped."""
    word = word.lower()
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def related_files(task: str, paths: Iterable[str]) -> set[str]:
    """Files with a name part (``tui_streaming.py``: tui, streaming) or a folder equal to a plain word of the
    task of at least four letters that is not a stop word."""
    words = {_word_key(w) for w in re.findall(r"[A-Za-z]{4,}", task) if w.lower() not in STOP_WORDS}
    if not words:
        return set()
    found = set()
    for rel in paths:
        pure = PurePosixPath(rel)
        parts = re.split(r"[_\-.]", pure.stem) + list(pure.parent.parts)
        if any(_word_key(part) in words for part in parts if len(part) >= 4):
            found.add(rel)
    return found


def by_stem_match(rel: str, token: str) -> bool:
    """``token`` names ``rel`` without its extension (``context/rank`` for ``moot/context/rank.py``)."""
    noext = str(PurePosixPath(rel).with_suffix(""))
    return noext == token or noext.endswith("/" + token)

"""Which tree-sitter grammar reads which file, and the tag query that goes with it.

Grammars come from the per-language wheels (``tree-sitter-python`` and friends), which ship compiled parsers
and need no network; each is loaded on first use and kept. Tag queries are package data,
``moot/context/queries/<lang>.scm``. A query file may start with ``; inherits: <lang>[,<lang>...]`` to
include other languages' queries first (TSX builds on TypeScript).
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from importlib import resources
from pathlib import PurePath

from tree_sitter import Language, Parser, Query

#: Language name → (module, function) that returns the grammar's ``TSLanguage *`` capsule.
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "c_sharp": ("tree_sitter_c_sharp", "language"),
}

#: File extension (lower case, no dot) → language name.
EXTENSIONS: dict[str, str] = {
    "py": "python", "pyi": "python",
    "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "javascript",
    "ts": "typescript", "mts": "typescript", "cts": "typescript",
    "tsx": "tsx",
    "go": "go",
    "rs": "rust",
    "java": "java",
    "c": "c", "h": "c",
    "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "c++": "cpp", "hpp": "cpp", "hh": "cpp", "hxx": "cpp",
    "rb": "ruby", "rake": "ruby", "gemspec": "ruby",
    "php": "php",
    "cs": "c_sharp",
}

#: Files recognised by their whole name rather than an extension.
FILENAMES: dict[str, str] = {"Rakefile": "ruby", "Gemfile": "ruby"}

_INHERITS = re.compile(r"\A;\s*inherits:\s*([\w,\s]+?)\s*$", re.MULTILINE)


def language_for_path(path: str) -> str | None:
    """The language of a file judged by its name, or None when no grammar reads it."""
    pure = PurePath(path)
    if pure.name in FILENAMES:
        return FILENAMES[pure.name]
    return EXTENSIONS.get(pure.suffix.lower().removeprefix("."))


def supported_languages() -> list[str]:
    """Every language with a grammar and a tag query, sorted."""
    return sorted(GRAMMARS)


@cache
def language(lang: str) -> Language:
    """The grammar for ``lang``, loaded from its wheel once.

    Raises:
        KeyError: ``lang`` is not one of :data:`GRAMMARS`.
        ImportError: the grammar's wheel is not installed.
    """
    module, function = GRAMMARS[lang]
    return Language(getattr(importlib.import_module(module), function)())


def parser_for(lang: str) -> Parser:
    """A parser for ``lang``. Parsers are cheap but stateful, so each caller gets its own."""
    return Parser(language(lang))


def query_source(lang: str) -> str:
    """The text of ``lang``'s tag query, with any inherited queries placed before it."""
    if lang not in GRAMMARS:
        raise KeyError(lang)
    text = resources.files("moot.context").joinpath("queries", f"{lang}.scm").read_text(encoding="utf-8")
    match = _INHERITS.match(text)
    if match is None:
        return text
    parents = [p.strip() for p in match.group(1).split(",") if p.strip()]
    return "\n".join([*(query_source(parent) for parent in parents), text])


@cache
def query_for(lang: str) -> Query:
    """The compiled tag query for ``lang``, built once.

    Raises:
        KeyError: ``lang`` is not one of :data:`GRAMMARS`.
        tree_sitter.QueryError: the query does not fit the grammar (a test guards against this).
    """
    return Query(language(lang), query_source(lang))

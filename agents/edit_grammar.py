"""A llama.cpp grammar (GBNF) under which a local model's SEARCH/REPLACE answer always applies.

:func:`edit_grammar` builds it for one task from the files the task may change. An answer it allows is an
optional line of prose, then one or more blocks in the format :mod:`moot.agents.edits` reads::

    path/to/file.py
    <<<<<<< SEARCH
    lines i to j of that file, exactly
    =======
    new lines
    >>>>>>> REPLACE

- The path is one of the task's files (existing ones, and ones the task is to create), spelled as given,
  or (``new_files``) a new relative path made of ``[A-Za-z0-9_.-]`` parts that names no existing file or
  folder. A new file's SEARCH is empty, as is an existing file's when that file is blank (which
  :func:`~moot.agents.edits.apply_edits` fills).
- SEARCH is a run of consecutive whole lines of the file that occurs exactly once in it and is not blank:
  from each line the run has to go on until it is unique, and may go on further. Lines an answer cannot
  quote (block markers, ``\\r``) end a run.
- REPLACE is lines, none of which reads as a block marker, up to ``replace_lines`` of them; the closing
  marker may come at any line. In a code file no line opens a ``` fence.
- Each file has at most one block, in the order of ``files``, and one new file may follow: a second block
  on the same file would be applied to the result of the first, where its lines may be gone.
- Every allowed answer is finite (the prose line, REPLACE lines and new paths have caps), so a model that
  repeats itself is made to close its blocks and stop.

So every allowed answer is read by :func:`~moot.agents.edits.parse_edits` and applied in full by
:func:`~moot.agents.edits.apply_edits`, as long as the files still hold the text the grammar was built from.

The grammar is a compressed prefix tree of the runs' mandatory parts (a run from line i up to the line
where it becomes unique) whose leaves lead into one chain of optional further lines per file, so it is
about twice the size of the files and llama.cpp keeps one or a few parse stacks at any point of a SEARCH.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .edits import _DIVIDER, _HEAD, _TAIL, EditFormatError, parse_edits
from .safety import UnsafePath, normalise

MAX_LINES = 6000
"""Above this many lines in all the files together :func:`edit_grammar` returns None (build time, and the
time llama.cpp takes to read the grammar at every call, grow with the files' size)."""
MAX_CHARS = 300_000
"""The same limit in characters, for files of very long lines."""
UNIQUE_WITHIN = 20
"""A run has to become unique within this many lines or it may not start at that line. Without a cap a
file of many repeated lines (a table, a run of blank lines) would make the mandatory parts, and so the
grammar, grow with the square of its length; real code is unique within a few lines, and a model can
always start its SEARCH a line or two later."""
INTRO_CHARS = 200
"""The most characters the prose line before the blocks may have."""
REPLACE_LINES = 60
"""The most lines a REPLACE may have, by default. A small model decoding greedily repeats its new lines
for ever and never writes the closing marker; with this cap (and the caps on line length, the prose line
and new paths) every answer the grammar allows is finite, so the model is made to close its blocks and stop
instead of running into the caller's token cap with a block that does not parse."""
INDENT_CHARS = 64
"""The most whitespace characters a REPLACE line may start with."""
LINE_CHARS = 160
"""The most characters of a REPLACE line after its indentation (up to four more when it starts with '<', '>'
or '=')."""
PATH_PARTS = 8
"""The most folders a new file's path may have."""
NAME_CHARS = 64
"""A part of a new file's path may go on this many characters past where it left the existing paths."""
MAX_NEW_PATH_NODES = 50_000
"""Above this many distinct prefixes of existing paths, no new file is allowed (the rules that keep a new
path off the existing ones are one per prefix)."""

_WS = "\t\x0b\x0c\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"
"""Every character Python's ``\\s`` matches but newline and carriage return: a block marker may be indented
with any of them."""
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
"""The first character of each part of a new file's path (no dot files, no '-' or '#' a path line loses)."""
_NAME_REST = _NAME_FIRST | {".", "-"}
_SEARCH = "<<<<<<< SEARCH\n"
_DIVIDE = "=======\n"
_CLOSE = ">>>>>>> REPLACE\n"
_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\t"): "\\t"}
_ESCAPES.update({c: f"\\x{c:02X}" for c in [*range(0x20), 0x7F] if c not in _ESCAPES})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_UNQUOTABLE = re.compile(r"[\x00\r\ud800-\udfff]")


def _literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    out = text.translate(_ESCAPES)
    if not out.isascii():
        out = _NON_ASCII.sub(lambda m: f"\\u{ord(m[0]):04X}" if ord(m[0]) < 0x10000 else f"\\U{ord(m[0]):08X}",
                             out)
    return f'"{out}"'


def _class(chars: Iterable[str], negate: bool = False) -> str:
    """A GBNF character class of ``chars`` (or of every other character), as ranges."""
    codes = sorted({ord(c) for c in chars})
    parts: list[str] = []
    k = 0
    while k < len(codes):
        j = k
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = (_char(codes[k]), _char(codes[j]))
        parts.append(lo if j == k else f"{lo}{hi}" if j == k + 1 else f"{lo}-{hi}")
        k = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _char(code: int) -> str:
    if chr(code).isalnum() and code < 0x80:
        return chr(code)
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}" if code < 0x10000 else f"\\U{code:08X}"


# ------------------------------------------------------------------------------------------------ SEARCH runs


def file_lines(text: str) -> list[str]:
    """A file's lines as :func:`~moot.agents.edits.apply_edits` sees them: without a byte-order mark, CRLF
    read as LF when every line ends so, no final empty line."""
    text = text.removeprefix("\ufeff")
    if "\r\n" in text and text.count("\n") == text.count("\r\n"):
        text = text.replace("\r\n", "\n")
    if not text:
        return []
    return (text[:-1] if text.endswith("\n") else text).split("\n")


def _quotable(line: str) -> bool:
    """Whether a SEARCH may quote ``line``: an answer cannot carry a carriage return (it reads as a line end)
    or a NUL, and a line that reads as a block marker would end or break the block."""
    return not (_UNQUOTABLE.search(line) or _HEAD.match(line) or _DIVIDER.match(line) or _TAIL.match(line))


def run_ends(lines: list[str], within: int = UNIQUE_WITHIN) -> list[int | None]:
    """For each line, the last line of the shortest SEARCH that may start there, or None.

    That run is the shortest one that occurs only once in the file and is not blank (an all-blank SEARCH
    reads as an empty one), made of quotable lines only, and at most ``within`` lines long. Any longer run
    from the same line that stays within quotable lines is unique too.

    Args:
        lines: the file's lines (:func:`file_lines`).
        within: the cap on the shortest run's length.

    Returns:
        One entry per line.
    """
    n = len(lines)
    ids: dict[str, int] = {}
    line_id = [ids.setdefault(line, len(ids)) for line in lines]
    unique_end: list[int | None] = [None] * n
    # Level by level, the class of each start's window of `length` lines. A window of a start that is not
    # unique yet can only equal the window of another such start, so only those are counted.
    window = list(line_id)
    alive = list(range(n))
    length = 1
    while alive and length <= within:
        counts: dict[int, int] = {}
        for i in alive:
            counts[window[i]] = counts.get(window[i], 0) + 1
        still = []
        for i in alive:
            if counts[window[i]] == 1:
                unique_end[i] = i + length - 1
            elif i + length < n:
                still.append(i)
        classes: dict[tuple[int, int], int] = {}
        for i in still:
            window[i] = classes.setdefault((window[i], line_id[i + length]), len(classes))
        alive, length = still, length + 1
    ends: list[int | None] = [None] * n
    quotable_to = n  # the first unquotable line at or after i
    filled_from = n  # the first non-blank line at or after i
    for i in range(n - 1, -1, -1):
        if not _quotable(lines[i]):
            quotable_to = i
            continue
        if lines[i].strip():
            filled_from = i
        end = unique_end[i]
        if end is None:
            continue
        end = max(end, filled_from)
        if end < quotable_to and end - i < within:
            ends[i] = end
    return ends


def _search_rules(prefix: str, lines: list[str]) -> tuple[list[str], str | None]:
    """The rules of a file's SEARCH text (``prefix`` names them), and its rule; None when no run is possible."""
    ends = run_ends(lines)
    n = len(lines)
    runs = sorted(("".join(line + "\n" for line in lines[i:end + 1]), end + 1)
                  for i, end in enumerate(ends) if end is not None)
    if not runs:
        return [], None
    reach = [False] * (n + 1)
    for _, after in runs:
        reach[after] = True
    for k in range(n):
        if reach[k] and k + 1 < n and _quotable(lines[k]):
            reach[k + 1] = True
    more = [k < n and reach[k] and _quotable(lines[k]) for k in range(n + 1)]
    rules = []
    for k in range(n):
        if more[k]:
            rest = f" {prefix}-m{k + 1}" if more[k + 1] else ""
            rules.append(f'{prefix}-m{k} ::= {_literal(lines[k] + chr(10))}{rest} | ""')
    # The mandatory parts are prefix-free (one that began another would occur twice): a prefix tree with a
    # leaf per run. Each node's branches begin with different characters, so llama.cpp keeps one stack.
    root = f"{prefix}-s"
    todo = [(root, 0, len(runs), 0)]
    count = 0
    while todo:
        name, lo, hi, depth = todo.pop()
        alts = []
        k = lo
        while k < hi:
            first = runs[k][0][depth]
            g = k + 1
            while g < hi and runs[g][0][depth] == first:
                g += 1
            text, after = runs[k]
            if g == k + 1:
                alts.append(_literal(text[depth:]) + (f" {prefix}-m{after}" if more[after] else ""))
            else:
                last = runs[g - 1][0]
                shared = depth + 1
                while text[shared] == last[shared]:
                    shared += 1
                count += 1
                child = f"{prefix}-n{count}"
                alts.append(f"{_literal(text[depth:shared])} {child}")
                todo.append((child, k, g, shared))
            k = g
        rules.append(f"{name} ::= " + " | ".join(alts))
    return rules, root


# ------------------------------------------------------------------------------------------------ paths


def _normalised(path: str) -> str | None:
    """``path`` as ``a/b.py``; None for a path no edit may name."""
    try:
        return "/".join(normalise(path))
    except UnsafePath:
        return None


def _readable(path: str) -> bool:
    """Whether a block naming ``path`` on its own line reads back with that path."""
    try:
        edits = parse_edits(f"{path}\n{_SEARCH}x\n{_DIVIDE}{_CLOSE}")
    except EditFormatError:
        return False
    return len(edits) == 1 and edits[0].path == path


def _new_path_rules(taken: Iterable[str]) -> list[str] | None:
    """Rules for ``new-path``: a path of ``[A-Za-z0-9_][A-Za-z0-9_.-]*`` parts that is none of ``taken``
    (compared without case, as on macOS and Windows), no folder on the way to one, and goes through none as
    a folder. None when ``taken`` is too large."""
    # a prefix tree of the taken paths, lowercased, as far as a new path could spell them
    tree: dict[str, dict] = {}
    nodes = 0
    for path in taken:
        node, start = tree, True
        for ch in path.lower():
            if ch not in (_NAME_FIRST if start else _NAME_REST | {"/"}):
                break
            if ch not in node:
                node[ch] = {}
                nodes += 1
                if nodes > MAX_NEW_PATH_NODES:
                    return None
            node, start = node[ch], ch == "/"
        else:
            node[""] = {}  # a taken file
    # new-part-d and new-rest-d: a part of the path below d folders, past any taken path
    rules = [f"name-chars ::= {_class(_NAME_REST)}{{0,{NAME_CHARS}}}"]
    for d in range(PATH_PARTS + 1):
        rules.append(f"new-part-{d} ::= {_class(_NAME_FIRST)} new-rest-{d}")
        rules.append(f"new-rest-{d} ::= name-chars" + (f' ("/" new-part-{d + 1})?' if d < PATH_PARTS else ""))
    todo: list[tuple[str, dict, bool, int]] = [("new-path", tree, True, 0)]
    count = 0
    while todo:
        name, node, start, depth = todo.pop()
        rest = f"new-rest-{min(depth, PATH_PARTS)}"
        alts = []
        seen: set[str] = set()
        for ch, child in sorted(node.items()):
            if not ch:
                continue
            count += 1
            cased = {ch, ch.upper()}
            seen |= cased
            alts.append(f"{_class(cased)} new-{count}")
            todo.append((f"new-{count}", child, ch == "/", depth + (ch == "/")))
        free = (_NAME_FIRST if start else _NAME_REST) - seen
        if free:
            alts.append(f"{_class(free)} {rest}")
        if not start and "" not in node and "/" not in node:  # neither a taken file nor a folder
            alts.append('""')  # it may end,
            if depth < PATH_PARTS:
                alts.append(f'"/" new-part-{depth + 1}')  # or go deeper
        rules.append(f"{name} ::= " + " | ".join(alts))
    return rules


# ------------------------------------------------------------------------------------------------ the grammar

_FENCE_TEXT = frozenset({"", ".md", ".markdown", ".mdx", ".rst", ".txt", ".adoc"})
"""Kinds of file (by suffix) whose REPLACE lines may open a ``` fence at their start."""


def _fences(path: str, lines: list[str] | None) -> bool:
    """Whether a REPLACE for ``path`` may have lines that start with a ``` fence: in prose files and in files
    that have such a line already."""
    name = path.rsplit("/", 1)[-1]
    suffix = name[name.rfind("."):].lower() if "." in name[1:] else ""
    return suffix in _FENCE_TEXT or any(line.startswith("```") for line in lines or ())


def _line_rules() -> list[str]:
    """A REPLACE line (``line``, or ``line-code`` that does not start with a ``` fence) that does not read
    as a block marker: at its start, and after indentation, at most four '<' or '>', and at the very start
    at most four '='. A model used to fenced code closes a fence after its new lines; in a code file that
    line is not allowed, which keeps a small model writing code (short lines) rather than prose after it."""
    ws, nl = _class(_WS), chr(10) + chr(13) + chr(0)  # no NUL: it would make the file binary
    rules = [
        f'line ::= {ws}{{1,{INDENT_CHARS}}} line-ws | {_class(_WS + nl + "<>=", negate=True)} line-rest'
        f' | "<" lt-1 | ">" gt-1 | "=" eq-1 | "\\n"',
        f'line-code ::= {ws}{{1,{INDENT_CHARS}}} line-ws | {_class(_WS + nl + "<>=`", negate=True)} line-rest'
        f' | "<" lt-1 | ">" gt-1 | "=" eq-1 | "`" bt-1 | "\\n"',
        f'line-ws ::= {_class(_WS + nl + "<>", negate=True)} line-rest | "<" lt-1 | ">" gt-1 | "\\n"',
        f'line-rest ::= {_class(nl, negate=True)}{{0,{LINE_CHARS - 1}}} "\\n"',
    ]
    for name, mark, most in (("lt", "<", 4), ("gt", ">", 4), ("eq", "=", 4), ("bt", "`", 2)):
        other = _class(nl + mark, negate=True)
        for k in range(1, most + 1):
            more = f' | "{mark}" {name}-{k + 1}' if k < most else ""
            rules.append(f'{name}-{k} ::= {other} line-rest | "\\n"{more}')
    return rules


def whole_blocks(answer: str) -> str:
    """An answer decoded under an edit grammar, up to the end of its last whole block: what is left of one
    the caller's token cap cut short, for :func:`~moot.agents.edits.parse_edits` to read ("" when not even
    the first block is whole). The grammar puts a closing marker only at a line's start and at a block's end.
    """
    end = ("\n" + answer).rfind("\n" + _CLOSE)
    return answer[:end + len(_CLOSE)] if end >= 0 else ""


def _collides(path: str, taken: set[str]) -> bool:
    """Whether creating ``path`` would meet a taken path: the same (without case), a folder of one, or one
    on the way."""
    low = path.lower()
    return any(t == low or t.startswith(low + "/") or low.startswith(t + "/") for t in taken)


def edit_grammar(
    files: Mapping[str, str | None],
    *,
    new_files: bool = False,
    existing: Iterable[str] = (),
    replace_lines: int = REPLACE_LINES,
    max_lines: int = MAX_LINES,
    max_chars: int = MAX_CHARS,
) -> str | None:
    """A GBNF grammar whose every answer :func:`~moot.agents.edits.parse_edits` reads and
    :func:`~moot.agents.edits.apply_edits` applies without a failure.

    Args:
        files: the files the answer may change, path relative to the repository root -> the file's text as
            it is now, or None for a file the task is to create (its block has an empty SEARCH). The blocks
            name them in this order, each at most once. Left out: a path an answer could not name so that
            it reads back the same (spaces, a leading ``#``), an existing file with no line a SEARCH could
            start at, a file to create whose path meets an existing one.
        new_files: also allow one block, after the others, that creates a file of any new path. Off by
            default: given the choice, a small model writes the first words of a sentence as a new path.
        existing: the repository's other paths; a file to create is none of these nor of ``files``, and
            names no folder of theirs. The guarantee for new files holds only as far as this list is whole.
        replace_lines: the most lines a REPLACE may have (a small model repeats its new lines until then).
        max_lines: the most lines ``files`` may have together.
        max_chars: the most characters ``files`` may have together.

    Returns:
        The grammar's text (its start rule is ``root``), or None when the files are larger than the limits
        or no block at all is possible: the caller then lets the model answer freely.
    """
    texts = [text for text in files.values() if text is not None]
    if sum(text.count("\n") + 1 for text in texts) > max_lines or sum(map(len, texts)) > max_chars:
        return None
    others = {norm.lower() for path in existing if (norm := _normalised(path))}
    taken = others | {norm.lower() for path in files if (norm := _normalised(path))}
    blocks: list[str] = []
    rules: list[str] = []
    kinds: set[str] = set()
    for path, text in files.items():
        norm = _normalised(path)
        if norm is None or norm in blocks or not _readable(norm):
            continue
        lines = None if text is None else file_lines(text)
        if lines is None:
            if norm.lower() in others or _collides(norm, taken - {norm.lower()}):
                continue
            body = _literal(_DIVIDE)
        elif not any(line.strip() for line in lines):  # a blank file: an empty SEARCH fills it
            body = _literal(_DIVIDE)
        else:
            search, root = _search_rules(f"f{len(blocks)}", lines)
            if root is None:
                continue
            rules += search
            body = f"{root} {_literal(_DIVIDE)}"
        kind = "replace" if _fences(norm, lines) else "replace-code"
        kinds.add(kind)
        rules.append(f'b{len(blocks)} ::= "\\n"? {_literal(norm + chr(10) + _SEARCH)} {body} {kind}-0')
        blocks.append(norm)
    count = len(blocks)
    if new_files and (paths := _new_path_rules(taken)) is not None:
        rules += paths
        rules.append(f'b{count} ::= "\\n"? new-path {_literal(chr(10) + _SEARCH + _DIVIDE)} replace-0')
        kinds.add("replace")
        count += 1
    if not count:
        return None
    for kind in sorted(kinds):
        line = "line" if kind == "replace" else "line-code"
        for k in range(replace_lines):
            rules.append(f"{kind}-{k} ::= {_literal(_CLOSE)} | {line} {kind}-{k + 1}")
        rules.append(f"{kind}-{replace_lines} ::= {_literal(_CLOSE)}")
    # some-k: at least one block from the k-th on; any-k: any of them, in order
    rules.append(f"some-{count - 1} ::= b{count - 1}")
    rules.append(f'any-{count} ::= ""')
    for k in range(count - 1, -1, -1):
        if k < count - 1:
            rules.append(f"some-{k} ::= b{k} any-{k + 1} | some-{k + 1}")
        if k:
            rules.append(f"any-{k} ::= b{k} any-{k + 1} | any-{k + 1}")
    intro = f"intro ::= {_class(chr(10) + chr(13) + '<>', negate=True)}{{1,{INTRO_CHARS}}} \"\\n\""
    return "\n".join(["root ::= intro? some-0", intro, *_line_rules(), *rules]) + "\n"

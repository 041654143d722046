"""The edit grammar: what it allows is read by parse_edits and applied by apply_edits, and nothing else.

Acceptance is decided by llama.cpp itself: the grammar is loaded into a llama.cpp grammar sampler with the
embedded model's vocabulary (no weights), and an answer is accepted when each of its tokens passes the sampler
and the end-of-text token may follow. Strings are also drawn from the grammar by a random walk over the tokens
it allows, and the real model writes answers under it (``embedded``).
"""

from __future__ import annotations

import ctypes
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import moot.agents.edits as edits_module
from moot.agents.edit_grammar import (
    _WS,
    LINE_CHARS,
    PATH_PARTS,
    REPLACE_LINES,
    edit_grammar,
    file_lines,
    run_ends,
    whole_blocks,
)
from moot.agents.edits import ApplyReport, apply_edits, parse_edits
from moot.core.providers.embedded import engine_installed, shipped_model_path

HAVE_ENGINE = engine_installed() and shipped_model_path() is not None
needs_engine = pytest.mark.skipif(not HAVE_ENGINE, reason="the embedded engine is not installed ('local' extra)")

APP = """\
import os


def first(x):
    \"\"\"Say "hi" to C:\\\\temp.\"\"\"
    if x:
        return x

    return None


def second(x):
    if x:
        return x
\tmsg = 'tab, café, 🙂'
    return None
"""
"""Repeated lines, runs of blank lines, quotes, backslashes, a tab, non-ASCII text."""

TRICKY = (
    "\ufeffalpha\r\nbeta\r\n=======\r\ngamma\r\n>>>>>>> REPLACE\r\ndelta\r\n"  # BOM, CRLF, marker lines
)
ODD = "one\rtwo\nthree\n  <<<<<<< SEARCH\nfour\n\x0b\nfive"  # a lone CR, an indented marker, no final newline


def write(root: Path, files: Mapping[str, str | None]) -> None:
    for path, text in files.items():
        if text is None:
            continue
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))


def apply_answer(root: Path, files: Mapping[str, str | None], answer: str) -> ApplyReport:
    write(root, files)
    edits = parse_edits(answer)
    assert edits, answer
    report = apply_edits(root, edits)
    assert not report.failed, (answer, report.failed)
    assert len(report.applied) == len(edits)
    return report


# ------------------------------------------------------------------------------------------------ pure


def test_file_lines_as_apply_edits_reads_them() -> None:
    assert file_lines("a\nb\n") == ["a", "b"]
    assert file_lines("a\nb") == ["a", "b"]
    assert file_lines("\ufeffa\r\nb\r\n") == ["a", "b"]
    assert file_lines("a\r\nb\n") == ["a\r", "b"]  # mixed endings are kept as they are
    assert file_lines("") == []


def test_run_ends_go_on_until_unique_and_not_blank() -> None:
    lines = ["a", "", "x", "", "b", "x", "", "c"]
    assert run_ends(lines) == [0, 2, 4, 4, 4, 7, 7, 7]


def test_run_ends_stop_at_lines_an_answer_cannot_quote() -> None:
    lines = ["x", "x", "=======", "y", "x\r", "z"]
    assert run_ends(lines) == [1, None, None, 3, None, 5]


def test_run_ends_are_capped() -> None:
    lines = ["x"] * 10 + ["y"]
    assert run_ends(lines, within=3) == [None] * 8 + [10, 10, 10]
    assert run_ends(lines)[0] == 9  # ten x only once


def test_whitespace_class_is_pythons() -> None:
    import re

    found = "".join(c for c in map(chr, range(0x110000)) if re.match(r"\s", c) and c not in "\n\r")
    assert found == _WS


LINES = st.lists(st.sampled_from(["a", "b", "", "  ", "x = 1", "a", "=======", "q\r"]), max_size=14)


@given(LINES, st.integers(1, 5))
def test_run_ends_are_the_shortest_runs_that_apply(lines: list[str], within: int) -> None:
    """Against the definition, by brute force: a run from i applies iff it is unique and not blank."""

    def count(run: list[str]) -> int:
        return sum(lines[k:k + len(run)] == run for k in range(len(lines)))

    def usable(i: int, j: int) -> bool:
        run = lines[i:j + 1]
        return (all(line not in ("=======", "q\r") for line in run) and any(line.strip() for line in run)
                and count(run) == 1)

    for i, end in enumerate(run_ends(lines, within)):
        shortest = next((j for j in range(i, len(lines)) if usable(i, j)), None)
        if shortest is not None and shortest - i >= within:
            shortest = None
        assert end == shortest
        if end is not None:  # every longer run of quotable lines applies too
            j = end
            while j + 1 < len(lines) and lines[j + 1] not in ("=======", "q\r"):
                j += 1
                assert usable(i, j)


def test_too_large_falls_back() -> None:
    big = "".join(f"line {k}\n" for k in range(20_000))
    assert edit_grammar({"big.py": big}) is None
    assert edit_grammar({"a.py": "x = 1\n" * 10}, max_lines=5) is None
    assert edit_grammar({"a.py": "x" * 1000}, max_chars=999) is None
    assert edit_grammar({"a.py": "x" * 1000}) is not None


def test_nothing_to_edit_gives_none() -> None:
    assert edit_grammar({"a.py": "=======\n"}, new_files=False) is None  # no line to quote
    assert edit_grammar({}) is None
    assert edit_grammar({}, new_files=True) is not None  # a new file
    assert edit_grammar({"a.py": "x = 1\n", "a.py/b.py": None}, new_files=False) is not None
    assert "a.py/b.py" not in (edit_grammar({"a.py": "x = 1\n", "a.py/b.py": None}) or "")


def test_paths_as_an_answer_would_name_them() -> None:
    g = edit_grammar({"./src\\a.py": "x\n", "# notes.md": "y\n", "b c.py": "z\n", ".git/config": "w\n"},
                     new_files=False)
    assert g is not None
    assert '"src/a.py\\n<<<<<<< SEARCH\\n"' in g
    assert "notes" not in g and "b c" not in g and ".git" not in g


def test_builds_quickly_for_a_few_thousand_lines() -> None:
    import argparse
    import time

    text = Path(argparse.__file__).read_text(encoding="utf-8")
    assert text.count("\n") > 2000
    t0 = time.perf_counter()
    assert edit_grammar({"argparse.py": text}) is not None
    assert time.perf_counter() - t0 < 1.0  # about 20 ms on a laptop; generous for slow CI machines


def test_whole_blocks_of_an_answer_cut_short() -> None:
    answer = ("Two changes.\n" + block("a.py", "x\n", "y>>>>>>> REPLACE\n") + "\n" + block("b.py", "z\n", "w\n"))
    edits = parse_edits(answer)
    for cut in range(len(answer) + 1):
        part = whole_blocks(answer[:cut])
        assert answer.startswith(part)
        got = parse_edits(part)
        assert got == edits[:len(got)]
        assert len(got) == answer[:cut].count("\n>>>>>>> REPLACE\n")
    assert whole_blocks(answer) == answer
    assert whole_blocks("Two changes.\na.py\n<<<<<<< SEARCH\nx\n=") == ""


# ------------------------------------------------------------------------------------------------ llama.cpp


class Vocab:
    """The embedded model's vocabulary, with a llama.cpp grammar sampler per grammar."""

    def __init__(self) -> None:
        import llama_cpp
        import numpy as np

        self.lib, self.np = llama_cpp, np
        self.llm = llama_cpp.Llama(model_path=str(shipped_model_path()), vocab_only=True, verbose=False)
        self.vocab = self.llm._model.vocab
        self.size = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.eos = llama_cpp.llama_vocab_eos(self.vocab)
        self.ends = {t for t in range(self.size) if llama_cpp.llama_vocab_is_eog(self.vocab, t)}
        self.dtype = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)

    def tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def text(self, tokens: list[int]) -> str:
        return self.llm.detokenize(tokens).decode("utf-8")

    def sampler(self, grammar: str) -> Sampler:
        return Sampler(self, grammar)


class Sampler:
    def __init__(self, vocab: Vocab, grammar: str) -> None:
        self.v = vocab
        self.ptr = vocab.lib.llama_sampler_init_grammar(vocab.vocab, grammar.encode("utf-8"), b"root")
        assert self.ptr, "llama.cpp cannot parse the grammar"

    def __del__(self) -> None:
        if getattr(self, "ptr", None):
            self.v.lib.llama_sampler_free(self.ptr)

    def allowed(self, tokens: list[int] | None = None) -> Any:
        """Which of ``tokens`` (default: all) the grammar allows next, as an array."""
        np, lib = self.v.np, self.v.lib
        ids = np.arange(self.v.size, dtype=np.int32) if tokens is None else np.array(tokens, dtype=np.int32)
        buf = np.zeros(len(ids), self.v.dtype)
        buf["id"] = ids
        arr = lib.llama_token_data_array(buf.ctypes.data_as(lib.llama_token_data_p), len(ids), -1, False)
        lib.llama_sampler_apply(self.ptr, ctypes.byref(arr))
        return buf["id"][buf["logit"] != -np.inf]

    def accept(self, token: int) -> None:
        self.v.lib.llama_sampler_accept(self.ptr, token)


@pytest.fixture(scope="module")
def vocab() -> Iterator[Vocab]:
    if not HAVE_ENGINE:
        pytest.skip("the embedded engine is not installed ('local' extra)")
    v = Vocab()
    yield v
    v.llm.close()


def accepts(vocab: Vocab, grammar: str, answer: str) -> bool:
    s = vocab.sampler(grammar)
    tokens = vocab.tokens(answer)
    assert vocab.llm.detokenize(tokens) == answer.encode("utf-8"), "the tokenizer cannot spell this answer"
    for token in tokens:
        if not len(s.allowed([token])):
            return False
        s.accept(token)
    return bool(len(s.allowed([vocab.eos])))


FILES = {"app.py": APP, "data/tricky.txt": TRICKY, "odd.txt": ODD, "blank.md": "\n  \n"}
EXISTING = ["README.md", "src/pkg/mod.py", "docs/Guide.rst"]


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


@needs_engine
@pytest.mark.parametrize("files", [FILES, {"a.py": "x = 1\n"}, {}, {"e.txt": ""}])
@pytest.mark.parametrize("new_files", [True, False])
def test_llama_cpp_parses_the_grammar(vocab: Vocab, files: dict[str, str], new_files: bool) -> None:
    grammar = edit_grammar(files, new_files=new_files, existing=EXISTING)
    if files or new_files:
        assert grammar is not None
        vocab.sampler(grammar)


@needs_engine
@pytest.mark.parametrize("answer", [
    block("app.py", "def first(x):\n", "def first(x, y):\n"),
    "I rename it.\n" + block("app.py", "def first(x):\n", "def one(x):\n"),
    block("app.py", "        return x\n\n    return None\n", ""),  # unique once the blank line follows
    block("app.py", "\tmsg = 'tab, café, 🙂'\n    return None\n", "    return 1\n"),
    block("app.py", '    """Say "hi" to C:\\\\temp."""\n', "    pass\n"),
    block("app.py", "\n\ndef second(x):\n", "\n\ndef other(x):\n<div>\n  <<<< x\n==== y\n>>>>\n") +
    "\n" + block("data/tricky.txt", "alpha\nbeta\n", "ALPHA\n"),
    block("data/tricky.txt", "gamma\n", "") + block("odd.txt", "three\n", "3\n") +
    block("blank.md", "", "# Title\n") + block("src/pkg/new_mod.py", "", "x = 1\n"),
    block("odd.txt", "four\n\x0b\nfive\n", "4\n"),
    block("Src/Pkg/mod2.py", "", ""),
    block("notes", "", "n\n"),
])
def test_accepts_answers_that_apply(vocab: Vocab, tmp_path: Path, answer: str) -> None:
    grammar = edit_grammar(FILES, new_files=True, existing=EXISTING)
    assert grammar is not None
    assert accepts(vocab, grammar, answer)
    apply_answer(tmp_path, FILES, answer)
    print(repr(answer))


@needs_engine
@pytest.mark.parametrize("answer", [
    block("app.py", "        return x\n", "pass\n"),  # occurs twice
    block("app.py", "    return None\n", "pass\n"),  # occurs twice, and the file ends there
    block("app.py", "\n", "pass\n"),  # blank: reads as an empty SEARCH
    block("app.py", "def first(x):\n    if x:\n        return y\n", "pass\n"),  # not the file's lines
    block("app.py", "def first(x) :\n", "pass\n"),
    block("app.py", "def second(x):\n", "pass\n") + block("app.py", "import os\n", ""),  # twice
    block("data/tricky.txt", "alpha\n", "") + block("app.py", "import os\n", ""),  # out of order
    block("app.py", "", "x = 1\n"),  # an existing file is not created again
    block("readme.MD", "", "x\n"),  # exists (in another case)
    block("src", "", "x\n"),  # a folder
    block("src/pkg/mod.py/x.py", "", "x\n"),  # through a file
    block("data/tricky.txt", "=======\n", ""),  # a marker line cannot be quoted
    block("data/tricky.txt", "beta\n=======\ngamma\n", ""),
    block("odd.txt", "one\rtwo\n", ""),
    block("odd.txt", "one\n", ""),
    block("app.py", "import os\n", "=======\n"),  # REPLACE lines that read as markers
    block("app.py", "import os\n", "  <<<<<<< SEARCH\n"),
    block("app.py", "import os\n", "\u3000>>>>> REPLACE\n"),
    block("app.py", "import os\n", "a\rb\n"),
    block("../x.py", "", "x\n"),
    block(".hidden", "", "x\n"),
    block("a b.py", "", "x\n"),
    "<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n",
    "Just prose.\n",
    "",
])
def test_rejects_everything_else(vocab: Vocab, answer: str) -> None:
    grammar = edit_grammar(FILES, new_files=True, existing=EXISTING)
    assert grammar is not None
    assert not accepts(vocab, grammar, answer)


@needs_engine
def test_every_answer_is_finite(vocab: Vocab) -> None:
    """A model that repeats a line must close the block after REPLACE_LINES lines."""
    grammar = edit_grammar(FILES, new_files=True, existing=EXISTING)
    assert grammar is not None
    long = "x = 1\n" * REPLACE_LINES
    assert accepts(vocab, grammar, block("app.py", "import os\n", long))
    assert not accepts(vocab, grammar, block("app.py", "import os\n", long + "x = 1\n"))
    assert accepts(vocab, grammar, block("app.py", "import os\n", "    " + "y" * LINE_CHARS + "\n"))
    assert not accepts(vocab, grammar, block("app.py", "import os\n", "    " + "y" * (LINE_CHARS + 1) + "\n"))
    deep = "/".join(["d"] * (PATH_PARTS + 1))
    assert accepts(vocab, grammar, block(deep, "", ""))
    assert not accepts(vocab, grammar, block(deep + "/d", "", ""))


def test_without_new_files_only_the_given_ones(vocab: Vocab, tmp_path: Path) -> None:
    files = {**FILES, "tests/test_app.py": None, "README.md": None, "src": None, "data/tricky.txt/x": None}
    grammar = edit_grammar(files, existing=EXISTING)
    assert grammar is not None
    assert not accepts(vocab, grammar, block("new.py", "", "x\n"))
    assert accepts(vocab, grammar, block("app.py", "import os\n", ""))
    answer = block("app.py", "import os\n", "") + block("tests/test_app.py", "", "def test():\n    pass\n")
    assert accepts(vocab, grammar, answer)
    apply_answer(tmp_path, FILES, answer)
    # a file to create cannot be created twice, nor over an existing file or folder, nor inside a file
    assert not accepts(vocab, grammar, block("tests/test_app.py", "", "") + block("tests/test_app.py", "", ""))
    for path in ("README.md", "src", "data/tricky.txt/x"):
        assert not accepts(vocab, grammar, block(path, "", "x\n"))
    with_new = edit_grammar(files, new_files=True, existing=EXISTING)
    assert with_new is not None
    assert not accepts(vocab, with_new, block("tests/test_app.py", "", "") + block("Tests/Test_App.py", "", ""))


@needs_engine
def test_no_fence_at_the_start_of_a_code_line(vocab: Vocab) -> None:
    """A small model closes a fence after its code; in a code file it cannot, so it goes on writing code."""
    grammar = edit_grammar({**FILES, "notes.md": None}, existing=EXISTING)
    assert grammar is not None
    assert not accepts(vocab, grammar, block("app.py", "import os\n", "import re\n```\n"))
    assert accepts(vocab, grammar, block("app.py", "import os\n", "import re\n``\n    ```\n`x`\n"))
    assert accepts(vocab, grammar, block("blank.md", "", "```python\nx = 1\n```\n"))
    assert accepts(vocab, grammar, block("notes.md", "", "```python\nx = 1\n```\n"))
    fenced = edit_grammar({"doc.py": '"""Use it so:\n```\nrun()\n```\n"""\n'})
    assert fenced is not None
    assert accepts(vocab, fenced, block("doc.py", "run()\n", "```\n"))


# (the model's tokenizer drops some control characters and the byte 0xF1 that starts U+40000 and above, so
# no model could write those)
SAFE_LINE = st.text(st.characters(codec="utf-8", max_codepoint=0x3FFFF, categories=("L", "M", "N", "P", "S", "Z"),
                                  include_characters="\t", exclude_characters="<>="), max_size=12)


@needs_engine
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.sampled_from(["def f():", "    return 1", "", "x = 'é'", "}", "    return 1"]),
                      min_size=1, max_size=12),
       final=st.booleans(), pick=st.integers(0, 10**6), replace=st.lists(SAFE_LINE, max_size=3))
def test_every_run_the_grammar_promises_is_accepted_and_applies(
    vocab: Vocab, tmp_path_factory: pytest.TempPathFactory, lines: list[str], final: bool, pick: int,
    replace: list[str],
) -> None:
    text = "\n".join(lines) + ("\n" if final else "")
    lines, final = file_lines(text), text.endswith("\n")
    grammar = edit_grammar({"f.py": text}, new_files=False)
    starts = [(i, end) for i, end in enumerate(run_ends(lines)) if end is not None]
    if not starts:
        return
    i, end = starts[pick % len(starts)]
    j = end + pick % (len(lines) - end)
    answer = block("f.py", "".join(line + "\n" for line in lines[i:j + 1]), "".join(r + "\n" for r in replace))
    assert grammar is not None and accepts(vocab, grammar, answer), answer
    root = tmp_path_factory.mktemp("run")
    apply_answer(root, {"f.py": text}, answer)
    expected = lines[:i] + replace + lines[j + 1:]
    assert (root / "f.py").read_text(encoding="utf-8") == "\n".join(expected) + ("\n" if final and expected else "")


def walk(vocab: Vocab, grammar: str, rng: random.Random, budget: int = 120) -> str:
    """A string drawn from the grammar: random allowed tokens, and now and then (always, after ``budget``
    tokens) the tokens of a line end, a divider or a closing marker when the grammar allows them, so that
    the walk ends."""
    np = vocab.np
    closers = [vocab.tokens(t) for t in ("\n", "=======\n", ">>>>>>> REPLACE\n", "\n>>>>>>> REPLACE\n")]
    ends = np.array(sorted(vocab.ends))
    s = vocab.sampler(grammar)
    out: list[int] = []
    plan: list[int] = []
    while True:
        late = len(out) >= budget
        if plan and len(s.allowed(plan[:1])):
            token = plan.pop(0)
        else:
            plan = []
            if vocab.eos in s.allowed([vocab.eos]) and (late or rng.random() < 0.3):
                return vocab.text(out)
            if late or rng.random() < 0.3:
                plan = next((list(c) for c in rng.sample(closers, len(closers)) if len(s.allowed(c[:1]))), [])
            if plan:
                token = plan.pop(0)
            else:
                allowed = s.allowed()
                others = allowed[~np.isin(allowed, ends)]
                if not len(others):
                    return vocab.text(out)
                token = int(others[rng.randrange(len(others))])
        s.accept(token)
        out.append(token)


@needs_engine
@pytest.mark.parametrize("seed", range(24))
def test_random_answers_from_the_grammar_apply(vocab: Vocab, tmp_path: Path, seed: int) -> None:
    """Whatever llama.cpp lets through applies: the tricky files, and a real module of 500 lines."""
    files: dict[str, str | None] = dict(FILES) if seed % 3 else {
        "agents/edits.py": Path(edits_module.__file__).read_text(encoding="utf-8")}
    files["tests/test_new.py"] = None
    grammar = edit_grammar(files, new_files=seed % 2 == 0, existing=EXISTING)
    assert grammar is not None
    answer = walk(vocab, grammar, random.Random(seed))
    write(tmp_path, {p: "x\n" for p in EXISTING})
    apply_answer(tmp_path, files, answer)


# ------------------------------------------------------------------------------------------------ the real model

CALC = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a - b
"""


@pytest.mark.embedded
@needs_engine
def test_the_real_model_always_writes_an_edit_that_applies(tmp_path: Path) -> None:
    """SmolLM2 asked to add a function, under the grammar, at several seeds and temperatures: every answer
    ends by itself within the token cap and applies."""
    from llama_cpp import Llama, LlamaGrammar

    from moot.agents.prompts import task_messages

    files = {"calc.py": CALC}
    grammar = edit_grammar(files, replace_lines=30)  # ample for what a model of this size writes well
    assert grammar is not None
    messages = task_messages("backend", "Add a function mul(a, b) that returns a * b to calc.py",
                             files=["calc.py"], context_text=f"calc.py\n```python\n{CALC}```")
    llm = Llama(model_path=str(shipped_model_path()), n_ctx=4096, verbose=False)
    try:
        for temp in (0.0, 0.7, 1.0):
            for seed in (1, 2, 3):
                out = llm.create_chat_completion(messages=messages, grammar=LlamaGrammar.from_string(grammar),
                                                 temperature=temp, seed=seed, max_tokens=2048,
                                                 repeat_penalty=1.0)  # as the engine decodes under a grammar
                choice = out["choices"][0]  # type: ignore[index]
                assert choice["finish_reason"] == "stop", choice
                apply_answer(tmp_path / f"s{seed}-t{temp}", files, choice["message"]["content"] or "")
    finally:
        llm.close()

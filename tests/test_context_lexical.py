"""The lexical signal: a task's words against each file's path and names, split and lightly stemmed, scored by
BM25; and its place in the ranking (a file whose own words are the task's comes ahead of the central files its
references would otherwise hand the score to)."""

from __future__ import annotations

from pathlib import Path

from gitrepo import hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from moot.context.cache import build_index
from moot.context.files import list_files
from moot.context.lexical import lexical_scores, stem, words
from moot.context.rank import rank_files


def test_words_split_identifiers_and_paths_and_stem_lightly() -> None:
    assert words("Add a --verbose flag to the CLI") == ["verbose", "flag", "cli"]  # "add": a stop word
    assert words("cli/main.py parseArgs HTTPServer snake_case_names kebab-case") == [
        "cli", "main", "py", "parse", "args", "http", "server", "snake", "case", "name", "kebab", "case"]
    assert [stem(w) for w in ("flags", "classes", "policies", "called", "status", "names", "args")] == [
        "flag", "class", "policy", "call", "status", "name", "args"]


def index_of(tmp_path: Path, files: dict[str, str]):  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "repo", files)
    return build_index(repo, files=list_files(repo, sniff=False))


CORE = "class Config:\n    def value(self):\n        return 1\n\n\ndef load():\n    return Config()\n"
USERS = {f"app/part{i}.py": f"from core import Config, load\n\n\ndef part{i}():\n    return load().value()\n"
         for i in range(6)}


def test_a_file_whose_words_are_the_task_s_outranks_the_central_file_it_uses(tmp_path: Path) -> None:
    files = {"core.py": CORE, **USERS,
             "cli/options.py": "from core import load\n\n\ndef verbose_flag(args):\n    return load() if args else None\n"}
    index = index_of(tmp_path, files)
    scores = lexical_scores(index, "Add a --verbose flag to the CLI")
    assert max(scores, key=scores.__getitem__) == "cli/options.py"
    ranked = [rel for rel, _ in rank_files(index, task="Add a --verbose flag to the CLI")]
    assert ranked[0] == "cli/options.py" and ranked.index("cli/options.py") < ranked.index("core.py")
    assert lexical_scores(index, "the of a") == {}  # nothing but stop words: no signal


def test_the_json_says_why_each_file_is_there(tmp_path: Path) -> None:
    from moot.context.scope import scope

    files = {"core.py": CORE, **USERS,
             "cli/options.py": "from core import load\n\n\ndef verbose_flag(args):\n    return load() if args else None\n"}
    index = index_of(tmp_path, files)
    found = scope(index, "Add a --verbose flag to the CLI (see core.py)", 4000).to_json()
    why = {item["path"]: item["why"] for item in found["items"] if "why" in item}
    assert why["cli/options.py"]["rank"] >= 1 and why["cli/options.py"]["lexical"] > 0
    assert why["core.py"]["named"] == 2.0 and "walk" in why["core.py"]
    assert all(item["kind"] == "tree" for item in found["items"] if "why" not in item)


def test_a_cut_outline_keeps_the_lines_that_name_the_task_s_words(tmp_path: Path) -> None:
    from moot.context.budget import fit_outline, relevant_lines
    from moot.core.tokens import count_tokens as count

    many = "".join(f"def helper_{i}(x):\n    return x\n\n\n" for i in range(40))
    source = "class Ledger:\n" + "".join(f"    def step_{i}(self):\n        pass\n\n" for i in range(20)) \
        + "    def borda_count(self):\n        pass\n\n\n" + many
    index = index_of(tmp_path, {"ledger.py": source})
    items = index.files["ledger.py"].outline
    first = relevant_lines(items, {"borda"}, words)
    assert [items[i].name for i in first] == ["Ledger", "borda_count"]  # the method after its class
    fitted = fit_outline("ledger.py", items, 60, count, first)
    assert fitted is not None and not fitted.whole and fitted.tokens <= 60
    text = fitted.text
    assert "borda_count" in text and text.index("Ledger") < text.index("borda_count")  # in the file's order
    assert "more" in text

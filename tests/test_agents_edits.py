"""SEARCH/REPLACE edits: reading them as models write them, applying them, and refusing unsafe paths."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from moot.agents.edit_feedback import closest_lines, failure_feedback
from moot.agents.edits import Edit, EditFormatError, apply_edits, parse_edits
from moot.agents.safety import BinaryFile, UnsafePath, check_path, is_binary

BLOCK = "<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n"

# ------------------------------------------------------------------------------------------------ parsing


def test_plain_block() -> None:
    assert parse_edits("a/b.py\n" + BLOCK) == [Edit("a/b.py", "old\n", "new\n")]


def test_no_blocks_gives_nothing() -> None:
    assert parse_edits("I think the code is fine as it is.\n```python\nx = 1\n```\n") == []


def test_fenced_with_path_before_the_fence() -> None:
    text = "Here is the change:\n\nsrc/app.py\n```python\n" + BLOCK + "```\n"
    assert parse_edits(text) == [Edit("src/app.py", "old\n", "new\n")]


def test_fenced_without_language_path_inside_the_fence() -> None:
    text = "```\nsrc/app.py\n" + BLOCK + "```\n"
    assert parse_edits(text) == [Edit("src/app.py", "old\n", "new\n")]


def test_path_as_the_fence_info_string() -> None:
    assert parse_edits("```src/app.py\n" + BLOCK + "```\n") == [Edit("src/app.py", "old\n", "new\n")]


@pytest.mark.parametrize("line", [
    "`src/app.py`",
    "**src/app.py**",
    "**`src/app.py`**",
    "File: src/app.py",
    "**File:** `src/app.py`",
    "Filename: src/app.py",
    "# src/app.py",
    "### `src/app.py`",
    "src/app.py:",
    "  src/app.py  ",
    "Edit `src/app.py`:",
])
def test_path_decorations(line: str) -> None:
    assert [e.path for e in parse_edits(f"{line}\n```python\n{BLOCK}```\n")] == ["src/app.py"]


def test_crlf_trailing_whitespace_and_marker_lengths() -> None:
    text = "a.py\r\n<<<<< SEARCH  \r\nold\r\n=========\t\r\nnew\r\n>>>>>>>>> REPLACE \r\n"
    assert parse_edits(text) == [Edit("a.py", "old\n", "new\n")]


def test_several_blocks_one_path_prose_between_and_two_files() -> None:
    text = (
        "First:\n\na.py\n```python\n<<<<<<< SEARCH\none\n=======\n1\n>>>>>>> REPLACE\n```\n\n"
        "```python\n<<<<<<< SEARCH\ntwo\n=======\n2\n>>>>>>> REPLACE\n```\n\n"
        "And now the other file, which needs care.\n\n"
        "b.py\n```python\n<<<<<<< SEARCH\nthree\n=======\n3\n>>>>>>> REPLACE\n```\n"
    )
    assert parse_edits(text) == [Edit("a.py", "one\n", "1\n"), Edit("a.py", "two\n", "2\n"),
                                 Edit("b.py", "three\n", "3\n")]


def test_empty_search_creates_and_empty_replace_deletes() -> None:
    text = "new.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n" \
           "old.py\n<<<<<<< SEARCH\ngone\n=======\n>>>>>>> REPLACE\n"
    assert parse_edits(text) == [Edit("new.py", "", "x = 1\n"), Edit("old.py", "gone\n", "")]


def test_blank_lines_inside_sections_are_kept() -> None:
    text = "a.py\n<<<<<<< SEARCH\nx\n\ny\n=======\nx\n\n\ny\n>>>>>>> REPLACE\n"
    assert parse_edits(text) == [Edit("a.py", "x\n\ny\n", "x\n\n\ny\n")]


def test_a_heading_underline_on_both_sides_does_not_split_the_block() -> None:
    text = "doc.rst\n<<<<<<< SEARCH\nTitle\n=======\nold\n=======\nTitle\n=======\nnew\n>>>>>>> REPLACE\n"
    assert parse_edits(text) == [Edit("doc.rst", "Title\n=======\nold\n", "Title\n=======\nnew\n")]


@pytest.mark.parametrize(("text", "words"), [
    ("a.py\n<<<<<<< SEARCH\nold\n=======\nnew\n", ["unterminated", "a.py", "REPLACE"]),
    ("a.py\n<<<<<<< SEARCH\nold\n=======\nnew\nb.py\n" + BLOCK, ["unterminated", "line 7"]),
    ("Some prose.\n\n" + BLOCK, ["no file path", "line 3"]),
    (BLOCK, ["no file path", "line 1"]),
    ("a.py\n<<<<<<< SEARCH\nold\nnew\n>>>>>>> REPLACE\n", ["=======", "a.py"]),
    ("a.py\nold\n=======\nnew\n>>>>>>> REPLACE\n", ["SEARCH", "line 5"]),
])
def test_malformed_input_says_what_to_fix(text: str, words: list[str]) -> None:
    with pytest.raises(EditFormatError) as info:
        parse_edits(text)
    for word in words:
        assert word in str(info.value)


# ------------------------------------------------------------------------------------------------ applying


def write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def test_exact_match(tmp_path: Path) -> None:
    f = write(tmp_path, "a.py", "def f():\n    return 1\n\nprint(f())\n")
    report = apply_edits(tmp_path, [Edit("a.py", "    return 1\n", "    return 2\n")])
    assert not report.failed
    assert [(a.path, a.created, a.fuzzy) for a in report.applied] == [("a.py", False, False)]
    assert f.read_bytes() == b"def f():\n    return 2\n\nprint(f())\n"


def test_trailing_whitespace_is_tolerated_and_marked_fuzzy(tmp_path: Path) -> None:
    f = write(tmp_path, "a.py", "x = 1   \ny = 2\n")
    report = apply_edits(tmp_path, [Edit("a.py", "x = 1\ny = 2  \n", "x = 10\ny = 20\n")])
    assert report.applied[0].fuzzy and not report.failed
    assert f.read_bytes() == b"x = 10\ny = 20\n"


def test_indentation_shift_reindents_the_replacement(tmp_path: Path) -> None:
    f = write(tmp_path, "a.py", "class A:\n    def f(self):\n        if x:\n            return 1\n")
    edit = Edit("a.py", "def f(self):\n    if x:\n        return 1\n",
                "def f(self):\n    if x:\n        return 2\n    return 0\n")
    report = apply_edits(tmp_path, [edit])
    assert report.applied[0].fuzzy
    assert f.read_text() == "class A:\n    def f(self):\n        if x:\n            return 2\n        return 0\n"


def test_indentation_shift_the_other_way(tmp_path: Path) -> None:
    f = write(tmp_path, "a.py", "def f():\n    pass\n")
    report = apply_edits(tmp_path, [Edit("a.py", "    def f():\n        pass\n", "    def g():\n        pass\n")])
    assert report.applied[0].fuzzy
    assert f.read_text() == "def g():\n    pass\n"


def test_ambiguous_search_fails_and_changes_nothing(tmp_path: Path) -> None:
    f = write(tmp_path, "a.py", "x = 1\ny = 0\nx = 1\n")
    report = apply_edits(tmp_path, [Edit("a.py", "x = 1\n", "x = 2\n")])
    assert not report.applied
    assert report.failed[0].kind == "ambiguous"
    assert "2 times" in report.failed[0].message and "1, 3" in report.failed[0].message
    assert f.read_bytes() == b"x = 1\ny = 0\nx = 1\n"


def test_no_match_fails_and_feedback_quotes_the_closest_lines(tmp_path: Path) -> None:
    body = "".join(f"line {i}\n" for i in range(20)) + "def total(items):\n    return sum(items)\n"
    f = write(tmp_path, "a.py", body)
    edit = Edit("a.py", "def total(item):\n    return sum(item)\n", "def total(items):\n    return 0\n")
    report = apply_edits(tmp_path, [edit])
    assert report.failed[0].kind == "no_match"
    assert f.read_text() == body
    feedback = failure_feedback(report, tmp_path)
    assert "a.py: no_match" in feedback
    assert "lines 21-22" in feedback
    assert "```\ndef total(items):\n    return sum(items)\n```" in feedback


def test_missing_file(tmp_path: Path) -> None:
    report = apply_edits(tmp_path, [Edit("nope.py", "x\n", "y\n")])
    assert report.failed[0].kind == "missing"
    assert "empty" in report.failed[0].message
    assert not (tmp_path / "nope.py").exists()


def test_create_with_parent_folders(tmp_path: Path) -> None:
    report = apply_edits(tmp_path, [Edit("./pkg\\sub/new.py", "", "x = 1\n")])
    assert [(a.path, a.created) for a in report.applied] == [("pkg/sub/new.py", True)]
    assert (tmp_path / "pkg" / "sub" / "new.py").read_bytes() == b"x = 1\n"
    assert sorted(p.name for p in (tmp_path / "pkg" / "sub").iterdir()) == ["new.py"]  # no temp file left


def test_create_then_edit_in_one_answer(tmp_path: Path) -> None:
    report = apply_edits(tmp_path, [Edit("n.py", "", "a = 1\nb = 2\n"), Edit("n.py", "b = 2\n", "b = 3\n")])
    assert [(a.created, a.fuzzy) for a in report.applied] == [(True, False), (False, False)]
    assert (tmp_path / "n.py").read_text() == "a = 1\nb = 3\n"


def test_empty_search_on_an_existing_file(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "keep = 1\n")
    write(tmp_path, "empty.py", "")
    report = apply_edits(tmp_path, [
        Edit("a.py", "", "other = 2\n"),  # would clobber or duplicate: refused
        Edit("a.py", "", "keep = 1\n"),  # the same content again: nothing to do
        Edit("empty.py", "", "filled = 1\n"),
    ])
    assert [f.kind for f in report.failed] == ["no_match"]
    assert "already exists" in report.failed[0].message
    assert [a.path for a in report.applied] == ["a.py", "empty.py"]
    assert (tmp_path / "a.py").read_text() == "keep = 1\n"
    assert (tmp_path / "empty.py").read_text() == "filled = 1\n"


def test_edits_apply_in_order_and_a_failure_does_not_stop_the_rest(tmp_path: Path) -> None:
    f = write(tmp_path, "a.py", "a\nb\nc\n")
    report = apply_edits(tmp_path, [
        Edit("a.py", "a\n", "A\n"),
        Edit("a.py", "a\n", "never\n"),  # the first edit changed it
        Edit("a.py", "A\nb\n", "A\nB\n"),  # sees the first edit's result
    ])
    assert [f.edit.replace for f in report.failed] == ["never\n"]
    assert len(report.applied) == 2
    assert f.read_bytes() == b"A\nB\nc\n"
    assert "do not send them again" in failure_feedback(report, tmp_path)


def test_crlf_and_missing_final_newline_are_preserved(tmp_path: Path) -> None:
    f = write(tmp_path, "w.txt", b"one\r\ntwo\r\nthree")
    report = apply_edits(tmp_path, [Edit("w.txt", "two\nthree\n", "2\n3\n4\n")])
    assert not report.failed and not report.applied[0].fuzzy
    assert f.read_bytes() == b"one\r\n2\r\n3\r\n4"


def test_byte_order_mark_and_file_mode_are_kept(tmp_path: Path) -> None:
    f = write(tmp_path, "run.sh", "\ufeffecho hi\n".encode())
    f.chmod(0o755)
    report = apply_edits(tmp_path, [Edit("run.sh", "echo hi\n", "echo bye\n")])
    assert not report.failed
    assert f.read_bytes() == "\ufeffecho bye\n".encode()
    assert stat.S_IMODE(f.stat().st_mode) == 0o755


def test_delete_every_line(tmp_path: Path) -> None:
    f = write(tmp_path, "a.py", "x\n")
    apply_edits(tmp_path, [Edit("a.py", "x\n", "")])
    assert f.read_bytes() == b""


# ------------------------------------------------------------------------------------------------ safety


@pytest.mark.parametrize("rel", [
    "", "   ", ".", "/etc/passwd", "\\\\server\\share\\x", "C:\\x.py", "c:/x.py",
    "../x.py", "a/../../x.py", "a\\..\\x.py",
    ".git/config", "sub/.git/hooks/pre-commit", ".GIT/config", "a\\.git\\x",
])
def test_refused_paths(tmp_path: Path, rel: str) -> None:
    (tmp_path / ".git").mkdir()
    with pytest.raises(UnsafePath) as info:
        check_path(tmp_path, rel)
    assert str(info.value) == f"{rel}: {info.value.reason}"
    report = apply_edits(tmp_path, [Edit(rel, "", "x\n")])
    assert report.failed[0].kind == "refused"
    assert not (tmp_path / ".git" / "config").exists()


def test_normalised_paths(tmp_path: Path) -> None:
    assert check_path(tmp_path, "./a\\b.py") == Path(os.path.realpath(tmp_path)) / "a" / "b.py"


def test_symlinked_folder_pointing_outside_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "x.py").write_text("old\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match="outside"):
        check_path(root, "link/x.py")
    report = apply_edits(root, [Edit("link/x.py", "old\n", "new\n"), Edit("link/y.py", "", "new\n")])
    assert [f.kind for f in report.failed] == ["refused", "refused"]
    assert (outside / "x.py").read_text() == "old\n"
    assert not (outside / "y.py").exists()


def test_symlinked_folder_inside_is_allowed_but_not_into_git(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "sneaky").symlink_to(tmp_path / ".git", target_is_directory=True)
    assert check_path(tmp_path, "alias/x.py").name == "x.py"
    with pytest.raises(UnsafePath, match=".git"):
        check_path(tmp_path, "sneaky/config")


def test_symlink_file_is_refused_even_inside(tmp_path: Path) -> None:
    write(tmp_path, "real.py", "old\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    (tmp_path / "out.py").symlink_to("/etc/hostname")
    for rel in ("link.py", "out.py"):
        with pytest.raises(UnsafePath, match="symlink"):
            check_path(tmp_path, rel)
    report = apply_edits(tmp_path, [Edit("link.py", "old\n", "new\n")])
    assert report.failed[0].kind == "refused"
    assert (tmp_path / "real.py").read_text() == "old\n"
    assert (tmp_path / "link.py").is_symlink()


def test_folder_and_file_as_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    write(tmp_path, "f.py", "x\n")
    with pytest.raises(UnsafePath, match="folder"):
        check_path(tmp_path, "pkg")
    with pytest.raises(UnsafePath, match="not a folder"):
        check_path(tmp_path, "f.py/x.py")


@pytest.mark.parametrize("data", [b"PNG\x00\x01\x02", b"caf\xe9\n"])
def test_binary_files_are_refused(tmp_path: Path, data: bytes) -> None:
    f = write(tmp_path, "blob.dat", data)
    assert is_binary(f)
    with pytest.raises(BinaryFile):
        check_path(tmp_path, "blob.dat")
    report = apply_edits(tmp_path, [Edit("blob.dat", "caf", "x")])
    assert report.failed[0].kind == "binary"
    assert f.read_bytes() == data


def test_text_is_not_binary(tmp_path: Path) -> None:
    assert not is_binary(write(tmp_path, "t.txt", "héllo\n"))


def test_closest_lines_finds_the_most_similar_window() -> None:
    lines = ["import os", "", "def area(w, h):", "    return w * h", "", "def other():", "    pass"]
    start, ratio = closest_lines(lines, ["def area(width, h):", "    return width * h"])
    assert start == 2 and ratio > 0.7
    assert closest_lines([], ["x"]) == (0, 0.0)


def test_a_block_cut_in_its_replace_is_closed_and_one_cut_before_is_dropped() -> None:
    from moot.agents.edits import close_cut_block

    done = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    assert close_cut_block(done) == done
    cut = "Adding y.\n\na.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 1\ny = 2\nz ="
    assert parse_edits(close_cut_block(cut)) == [Edit("a.py", "x = 1\n", "x = 1\ny = 2\n")]
    early = done + "\nb.py\n<<<<<<< SEARCH\ndef f("
    assert parse_edits(close_cut_block(early)) == [Edit("a.py", "x = 1\n", "x = 2\n")]
    assert parse_edits(close_cut_block("b.py\n<<<<<<< SEARCH\n")) == []

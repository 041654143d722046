"""The review diff: real ``git diff`` output parsed into files and hunks, patches of chosen hunks, and the
side-by-side rows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from moot.agents.hunks import FileDiff, Hunk, Row, diff_between, parse_diff, patch_text, run_git, side_by_side

MOD_BASE = "".join(f"line {i}\n" for i in range(1, 31))
MOD_HEAD = MOD_BASE.replace("line 3\n", "line three\n").replace("line 25\n", "line 25\nextra a\nextra b\n")
RENAMED = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(10))


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, check=True)
    return out.stdout.decode()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository on ``main`` with a commit per side, tagged ``base`` and ``head``."""
    for var, value in {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
                       "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
                       "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(tmp_path / "no-gitconfig")}.items():
        monkeypatch.setenv(var, value)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {
        "mod.py": MOD_BASE, "gone.txt": "bye\n", "old_name.py": RENAMED, "one.txt": "one\n",
        "nonl.txt": "first\nlast", "with space.txt": "a\n", "café.txt": "x\n",
    }
    for rel, text in files.items():
        (root / rel).write_text(text)
    (root / "img.bin").write_bytes(b"\x89PNG\x00\x01\x02")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    (root / "mod.py").write_text(MOD_HEAD)
    (root / "gone.txt").unlink()
    (root / "new.txt").write_text("hello\nworld\n")
    (root / "old_name.py").rename(root / "new_name.py")
    (root / "new_name.py").write_text(RENAMED.replace("return 9", "return 99"))
    (root / "one.txt").write_text("uno\n")
    (root / "nonl.txt").write_text("first\nLAST")
    (root / "with space.txt").write_text("b\n")
    (root / "café.txt").write_text("y\n")
    (root / "img.bin").write_bytes(b"\x89PNG\x00\x03\x04")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "head")
    git(root, "tag", "head")
    return root


def by_path(files: list[FileDiff]) -> dict[str, FileDiff]:
    return {f.path: f for f in files}


def apply_on_base(repo: Path, patch: str) -> None:
    """Check out ``base`` (detached) and apply ``patch`` to the working tree and index."""
    git(repo, "checkout", "-q", "--detach", "base")
    git(repo, "apply", "--index", "-", input=patch.encode("utf-8", "surrogateescape"))


def test_parse_real_diff_with_renames(repo: Path) -> None:
    files = by_path(diff_between(repo, "base", "head"))
    assert sorted(files) == sorted(["mod.py", "gone.txt", "new.txt", "new_name.py", "one.txt", "nonl.txt",
                                    "with space.txt", "café.txt", "img.bin"])
    assert [(files[p].status, files[p].old_path) for p in ("mod.py", "gone.txt", "new.txt", "new_name.py")] == [
        ("modified", "mod.py"), ("deleted", "gone.txt"), ("added", "new.txt"), ("renamed", "old_name.py")]
    mod = files["mod.py"]
    assert [(h.old_start, h.old_len, h.new_start, h.new_len) for h in mod.hunks] == [(1, 6, 1, 6), (23, 6, 23, 8)]
    assert (mod.added, mod.removed) == (3, 1)
    assert mod.hunks[1].lines == [" line 23", " line 24", " line 25", "+extra a", "+extra b",
                                  " line 26", " line 27", " line 28"]
    assert mod.header_lines[0] == "diff --git a/mod.py b/mod.py"
    assert mod.header_lines[-2:] == ["--- a/mod.py", "+++ b/mod.py"]
    assert (files["gone.txt"].added, files["gone.txt"].removed) == (0, 1)
    assert (files["new.txt"].added, files["new.txt"].removed) == (2, 0)
    assert (files["new_name.py"].added, files["new_name.py"].removed) == (1, 1)
    assert files["img.bin"].binary and not files["img.bin"].hunks and files["img.bin"].status == "modified"
    assert not files["mod.py"].binary
    assert files["with space.txt"].old_path == "with space.txt"


def test_omitted_lengths_and_no_newline_at_end(repo: Path) -> None:
    files = by_path(diff_between(repo, "base", "head"))
    one = files["one.txt"].hunks
    assert [(h.old_start, h.old_len, h.new_start, h.new_len) for h in one] == [(1, 1, 1, 1)]
    nonl = files["nonl.txt"].hunks[0]
    assert nonl.lines == [" first", "-last", "\\ No newline at end of file", "+LAST",
                          "\\ No newline at end of file"]
    assert (files["nonl.txt"].added, files["nonl.txt"].removed) == (1, 1)


def test_parse_without_renames(repo: Path) -> None:
    text = run_git(repo, "diff", "--no-color", "--no-renames", "-U3", "base", "head")
    files = by_path(parse_diff(text))
    assert files["old_name.py"].status == "deleted" and files["new_name.py"].status == "added"
    assert files["old_name.py"].removed == RENAMED.count("\n")
    assert "Binary files a/img.bin and b/img.bin differ" in files["img.bin"].header_lines
    assert files["img.bin"].binary


def test_quoted_paths_are_unquoted(repo: Path) -> None:
    text = run_git(repo, "-c", "core.quotepath=true", "diff", "--no-color", "base", "head", "--", "café.txt")
    assert '"a/caf\\303\\251.txt"' in text
    [f] = parse_diff(text)
    assert (f.path, f.old_path, f.status) == ("café.txt", "café.txt", "modified")


def test_pure_rename_has_no_hunks_and_applies_whole(repo: Path) -> None:
    git(repo, "mv", "one.txt", "uno.txt")
    git(repo, "commit", "-q", "-m", "rename only")
    [f] = diff_between(repo, "head", "HEAD")
    assert (f.path, f.old_path, f.status, f.hunks) == ("uno.txt", "one.txt", "renamed", [])
    assert patch_text([f], {"uno.txt": set()}) == ""
    patch = patch_text([f], {"uno.txt": None})
    assert "rename from one.txt" in patch
    git(repo, "checkout", "-q", "--detach", "head")
    git(repo, "apply", "--index", "-", input=patch.encode())
    assert (repo / "uno.txt").read_text() == "uno\n" and not (repo / "one.txt").exists()


@pytest.mark.parametrize(("chosen", "expected"), [
    ({0}, MOD_BASE.replace("line 3\n", "line three\n")),
    ({1}, MOD_BASE.replace("line 25\n", "line 25\nextra a\nextra b\n")),
    ({0, 1}, MOD_HEAD),
    (None, MOD_HEAD),
])
def test_selected_hunks_apply_exactly(repo: Path, chosen: set[int] | None, expected: str) -> None:
    files = diff_between(repo, "base", "head")
    patch = patch_text(files, {"mod.py": chosen})
    assert patch.count("diff --git") == 1
    apply_on_base(repo, patch)
    assert (repo / "mod.py").read_bytes() == expected.encode()
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == "M  mod.py\n"


def test_later_hunk_alone_gets_moved_line_numbers() -> None:
    text = (
        "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n"
        "@@ -1,2 +1,4 @@\n a\n+n1\n+n2\n b\n"
        "@@ -10,3 +12,2 @@ def g():\n c\n-d\n e\n"
    )
    files = parse_diff(text)
    assert files[0].hunks[1].section == "def g():"
    patch = patch_text(files, {"f": {1}})
    assert "@@ -1,2" not in patch
    assert "@@ -10,3 +10,2 @@ def g():\n c\n-d\n e\n" in patch


def test_whole_files_apply_and_leave_out_the_rest(repo: Path) -> None:
    files = diff_between(repo, "base", "head")
    chosen: dict[str, set[int] | None] = {
        "gone.txt": None, "new.txt": {0}, "new_name.py": None, "img.bin": None, "nonl.txt": None,
        "with space.txt": None, "café.txt": None,
    }
    apply_on_base(repo, patch_text(files, chosen))
    assert not (repo / "gone.txt").exists()
    assert (repo / "new.txt").read_bytes() == b"hello\nworld\n"
    assert not (repo / "old_name.py").exists()
    assert (repo / "new_name.py").read_text() == RENAMED.replace("return 9", "return 99")
    assert (repo / "img.bin").read_bytes() == b"\x89PNG\x00\x03\x04"
    assert (repo / "nonl.txt").read_bytes() == b"first\nLAST"
    assert (repo / "with space.txt").read_text() == "b\n"
    assert (repo / "café.txt").read_text() == "y\n"
    assert (repo / "mod.py").read_text() == MOD_BASE  # not chosen
    assert (repo / "one.txt").read_text() == "one\n"  # not chosen


def test_nothing_chosen_gives_an_empty_patch(repo: Path) -> None:
    files = diff_between(repo, "base", "head")
    assert patch_text(files, {}) == ""
    assert patch_text(files, {"mod.py": set()}) == ""


def test_impossible_selections_are_refused(repo: Path) -> None:
    files = diff_between(repo, "base", "head")
    with pytest.raises(ValueError, match="no hunk 5"):
        patch_text(files, {"mod.py": {5}})
    two = [FileDiff("n", "n", "added", hunks=[Hunk(0, 0, 1, 1, "", ["+a"]), Hunk(0, 0, 5, 1, "", ["+b"])],
                    header_lines=["diff --git a/n b/n", "new file mode 100644", "--- /dev/null", "+++ b/n"])]
    with pytest.raises(ValueError, match="whole file"):
        patch_text(two, {"n": {1}})
    assert patch_text(two, {"n": {0, 1}}).count("@@") == 4


def test_side_by_side_pairs_runs() -> None:
    hunk = Hunk(10, 5, 10, 6, "", [" keep", "-old 1", "-old 2", "+new 1", "+new 2", "+new 3", " mid",
                                   "-gone", " end", "\\ No newline at end of file"])
    assert side_by_side(hunk) == [
        Row(10, "keep", 10, "keep", "same"),
        Row(11, "old 1", 11, "new 1", "changed"),
        Row(12, "old 2", 12, "new 2", "changed"),
        Row(None, "", 13, "new 3", "added"),
        Row(13, "mid", 14, "mid", "same"),
        Row(14, "gone", None, "", "removed"),
        Row(15, "end", 15, "end", "same"),
    ]


def test_side_by_side_of_a_real_hunk(repo: Path) -> None:
    mod = by_path(diff_between(repo, "base", "head"))["mod.py"]
    rows = side_by_side(mod.hunks[0])
    assert [r.kind for r in rows] == ["same", "same", "changed", "same", "same", "same"]
    assert rows[2] == Row(3, "line 3", 3, "line three", "changed")
    added = [r for r in side_by_side(mod.hunks[1]) if r.kind == "added"]
    assert added == [Row(None, "", 26, "extra a", "added"), Row(None, "", 27, "extra b", "added")]


def test_cut_short_hunk_is_an_error() -> None:
    with pytest.raises(ValueError, match="cut short"):
        parse_diff("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n")

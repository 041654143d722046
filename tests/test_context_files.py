"""Which files the context manager reads: git's list (or a walk), less ignored, binary, huge, vendored,
minified and lock files and symlinks that leave the repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from moot.context.files import list_files, skipped_by_path, sniff_head

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=repo,
                   check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def write(root: Path, rel: str, data: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git work tree."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    return root


def rels(root: Path, **kwargs: int) -> list[str]:
    return [f.rel for f in list_files(root, **kwargs)]


def test_git_lists_tracked_and_untracked_but_not_ignored(repo: Path) -> None:
    write(repo, ".gitignore", "*.log\nsecret/\n")
    write(repo, "src/app.py")
    write(repo, "README.md", "# Hi\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    write(repo, "src/new.py")  # untracked, not ignored
    write(repo, "debug.log", "noise\n")
    write(repo, "secret/key.py")
    write(repo, "naïve name.py")  # quoted by git unless -z
    assert rels(repo) == [".gitignore", "README.md", "naïve name.py", "src/app.py", "src/new.py"]
    found = {f.rel: f for f in list_files(repo)}
    app = found["src/app.py"]
    assert app.path == repo / "src" / "app.py" and app.size == 6
    assert app.mtime_ns == os.stat(app.path).st_mtime_ns


def test_deleted_tracked_files_and_submodules_are_left_out(repo: Path) -> None:
    write(repo, "keep.py")
    write(repo, "gone.py")
    inner = repo / "sub"
    inner.mkdir()
    git(inner, "init", "-q")
    write(inner, "inner.py")
    git(inner, "add", ".")
    git(inner, "commit", "-qm", "inner")
    git(repo, "add", "keep.py", "gone.py", "sub")  # sub becomes a gitlink, like a submodule
    git(repo, "commit", "-qm", "init")
    (repo / "gone.py").unlink()
    assert rels(repo) == ["keep.py"]


def test_binary_huge_minified_and_lock_files_are_skipped(repo: Path) -> None:
    write(repo, "ok.py")
    write(repo, "blob.dat", b"abc\0def")
    write(repo, "logo.png", "not really a png, but the extension says binary")
    write(repo, "model.gguf", "weights")
    write(repo, "big.py", "x = 1\n" * 200_000)  # 1.2 MB
    write(repo, "app.min.js", "var a=1;\n")
    write(repo, "bundle.js", "var a=1;" * 2000)  # one 16 KB line
    write(repo, "poetry.lock", "[[package]]\n")
    write(repo, "web/package-lock.json", "{}\n")
    assert rels(repo) == ["ok.py"]
    assert "big.py" in rels(repo, max_bytes=2_000_000)


def test_vendored_and_generated_folders_are_skipped_anywhere(repo: Path) -> None:
    write(repo, "src/main.rs", "fn main() {}\n")
    for rel in ("node_modules/lib/index.js", "web/node_modules/x.js", "dist/app.js", "build/out.py",
                "target/debug/gen.rs", ".venv/lib/site.py", "pkg/__pycache__/m.py", "vendor/dep.go",
                "third_party/x.c", "lib/site-packages/m.py", ".mypy_cache/x.json", "coverage/index.html"):
        write(repo, rel)
    assert rels(repo) == ["src/main.rs"]


def test_symlinks_inside_are_kept_and_those_leaving_the_root_are_not(repo: Path, tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/secret.py", "TOKEN = 1\n")
    write(repo, "real.py")
    (repo / "alias.py").symlink_to("real.py")
    (repo / "escape.py").symlink_to(outside)
    (repo / "sneaky.py").symlink_to("../outside/secret.py")
    (repo / "dangling.py").symlink_to("missing.py")
    (repo / "folder_link").symlink_to(tmp_path / "outside", target_is_directory=True)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "links")
    found = {f.rel: f for f in list_files(repo)}
    assert sorted(found) == ["alias.py", "real.py"]
    assert found["alias.py"].size == (repo / "real.py").stat().st_size


def test_a_plain_folder_is_walked_with_the_same_rules(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, "a.py")
    write(root, "docs/guide.md", "# Guide\n")
    write(root, "node_modules/x.js")
    write(root, "__pycache__/a.cpython-311.pyc", b"\0\0")
    write(root, "data.bin", b"\0\1\2")
    write(root, "raw.dat", b"\0\1\2")
    write(tmp_path, "elsewhere.py")
    (root / "out.py").symlink_to(tmp_path / "elsewhere.py")
    (root / "in.py").symlink_to("a.py")
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert rels(root) == ["a.py", "docs/guide.md", "in.py"]


def test_a_folder_ignored_by_an_enclosing_repository_is_walked(repo: Path) -> None:
    write(repo, ".gitignore", "/versions\n")
    write(repo, "versions/lib/mod.py")
    assert rels(repo / "versions") == ["lib/mod.py"]


def test_a_subfolder_of_a_repository_lists_only_its_files(repo: Path) -> None:
    write(repo, "top.py")
    write(repo, "pkg/mod.py")
    write(repo, "pkg/deep/x.py")
    assert rels(repo / "pkg") == ["deep/x.py", "mod.py"]


def test_sniff_without_reading_leaves_content_checks_to_the_caller(repo: Path) -> None:
    write(repo, "blob.dat", b"abc\0def")
    assert [f.rel for f in list_files(repo, sniff=False)] == ["blob.dat"]
    assert sniff_head(b"abc\0def") == "binary"
    assert sniff_head(b"x" * 5000) == "minified"
    assert sniff_head(b"short line\n" * 1000) is None
    assert sniff_head(b"x" * 900) is None


@pytest.mark.parametrize(("rel", "skipped"), [
    ("src/a.py", False), ("Cargo.lock", True), ("a/node_modules/b.js", True), ("x.min.css", True),
    ("pic.JPG", True), ("dist.py", False), ("build.gradle", False), (".gitignore", False),
])
def test_path_rules(rel: str, skipped: bool) -> None:
    assert skipped_by_path(rel) is skipped


def test_git_lists_only_where_git_decides(repo: Path, tmp_path: Path) -> None:
    from moot.context.files import git_lists

    write(repo, ".gitignore", "/ignored\n")
    write(repo, "ignored/x.py")
    write(repo, "pkg/y.py")
    (tmp_path / "plain").mkdir()
    assert git_lists(repo) and git_lists(repo / "pkg")
    assert not git_lists(repo / "ignored") and not git_lists(tmp_path / "plain")

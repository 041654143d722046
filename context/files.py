"""Which files of a repository moot may read: the repository's own list, less what no model should see.

In a git work tree the list is one ``git ls-files -z --cached --others --exclude-standard`` call (tracked
plus untracked-not-ignored; ``-z`` makes ``core.quotepath`` irrelevant); submodules and tracked files that
were deleted drop out because they are not regular files. Outside git (or when the folder is itself ignored
by an enclosing repository) the folder is walked with ``os.scandir``, skipping the same folders; no
``.gitignore`` is read then.

Skipped everywhere: generated/vendored folders anywhere in the path (:data:`SKIP_DIRS`), lock files,
minified ``*.min.js``/``*.min.css``, known binary extensions, files over ``max_bytes``, symlinks whose target
lies outside the root (links inside are kept), anything that is not a regular file, and files whose names a
cloned repository could use against moot (:func:`safe_name`: not UTF-8, control or bidirectional characters).
Such names could not be stored, sent or printed safely, and a model could not name them in an edit; they are
counted on the returned :class:`~moot.context.index.Listing` and noted once as a warning, one name escaped.

The content sniff (a NUL byte, or lines over ~1000 characters on average, in the first 8 KiB) needs a read.
``list_files`` does it by default; :func:`moot.context.cache.build_index` asks for ``sniff=False`` and runs
:func:`sniff_head` on the bytes it reads for parsing anyway, remembering the verdict in its cache, so a warm
rebuild opens no file at all and a cold one reads each file once.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from moot.context.encoding import bom_encoding

from .index import Listing, RepoFile

log = logging.getLogger(__name__)

#: Folders never entered, wherever they appear in a path.
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", "dist", "build", ".venv", "venv",
    "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages", "target",
    ".next", "coverage", ".eggs", ".hypothesis",
})

#: Lock files: large, generated, useless to a model.
LOCK_FILES = frozenset({
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Cargo.lock", "uv.lock",
    "Gemfile.lock", "composer.lock", "Pipfile.lock", "go.sum", "bun.lockb",
})

#: Extensions (lower case, no dot) of files that are binary whatever their first bytes say.
BINARY_EXTENSIONS = frozenset({
    # images and media
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "tif", "tiff", "webp", "psd", "heic", "avif",
    "mp3", "mp4", "m4a", "wav", "ogg", "flac", "aiff", "aif", "au", "avi", "mov", "mkv", "webm",
    # archives and packages
    "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "jar", "war", "whl", "egg", "deb", "rpm",
    "dmg", "iso", "apk",
    # fonts and documents
    "ttf", "otf", "woff", "woff2", "eot", "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
    # compiled code and objects
    "pyc", "pyo", "pyd", "so", "dylib", "dll", "exe", "o", "a", "lib", "obj", "class", "wasm", "bin",
    # data and model weights
    "gguf", "ggml", "safetensors", "pt", "pth", "onnx", "npy", "npz", "pkl", "pickle", "parquet",
    "sqlite", "sqlite3", "db", "mo",
})

#: How much of a file the content sniff reads.
HEAD_BYTES = 8192
#: Average line length (in the sniffed head) above which a file counts as minified.
MAX_AVERAGE_LINE = 1000


#: What a safe name never holds: lone surrogates (bytes that were not UTF-8, kept by ``os.fsdecode``), C0 and C1
#: controls and DEL (a newline would break the edit format, ESC reaches the terminal), bidirectional controls.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: (count, example) already noted in this process, so a run listing the same tree again says it once.
_noted: set[tuple[int, str]] = set()


def safe_name(rel: str) -> bool:
    """Whether a path (as ``os.fsdecode`` gives it) is valid UTF-8 without control or bidirectional characters."""
    return _UNSAFE.search(rel) is None


def safe_names(rels: Iterable[str]) -> set[str]:
    """Those of ``rels`` that :func:`safe_name` accepts."""
    return {rel for rel in rels if safe_name(rel)}


def shown_name(rel: str) -> str:
    """``rel`` with every unsafe character escaped (``caf\\xe9.py`` for the byte 0xE9), safe to print."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
            return f"\\x{code - 0xDC00:02x}"
        if char in _NAMED:
            return _NAMED[char]
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return _UNSAFE.sub(escape, rel)


def skipped_by_path(rel: str) -> bool:
    """Whether the path alone rules a file out: a skipped folder, a lock or minified file, a binary extension."""
    parts = rel.split("/")
    name = parts[-1]
    if name in LOCK_FILES or any(part in SKIP_DIRS for part in parts[:-1]):
        return True
    lower = name.lower()
    if lower.endswith((".min.js", ".min.css")):
        return True
    dot = lower.rfind(".")
    return dot > 0 and lower[dot + 1:] in BINARY_EXTENSIONS


def sniff_head(head: bytes) -> str | None:
    """``"binary"`` or ``"minified"`` judged from a file's first bytes (up to :data:`HEAD_BYTES`), else None."""
    head = head[:HEAD_BYTES]
    if b"\0" in head and bom_encoding(head) is None:  # UTF-16 and UTF-32 text has NULs, and says so first
        return "binary"
    if len(head) > MAX_AVERAGE_LINE and len(head) / (head.count(b"\n") + 1) > MAX_AVERAGE_LINE:
        return "minified"
    return None


def why_left_out(root: Path, rel: str, max_bytes: int = 1_000_000) -> str:
    """Why ``rel`` (relative to ``root``) is not among the files a model may read, in a few words."""
    path = Path(root) / rel
    if not safe_name(rel):
        return "its name is not UTF-8 or holds control characters"
    if not path.exists() and not path.is_symlink():
        return "there is no such file"
    if path.is_symlink():
        return "it is a symbolic link"
    if path.is_dir():
        return "it is a folder"
    if skipped_by_path(rel):
        return "its name or folder is one moot skips (a lock file, minified, a binary type, or a build folder)"
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"it cannot be read ({e.strerror})"
    if size > max_bytes:
        return f"it is larger than {max_bytes // 1_000_000} MB"
    if (verdict := _sniff_file(path)) is not None:
        return f"it looks {verdict}"
    if (rels := _git_paths(Path(root))) is not None and rel not in rels:
        return "git ignores it"
    return "it is not in the repository's file list"


def list_files(root: Path, *, max_bytes: int = 1_000_000, sniff: bool = True) -> Listing:
    """The files of the repository (or plain folder) at ``root`` a model may read, sorted by ``rel``; the
    list's ``skipped_names`` counts those left out for their names (see :func:`safe_name`).

    Args:
        root: the repository root, or any folder (a subfolder of a repository lists only what is under it).
        max_bytes: larger files are skipped.
        sniff: read each file's first 8 KiB to drop binary and minified files; pass False when the caller
            reads the files anyway and calls :func:`sniff_head` itself (as ``build_index`` does).
    """
    root = Path(os.path.abspath(root))
    rels = _git_paths(root)
    if rels is None:
        rels = list(_walk(str(root), ""))
    base, real_root = str(root), os.path.realpath(root)
    found = Listing()
    bad = [rel for rel in rels if not safe_name(rel)]
    if bad:
        found.skipped_names, found.skipped_example = len(bad), shown_name(min(bad))
        note_skipped(base, found.skipped_names, found.skipped_example)
        rels = [rel for rel in rels if safe_name(rel)]
    for rel in rels:
        if skipped_by_path(rel):
            continue
        entry = _regular_file(base, real_root, rel, max_bytes)
        if entry is not None and not (sniff and _sniff_file(entry.path)):
            found.append(entry)
    found.sort(key=lambda f: f.rel)
    return found


def note_skipped(root: str, count: int, example: str) -> None:
    """Warn (once per count and example in this process) that files under ``root`` were skipped for their
    names."""
    if (count, example) in _noted:  # a run lists the user's tree and its worktree: the same names, one note
        return
    _noted.add((count, example))
    log.warning("moot: skipped %d file%s whose name%s not UTF-8 or hold%s control characters, e.g. %s",
                count, "" if count == 1 else "s", " is" if count == 1 else "s are", "s" if count == 1 else "",
                example)


def _git_paths(root: Path) -> list[str] | None:
    """Tracked plus untracked-not-ignored paths under ``root``, or None when git cannot list them."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, timeout=60, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None  # not a work tree, git refuses (safe.directory), or root is inside .git
    rels = list(dict.fromkeys(os.fsdecode(p) for p in out.stdout.split(b"\0") if p))
    if not rels and _git(root, "check-ignore", "-q", ".") == 0:
        return None  # a folder that an enclosing repository ignores: treat it as a plain folder
    return rels


def git_lists(root: Path) -> bool:
    """Whether git decides which files of ``root`` count: inside a work tree and not ignored by it."""
    return _git(root, "rev-parse", "--is-inside-work-tree") == 0 and _git(root, "check-ignore", "-q", ".") != 0


def _git(root: Path, *args: str) -> int:
    """The exit code of a quiet git command in ``root`` (-1 when git cannot run)."""
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=30).returncode
    except (OSError, subprocess.SubprocessError):
        return -1


def _walk(base: str, prefix: str) -> Iterator[str]:
    """Relative paths of everything but folders under ``base/prefix``; skipped folders and links to folders
    are not entered."""
    try:
        entries = list(os.scandir(os.path.join(base, prefix) if prefix else base))
    except OSError:
        return
    for entry in entries:
        rel = prefix + entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            if entry.name not in SKIP_DIRS:
                yield from _walk(base, rel + "/")
        else:
            yield rel


def _regular_file(base: str, real_root: str, rel: str, max_bytes: int) -> RepoFile | None:
    """A RepoFile for ``rel`` when it is a regular file (or a link to one inside the root) within size."""
    path = os.path.join(base, rel)
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(path)
            if not target.startswith(real_root + os.sep):
                return None
            st = os.stat(target)
    except OSError:
        return None  # deleted since listing, a dangling link, unreadable
    if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
        return None
    return RepoFile(rel, Path(path), st.st_size, st.st_mtime_ns)


def _sniff_file(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return sniff_head(fh.read(HEAD_BYTES))
    except OSError:
        return "unreadable"
